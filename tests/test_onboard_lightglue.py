"""LightGlue exported to ONNX (cupola.locate.lightglue_ort) against kornia's own forward (issue 20).

The reference is kornia's ``LightGlue`` with locate's weights on real ALIKED features of a bundled
photo matched against a turned, shifted copy of itself (many matches, early stopping and pruning
both active); the exported graphs are written by our own wrappers, so a wrong wrapper shows here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from cupola.errors import InputError
from cupola.locate import features as F
from cupola.locate import lightglue_ort as lo

PHOTO = Path(__file__).resolve().parents[1] / "src/cupola/data/samples/apl/ISS064-E-358/photo.jpg"
KEYPOINTS = 320


@pytest.fixture(scope="module")
def pair():
    import cv2

    torch.set_num_threads(1)
    matcher = F.AlikedLightGlueMatcher(max_keypoints=KEYPOINTS, threads=1)
    grey = cv2.imread(str(PHOTO), cv2.IMREAD_GRAYSCALE)
    a = cv2.resize(grey, (320, round(320 * grey.shape[0] / grey.shape[1])), interpolation=cv2.INTER_AREA)
    turn = cv2.getRotationMatrix2D((a.shape[1] / 2, a.shape[0] / 2), 20.0, 1.1)
    turn[:, 2] += (9.0, -6.0)
    b = cv2.warpAffine(a, turn, (a.shape[1], a.shape[0]), borderMode=cv2.BORDER_REFLECT)
    return matcher._glue, matcher.extract(a), matcher.extract(b)


@pytest.fixture(scope="module")
def fused_graphs(pair):
    return lo.export_graphs(pair[0], fused=True)


def _kornia(glue, f0, f1):
    return F.kornia_glue(glue, f0, f1)


def _ort(runner, f0, f1):
    return runner.match_features(f0, f1)


def _assert_same(ref, got, score_tol):
    (m_ref, s_ref, stop_ref), (m, s, stop) = ref, got
    assert stop == stop_ref
    assert m.tolist() == m_ref.tolist()  # same pairs, same order (image-0 index order)
    np.testing.assert_allclose(s, s_ref, atol=score_tol)


@pytest.mark.parametrize("fused", [True, False], ids=["fused-attention", "plain-matmul"])
def test_ort_matches_equal_kornia(pair, fused_graphs, fused):
    glue, f0, f1 = pair
    ref = _kornia(glue, f0, f1)
    assert len(ref[0]) > 100 and 1 < ref[2] < glue.conf.n_layers  # a real case: stops early, many matches
    graphs = fused_graphs if fused else lo.export_graphs(glue, fused=False)
    runner = lo.OrtLightGlue(glue, threads=1, graphs=graphs)
    _assert_same(ref, _ort(runner, f0, f1), 1e-4)
    # the swapped pair takes other paths through pruning
    _assert_same(_kornia(glue, f1, f0), _ort(runner, f1, f0), 1e-4)


def test_eager_pieces_equal_kornia(pair):
    """The same pieces in PyTorch eager (every attention through scaled_dot_product_attention)."""
    glue, f0, f1 = pair
    _assert_same(_kornia(glue, f0, f1), _ort(lo.EagerLightGlue(glue), f0, f1), 1e-4)


def test_full_depth_without_pruning(pair, fused_graphs):
    """Every layer and the last assignment head (graph layer8 / assign8) on a glue with early
    stopping and pruning switched off."""
    glue, f0, f1 = pair
    depth, width = glue.conf.depth_confidence, glue.conf.width_confidence
    glue.conf.depth_confidence, glue.conf.width_confidence = -1, -1
    try:
        ref = _kornia(glue, f0, f1)
        got = _ort(lo.OrtLightGlue(glue, threads=1, graphs=fused_graphs), f0, f1)
    finally:
        glue.conf.depth_confidence, glue.conf.width_confidence = depth, width
    assert ref[2] == glue.conf.n_layers
    _assert_same(ref, got, 1e-4)


def test_locate_matcher_opt_in(pair, fused_graphs, monkeypatch):
    """CUPOLA_LIGHTGLUE=ort swaps the matcher's LightGlue; unset keeps PyTorch; a wrong value is an error."""
    _, f0, f1 = pair
    monkeypatch.setattr(lo, "export_graphs", lambda glue, **kw: fused_graphs)  # the export is tested above
    F._ort_glue.cache_clear()
    plain = F.AlikedLightGlueMatcher(max_keypoints=KEYPOINTS, threads=1)
    assert plain._ort is None
    monkeypatch.setenv(F.LIGHTGLUE_RUNTIME_ENV, "ort")
    swapped = F.AlikedLightGlueMatcher(max_keypoints=KEYPOINTS, threads=1)
    assert swapped._ort is not None
    i0, i1 = swapped.match(f0, f1)
    j0, j1 = plain.match(f0, f1)
    assert i0.tolist() == j0.tolist() and i1.tolist() == j1.tolist()
    monkeypatch.setenv(F.LIGHTGLUE_RUNTIME_ENV, "tensorrt")
    with pytest.raises(InputError, match="CUPOLA_LIGHTGLUE"):
        F.AlikedLightGlueMatcher(max_keypoints=KEYPOINTS, threads=1)


def test_empty_side_and_missing_runtime(pair, monkeypatch):
    glue, f0, _ = pair
    runner = F._ort_glue("aliked-n16", KEYPOINTS, 1)
    m, s, stop = runner.match(
        f0.keypoints, f0.descriptors, (320, 240), np.zeros((0, 2), np.float32), np.zeros((0, 128)), (320, 240)
    )
    assert m.shape == (0, 2) and s.shape == (0,) and stop == 0
    monkeypatch.setattr(lo.importlib.util, "find_spec", lambda name: None)
    assert not lo.ort_available()
    with pytest.raises(InputError, match="onnxruntime"):
        lo.OrtLightGlue(glue)


def test_the_export_writes_nothing_on_the_terminal(pair, capfd):
    """PyTorch's exporter prints a C++ note per fused-attention node straight to file descriptor 2
    (hundreds of lines in `cupola onboard bench`); the export keeps them off the terminal."""
    capfd.readouterr()
    graphs = lo.export_graphs(pair[0], fused=True)
    assert graphs and capfd.readouterr().err == ""


def test_native_stderr_comes_back_after_the_block(capfd):
    import os

    from cupola.io.native import native_stderr_silenced

    with native_stderr_silenced():
        os.write(2, b"dropped\n")
    os.write(2, b"kept\n")
    assert capfd.readouterr().err == "kept\n"
