"""Fault injection like a radiation upset: flip random bits of the fp32 weights and measure drift.

>>> import numpy as np
>>> a = np.array([1.0], np.float32)
>>> float(flip_bit(a, 0, 31)[0])  # the sign bit
-1.0
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["flip_bit", "output_drift", "BitflipReport", "bitflip_trials", "flipped_weights"]


def flip_bit(values: np.ndarray, index: int, bit: int) -> np.ndarray:
    """A copy of the float32 array ``values`` with bit ``bit`` (0 = lowest mantissa bit, 31 = sign)
    of element ``index`` (flat) flipped."""
    out = np.array(values, dtype=np.float32, copy=True).reshape(-1)
    view = out.view(np.uint32)
    view[index] ^= np.uint32(1 << bit)
    return out.reshape(np.shape(values))


def output_drift(ref: list[np.ndarray], out: list[np.ndarray]) -> tuple[float, float]:
    """(max absolute difference, relative L2 difference) of all floating-point outputs taken
    together; inf when a shape differs or a value is not finite. Integer outputs (indices, such as
    LightGlue's matches) take part in the shape check only: a task metric compares them.

    >>> output_drift([np.array([3.0, 4.0]), np.array([2, -1])], [np.array([3.0, 4.0]), np.array([5, 7])])
    (0.0, 0.0)
    """
    if len(ref) != len(out) or any(a.shape != b.shape for a, b in zip(ref, out)):
        return float("inf"), float("inf")
    pairs = [(a, b) for a, b in zip(ref, out) if not np.issubdtype(np.asarray(a).dtype, np.integer)]
    if not pairs:
        return 0.0, 0.0
    r = np.concatenate([np.asarray(a, np.float64).ravel() for a, _ in pairs])
    o = np.concatenate([np.asarray(b, np.float64).ravel() for _, b in pairs])
    if not np.all(np.isfinite(o)):
        return float("inf"), float("inf")
    d = o - r
    norm = float(np.linalg.norm(r))
    return float(np.max(np.abs(d))) if d.size else 0.0, float(np.linalg.norm(d) / norm) if norm > 0 else 0.0


@dataclass
class BitflipReport:
    """``trials`` runs with ``bits`` random weight bits flipped each; ``exceeded`` of them drifted
    (relative L2) beyond ``threshold``; ``tolerance`` = the share that stayed within it."""

    bits: int
    trials: int
    threshold: float
    exceeded: int
    drifts: list[float]

    @property
    def tolerance(self) -> float:
        return 1.0 - self.exceeded / self.trials if self.trials else float("nan")


def bitflip_trials(
    module: Any, example: Any, *, bits: int = 1, trials: int = 10, threshold: float = 0.01, seed: int = 0
) -> BitflipReport:
    """Flip ``bits`` uniformly random bits among all fp32 weights of ``module`` (a torch module), run
    the ``example`` input, compare with the clean output, restore; repeat ``trials`` times."""
    import torch

    rng = np.random.default_rng(seed)

    def run() -> list[np.ndarray]:
        with torch.inference_mode():
            out = module(example)
        outs = out if isinstance(out, tuple | list) else (out,)
        return [o.numpy().copy() for o in outs]

    clean = run()
    drifts: list[float] = []
    exceeded = 0
    for _ in range(trials):
        with flipped_weights(module, bits, rng):
            try:
                drift = output_drift(clean, run())[1]
            except Exception:  # a flipped network may raise (non-finite values in a data-dependent step)
                drift = float("inf")
        drifts.append(drift)
        exceeded += not drift <= threshold
    return BitflipReport(bits, trials, threshold, exceeded, drifts)


@contextmanager
def flipped_weights(module: Any, bits: int, rng: np.random.Generator) -> Iterator[list[tuple[str, int, int]]]:
    """Flip ``bits`` uniformly random bits (any of the 32) among all fp32 parameters of ``module``
    (a torch module) inside the ``with`` block, restoring them on the way out; yields what was
    flipped as (parameter name, flat index, bit)."""
    import torch

    named = [(n, p) for n, p in module.named_parameters() if p.dtype == torch.float32]
    sizes = np.array([p.numel() for _, p in named])
    starts = np.concatenate([[0], np.cumsum(sizes)])
    total = int(sizes.sum())
    saved, flipped = [], []
    try:
        with torch.no_grad():
            for flat in rng.integers(0, total, size=bits):
                k = int(np.searchsorted(starts, flat, side="right") - 1)
                name, p = named[k]
                i, bit = int(flat - starts[k]), int(rng.integers(0, 32))
                view = p.data.view(-1)
                saved.append((view, i, view[i].clone()))
                view[i] = float(flip_bit(view[i : i + 1].numpy(), 0, bit)[0])
                flipped.append((name, i, bit))
        yield flipped
    finally:
        with torch.no_grad():
            for view, i, value in reversed(saved):
                view[i] = value
