"""CUPOLA_ALIKED=ort: locate's reference-size ALIKED extractions through the DeformConv backbone in
ONNX Runtime (cupola.locate.aliked_ort), the photo-size ones through PyTorch as before."""

import cv2
import numpy as np
import pytest

from cupola.errors import InputError
from cupola.locate import features as F
from cupola.locate.aliked_ort import _SizeSwitch

PHOTO = "src/cupola/data/samples/apl/ISS064-E-358/reference.jpg"


@pytest.fixture(scope="module")
def grey():
    img = cv2.imread(PHOTO, cv2.IMREAD_GRAYSCALE)
    assert img is not None
    return img


def test_reference_size_goes_through_onnx_runtime_with_the_same_features(grey, monkeypatch):
    # 768 x 704 (0.54 Mpx, a multiple of 32 on both sides, like a reference tile) through ONNX
    # Runtime: the same keypoints as PyTorch to rounding and the same descriptors to 1e-3
    plain = F.AlikedLightGlueMatcher(max_keypoints=512, threads=2)
    assert not isinstance(plain._aliked, _SizeSwitch)
    monkeypatch.setenv(F.ALIKED_RUNTIME_ENV, "ort")
    swapped = F.AlikedLightGlueMatcher(max_keypoints=512, threads=2)
    assert isinstance(swapped._aliked, _SizeSwitch)
    big = np.ascontiguousarray(grey[:704, :768])
    a, b = plain.extract(big), swapped.extract(big)
    backbone = swapped._aliked.large.backbone
    assert backbone.exports == 1  # the reference size was exported once
    assert len(a) == len(b) == 512
    d = np.linalg.norm(a.keypoints[:, None] - b.keypoints[None], axis=2)
    near = d.min(axis=1) < 0.01
    assert near.mean() > 0.99  # the same keypoints (ties at the 512th score may swap one or two)
    j = d.argmin(axis=1)[near]
    assert np.abs(np.asarray(a.descriptors)[near] - np.asarray(b.descriptors)[j]).max() < 1e-3
    swapped.extract(np.ascontiguousarray(grey[:256, :320]))  # photo size: PyTorch, no new export
    assert backbone.exports == 1
    swapped.extract(big)  # the same shape again: the session is reused
    assert backbone.exports == 1


def test_wrong_runtime_is_an_error(monkeypatch):
    monkeypatch.setenv(F.ALIKED_RUNTIME_ENV, "tensorrt")
    with pytest.raises(InputError, match="CUPOLA_ALIKED"):
        F.AlikedLightGlueMatcher(max_keypoints=64, threads=1)


def test_matchers_of_one_process_share_the_exports(monkeypatch):
    # a Localizer makes its own matcher: the ONNX Runtime backbone (and its exports) is shared
    monkeypatch.setenv(F.ALIKED_RUNTIME_ENV, "ort")
    a = F.AlikedLightGlueMatcher(max_keypoints=512, threads=2)
    b = F.AlikedLightGlueMatcher(max_keypoints=512, threads=2)
    assert a._aliked.large.backbone is b._aliked.large.backbone
