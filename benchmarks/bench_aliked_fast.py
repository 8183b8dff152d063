"""ALIKED extraction time on CPU: kornia's ``ALIKED.forward`` against the sparse rewrite in
``cupola.locate.aliked_fast`` (same keypoints, descriptors equal to ~1e-5).

Both run in the same process, interleaved, on random-texture images of 1024x1024 (2048 keypoints)
and 512x512 (1024 keypoints) with 2 torch threads; the median of 3 runs each is reported.
``locate_aliked_speed`` is the speed-up at 1024x1024 (kornia seconds / fast seconds).
"""

from __future__ import annotations

import statistics
import time

from common import ROOT, bench_line  # noqa: F401  (ROOT: the usual import of the benchmark helpers)


def aliked_speed(repeats: int = 3):
    import torch

    from cupola.locate.aliked_fast import fast_aliked_features
    from cupola.locate.features import _aliked_models

    results = {}
    for size, k in ((1024, 2048), (512, 1024)):
        aliked, _ = _aliked_models("aliked-n16", k, 2)
        torch.set_num_threads(2)
        g = torch.Generator().manual_seed(size)
        img = torch.nn.functional.avg_pool2d(torch.rand(1, 1, size + 2, size + 2, generator=g), 3, 1)
        slow, fast = [], []
        with torch.inference_mode():
            aliked(img)  # warm-up
            fast_aliked_features(aliked, img)
            for _ in range(repeats):
                t0 = time.perf_counter()
                ref = aliked(img)[0]
                t1 = time.perf_counter()
                kp, desc, _ = fast_aliked_features(aliked, img)
                t2 = time.perf_counter()
                slow.append(t1 - t0)
                fast.append(t2 - t1)
        ks, kf = statistics.median(slow), statistics.median(fast)
        # near-tied scores can leave top-k in another order: pair each keypoint with kornia's nearest
        dist, j = torch.cdist(kp.double(), ref.keypoints.double()).min(dim=1)
        dk, dd = float(dist.max()), float((desc - ref.descriptors[j]).abs().max())
        print(
            f"# {size}x{size}, {k} keypoints: kornia {ks:.3f} s, fast {kf:.3f} s (x{ks / kf:.2f}); "
            f"runs kornia {[round(v, 3) for v in slow]}, fast {[round(v, 3) for v in fast]}; "
            f"{len(kp)} vs {len(ref.keypoints)} keypoints, max |dkp| {dk:.2e} px, max |ddesc| {dd:.2e}",
            flush=True,
        )
        results[size] = (ks, kf)
    ks, kf = results[1024]
    bench_line("locate_aliked_speed", ks / kf, "x", baseline=1.0, ratio=ks / kf)
    bench_line("locate_aliked_fast_seconds_1024", kf, "s", baseline=ks, ratio=kf / ks)
    return results


BENCHMARKS = {"locate_aliked_speed": aliked_speed}

if __name__ == "__main__":
    aliked_speed()
