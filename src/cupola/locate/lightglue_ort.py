"""LightGlue (kornia's module, locate's weights) run in ONNX Runtime, adaptive depth and width kept.

LightGlue's speed on a CPU comes from data-dependent control flow: it stops after the layer where
enough points are confident (``depth_confidence``) and drops the points that will not match
(``width_confidence``) between layers. One exported graph cannot hold that, and a full-depth graph
is ~5x slower than eager PyTorch with it (docs/locate.md). So the network is exported in pieces,
each with free point counts (dynamic axes, no padding):

- ``encode``: the input projection (128 -> 256) and the rotary positional encoding of one image;
- ``layer{i}`` (i = 0..8): transformer layer i (self-attention on each image, cross-attention),
  with, except for the last, the token confidences and the matchability of every point after it;
- ``assign{i}``: the match assignment of layer i (dual softmax with matchability) and the mutual
  check and threshold of kornia's ``filter_matches``: matches and scores of each point.

The loop between them (when to stop, which points to keep, the indices of the points kept) runs
in NumPy exactly as kornia's ``LightGlue._forward`` does for one pair without padding. The 19
graphs (48 MB) are exported into memory, nothing is written to disk, when a matcher is built:
2-4 s of CPU once per process.

The graphs are written from kornia's modules' weights by this module (plain matrix products
instead of ``einsum`` and ``scaled_dot_product_attention``); ``tests/test_onboard_lightglue.py``
checks them against kornia's forward on the same inputs.
"""

from __future__ import annotations

import importlib.util
import io
import warnings
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from cupola.errors import InputError
from cupola.io.native import native_stderr_silenced


def ort_available() -> bool:
    """Whether ONNX Runtime can be imported here."""
    try:
        return importlib.util.find_spec("onnxruntime") is not None
    except (ImportError, ValueError):
        return False


def _modules(glue: Any, fused: bool = True) -> dict[str, Any]:
    """The export wrappers (torch modules) of ``glue``'s pieces, by graph name. ``fused``: each
    attention as ONNX Runtime's ``com.microsoft.MultiHeadAttention`` (its CPU kernel does not hold
    the N x M attention matrix), else as plain matrix products and softmax (any ONNX runtime)."""
    import torch
    from torch import nn

    from cupola.locate.lightglue_fast import head_scale

    heads = int(glue.conf.num_heads)
    n_layers = int(glue.conf.n_layers)
    threshold = float(glue.conf.filter_threshold)

    class FusedAttention(torch.autograd.Function):
        """softmax(q k^T / sqrt(head dim)) v per head on (B, S, heads x head dim) tensors; exported
        as one MultiHeadAttention node (its default scale is the same 1 / sqrt(head dim))."""

        @staticmethod
        def forward(ctx: Any, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
            def split(t: torch.Tensor) -> torch.Tensor:
                return t.unflatten(-1, (heads, -1)).transpose(1, 2)

            out = torch.nn.functional.scaled_dot_product_attention(split(q), split(k), split(v))
            return out.transpose(1, 2).flatten(start_dim=-2)

        @staticmethod
        def symbolic(g: Any, q: Any, k: Any, v: Any) -> Any:
            return g.op("com.microsoft::MultiHeadAttention", q, k, v, num_heads_i=heads)

    def rotary(t: torch.Tensor, enc: torch.Tensor) -> torch.Tensor:
        # kornia's apply_cached_rotary_emb: t * cos + rotate_half(t) * sin
        x = t.unflatten(-1, (-1, 2))
        rot = torch.stack((-x[..., 1], x[..., 0]), dim=-1).flatten(start_dim=-2)
        return t * enc[0] + rot * enc[1]

    def softmax_attn(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        s = torch.matmul(q, k.transpose(-1, -2)) * (q.shape[-1] ** -0.5)
        return torch.matmul(torch.softmax(s, dim=-1), v)

    class Encode(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = glue.input_proj
            self.posenc = glue.posenc

        def forward(self, kpts: torch.Tensor, desc: torch.Tensor):
            return self.proj(desc), self.posenc(kpts)

    class Layer(nn.Module):
        def __init__(self, i: int) -> None:
            super().__init__()
            t = glue.transformers[i]
            self.sa, self.ca = t.self_attn, t.cross_attn
            self.last = i == n_layers - 1
            if not self.last:
                self.token = glue.token_confidence[i].token
                self.matchability = glue.log_assignment[i].matchability

        def self_block(self, x: torch.Tensor, enc: torch.Tensor) -> torch.Tensor:
            sa = self.sa
            qkv = sa.Wqkv(x).unflatten(-1, (heads, -1, 3)).transpose(1, 2)
            q, k, v = qkv[..., 0], qkv[..., 1], qkv[..., 2]
            q, k = rotary(q, enc), rotary(k, enc)
            if fused:
                q, k, v = (t.transpose(1, 2).flatten(start_dim=-2) for t in (q, k, v))
                msg = sa.out_proj(FusedAttention.apply(q, k, v))
            else:
                msg = sa.out_proj(softmax_attn(q, k, v).transpose(1, 2).flatten(start_dim=-2))
            return x + sa.ffn(torch.cat([x, msg], -1))

        def cross_block(self, x0: torch.Tensor, x1: torch.Tensor):
            ca = self.ca
            if fused:  # sim's row softmax is attention 0 -> 1, its column softmax attention 1 -> 0
                qk0, qk1, v0, v1 = ca.to_qk(x0), ca.to_qk(x1), ca.to_v(x0), ca.to_v(x1)
                m0 = ca.to_out(FusedAttention.apply(qk0, qk1, v1))
                m1 = ca.to_out(FusedAttention.apply(qk1, qk0, v0))
                return x0 + ca.ffn(torch.cat([x0, m0], -1)), x1 + ca.ffn(torch.cat([x1, m1], -1))
            qk0, qk1, v0, v1 = (
                t.unflatten(-1, (heads, -1)).transpose(1, 2)
                for t in (ca.to_qk(x0), ca.to_qk(x1), ca.to_v(x0), ca.to_v(x1))
            )
            s = head_scale(ca) ** 0.5
            sim = torch.matmul(qk0 * s, (qk1 * s).transpose(-1, -2))
            m0 = torch.matmul(torch.softmax(sim, dim=-1), v1)
            m1 = torch.matmul(torch.softmax(sim, dim=-2).transpose(-1, -2), v0)
            m0 = ca.to_out(m0.transpose(1, 2).flatten(start_dim=-2))
            m1 = ca.to_out(m1.transpose(1, 2).flatten(start_dim=-2))
            return x0 + ca.ffn(torch.cat([x0, m0], -1)), x1 + ca.ffn(torch.cat([x1, m1], -1))

        def forward(self, d0: torch.Tensor, d1: torch.Tensor, e0: torch.Tensor, e1: torch.Tensor):
            d0, d1 = self.cross_block(self.self_block(d0, e0), self.self_block(d1, e1))
            if self.last:
                return d0, d1
            tok0, tok1 = self.token(d0).squeeze(-1), self.token(d1).squeeze(-1)
            mat0 = torch.sigmoid(self.matchability(d0)).squeeze(-1)
            mat1 = torch.sigmoid(self.matchability(d1)).squeeze(-1)
            return d0, d1, tok0, tok1, mat0, mat1

    class Assign(nn.Module):
        def __init__(self, i: int) -> None:
            super().__init__()
            self.head = glue.log_assignment[i]

        def forward(self, d0: torch.Tensor, d1: torch.Tensor):
            h = self.head
            md0, md1 = h.final_proj(d0), h.final_proj(d1)
            scale = md0.shape[-1] ** -0.25
            sim = torch.matmul(md0 * scale, (md1 * scale).transpose(-1, -2))
            z0, z1 = h.matchability(d0), h.matchability(d1)
            scores = (
                torch.log_softmax(sim, 2)
                + torch.log_softmax(sim, 1)
                + torch.nn.functional.logsigmoid(z0)
                + torch.nn.functional.logsigmoid(z1).transpose(1, 2)
            )
            # kornia's filter_matches on the M x N block
            max0, m0 = scores.max(2)
            max1, m1 = scores.max(1)
            mutual0 = torch.arange(m0.shape[1])[None] == m1.gather(1, m0)
            mutual1 = torch.arange(m1.shape[1])[None] == m0.gather(1, m1)
            zero = torch.zeros((), dtype=scores.dtype)
            ms0 = torch.where(mutual0, max0.exp(), zero)
            ms1 = torch.where(mutual1, ms0.gather(1, m1), zero)
            valid0 = mutual0 & (ms0 > threshold)
            valid1 = mutual1 & valid0.gather(1, m1)
            minus = torch.full((), -1, dtype=m0.dtype)
            return torch.where(valid0, m0, minus), torch.where(valid1, m1, minus), ms0, ms1

    mods: dict[str, Any] = {"encode": Encode()}
    for i in range(n_layers):
        mods[f"layer{i}"] = Layer(i)
        mods[f"assign{i}"] = Assign(i)
    return mods


def export_graphs(glue: Any, fused: bool = True, opset: int = 17) -> dict[str, bytes]:
    """The ONNX graphs (serialized) of ``glue``'s pieces, point counts left free (``fused``: see
    :func:`_modules`)."""
    import torch

    d_in = int(glue.conf.input_dim)
    d = int(glue.conf.descriptor_dim)
    hd = d // int(glue.conf.num_heads)
    g = torch.Generator().manual_seed(0)
    m, n = 7, 5  # example point counts (the axes are free)
    x0, x1 = torch.randn(1, m, d, generator=g), torch.randn(1, n, d, generator=g)
    e0, e1 = torch.randn(2, 1, 1, m, hd, generator=g), torch.randn(2, 1, 1, n, hd, generator=g)
    out: dict[str, bytes] = {}
    for name, mod in _modules(glue, fused).items():
        mod.eval()
        if name == "encode":
            args: tuple = (torch.rand(1, m, 2, generator=g) * 2 - 1, torch.randn(1, m, d_in, generator=g))
            inputs, outputs = ["kpts", "desc"], ["desc_out", "enc"]
            axes = {"kpts": {1: "n"}, "desc": {1: "n"}, "desc_out": {1: "n"}, "enc": {3: "n"}}
        elif name.startswith("layer"):
            args = (x0, x1, e0, e1)
            inputs = ["d0", "d1", "e0", "e1"]
            outputs = ["o0", "o1"] if mod.last else ["o0", "o1", "tok0", "tok1", "mat0", "mat1"]
            axes = {"d0": {1: "m"}, "d1": {1: "n"}, "e0": {3: "m"}, "e1": {3: "n"}, "o0": {1: "m"}, "o1": {1: "n"}}
            axes.update({k: {1: "m" if k.endswith("0") else "n"} for k in outputs[2:]})
        else:
            args = (x0, x1)
            inputs, outputs = ["d0", "d1"], ["m0", "m1", "s0", "s1"]
            axes = {"d0": {1: "m"}, "d1": {1: "n"}, "m0": {1: "m"}, "s0": {1: "m"}, "m1": {1: "n"}, "s1": {1: "n"}}
        buf = io.BytesIO()
        # the tracer's notes on Python-side shape arithmetic (warnings) and the exporter's C++ notes on
        # com.microsoft's fused attention (written to file descriptor 2, a dozen per piece)
        with torch.no_grad(), warnings.catch_warnings(), native_stderr_silenced():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                mod,
                args,
                buf,  # type: ignore[arg-type]  # the TorchScript exporter writes to a file object too
                dynamo=False,
                input_names=inputs,
                output_names=outputs,
                dynamic_axes=axes,
                opset_version=opset,
            )
        out[name] = buf.getvalue()
    return out


def dynamic_int8(graph: bytes) -> bytes:
    """ONNX Runtime dynamic int8 (uint8 weights of the MatMul nodes, activations quantized per call)."""
    import contextlib
    import logging
    import tempfile
    from pathlib import Path

    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
            src, dst = Path(tmp) / "g.onnx", Path(tmp) / "g-int8.onnx"
            src.write_bytes(graph)
            quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)
            return dst.read_bytes()
    finally:
        root.setLevel(level)


class LightGluePieces(ABC):
    """kornia's ``LightGlue._forward`` for one pair without padding, over the pieces of
    :func:`_modules` run by :meth:`_run` (a subclass: ONNX Runtime or PyTorch eager)."""

    def __init__(self, glue: Any) -> None:
        if glue.conf.add_scale_ori or glue.conf.add_laf:
            raise InputError("LightGlue in pieces: only keypoint positions (no scale, orientation, LAF)")
        self.conf = glue.conf
        self.n_layers = int(glue.conf.n_layers)
        self.thresholds = glue.confidence_thresholds.detach().numpy().astype(np.float32)

    @abstractmethod
    def _run(self, name: str, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """The outputs of piece ``name`` on ``feeds`` (ONNX Runtime or PyTorch eager)."""

    def match_features(self, f0: Any, f1: Any) -> tuple[np.ndarray, np.ndarray, int]:
        """:meth:`match` on two :class:`cupola.locate.features.Features`."""
        return self.match(
            f0.keypoints,
            f0.descriptors,
            (f0.shape[1], f0.shape[0]),
            f1.keypoints,
            f1.descriptors,
            (f1.shape[1], f1.shape[0]),
        )

    def match(
        self,
        kpts0: np.ndarray,
        desc0: np.ndarray,
        size0: tuple[int, int],
        kpts1: np.ndarray,
        desc1: np.ndarray,
        size1: tuple[int, int],
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """Matches (K x 2: index in image 0, index in image 1), their scores and the layers run.

        ``kpts``: (N, 2) pixels (x, y); ``desc``: (N, D); ``size``: (width, height)."""
        m, n = len(kpts0), len(kpts1)
        if m == 0 or n == 0:
            return np.zeros((0, 2), np.int64), np.zeros(0, np.float32), 0
        d0, e0 = self._run("encode", {"kpts": _normalized(kpts0, size0)[None], "desc": _f32(desc0)[None]})
        d1, e1 = self._run("encode", {"kpts": _normalized(kpts1, size1)[None], "desc": _f32(desc1)[None]})
        ind0, ind1 = np.arange(m), np.arange(n)
        early = self.conf.depth_confidence > 0
        prune = self.conf.width_confidence > 0
        keep_above = np.float32(1 - self.conf.width_confidence)
        i = 0
        for i in range(self.n_layers):
            outs = self._run(f"layer{i}", {"d0": d0, "d1": d1, "e0": e0, "e1": e1})
            d0, d1 = outs[0], outs[1]
            if i == self.n_layers - 1:
                continue
            tok0, tok1, mat0, mat1 = outs[2][0], outs[3][0], outs[4][0], outs[5][0]
            th = self.thresholds[i]
            if early:
                unconfident = np.float32((tok0 < th).sum() + (tok1 < th).sum())
                if np.float32(1.0) - unconfident / np.float32(m + n) > np.float32(self.conf.depth_confidence):
                    break
            if prune:  # kornia prunes on the CPU whatever the point count (pruning_min_kpts -1)
                k0 = mat0 > keep_above
                k1 = mat1 > keep_above
                if early:  # low-confidence points are never pruned
                    k0 |= tok0 <= th
                    k1 |= tok1 <= th
                k0, k1 = np.flatnonzero(k0), np.flatnonzero(k1)
                ind0, d0, e0 = ind0[k0], d0[:, k0], e0[..., k0, :]
                ind1, d1, e1 = ind1[k1], d1[:, k1], e1[..., k1, :]
        if d0.shape[1] == 0 or d1.shape[1] == 0:
            return np.zeros((0, 2), np.int64), np.zeros(0, np.float32), i + 1
        m0, _, s0, _ = self._run(f"assign{i}", {"d0": np.ascontiguousarray(d0), "d1": np.ascontiguousarray(d1)})
        valid = np.flatnonzero(m0[0] > -1)
        matches = np.stack([ind0[valid], ind1[m0[0][valid]]], -1).astype(np.int64)
        return matches, s0[0][valid].astype(np.float32), i + 1


class OrtLightGlue(LightGluePieces):
    """``glue`` (a kornia ``LightGlue``, in eval mode) run in ONNX Runtime on the CPU.

    ``precision``: ``"fp32"`` or ``"int8"`` (dynamic quantization of the matrix products).
    :meth:`match` takes what kornia's forward takes for one pair and returns its ``matches``
    (K x 2 indices) and ``scores`` (K) as NumPy arrays.
    """

    def __init__(self, glue: Any, threads: int = 1, precision: str = "fp32", graphs: dict[str, bytes] | None = None):
        if not ort_available():
            raise InputError("LightGlue in ONNX Runtime needs onnxruntime (pip install onnxruntime)")
        if precision not in ("fp32", "int8"):
            raise InputError(f"`precision` {precision!r}: expected fp32 or int8")
        super().__init__(glue)
        import onnxruntime as ort

        self.graphs = graphs if graphs is not None else export_graphs(glue)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self.sessions = {}
        self.size_bytes = 0  # the graphs as run (quantized for int8): what a model on disk would take
        for name, g in self.graphs.items():
            if precision == "int8" and name != "encode":
                g = dynamic_int8(g)
            self.size_bytes += len(g)
            self.sessions[name] = ort.InferenceSession(g, opts, providers=["CPUExecutionProvider"])

    def _run(self, name: str, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return self.sessions[name].run(None, feeds)


class EagerLightGlue(LightGluePieces):
    """The same pieces in PyTorch eager (no export, no ONNX Runtime): kornia's LightGlue with every
    attention, cross-attention included, through ``scaled_dot_product_attention`` (kornia's CPU
    cross-attention holds the N x M matrix and its two softmaxes); a baseline for what ONNX Runtime
    adds beyond that."""

    def __init__(self, glue: Any) -> None:
        super().__init__(glue)
        self.modules = _modules(glue, fused=True)

    def _run(self, name: str, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        import torch

        with torch.inference_mode():
            outs = self.modules[name](*(torch.from_numpy(np.ascontiguousarray(v)) for v in feeds.values()))
        return [o.numpy() for o in outs]


def _f32(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.ascontiguousarray(x, dtype=np.float32)


def _normalized(kpts: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """kornia's normalize_keypoints: (k - size / 2) / (max(size) / 2), in float32."""
    s = np.asarray(size, np.float32)
    return ((_f32(kpts) - s / np.float32(2)) / (s.max() / np.float32(2))).astype(np.float32)
