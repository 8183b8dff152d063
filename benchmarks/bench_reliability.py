"""The fault suite as figures: every command x bad input or fault of tests/fault_cases.py (exit
code, one message line naming the file or option, inputs and --out untouched) and the output
scenarios; ``reliability_failures`` must stay 0; ``reliability_cpu_s`` is what they cost in-process."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from common import bench_line


def reliability():
    import fault_cases

    root = Path(tempfile.mkdtemp(prefix="cupola-faults-"))
    t0 = time.process_time()
    try:
        inputs = fault_cases.make_inputs(root / "cases")
        failures = 0
        for case in fault_cases.CASES:
            ok, detail = fault_cases.run_case(case, root / "cases", inputs)
            if not ok:
                failures += 1
                print(f"# FAIL {detail}", flush=True)
        for name, scenario in fault_cases.SCENARIOS.items():
            folder = root / "scenarios" / name
            folder.mkdir(parents=True)
            problem = scenario(folder)
            if problem is not None:
                failures += 1
                print(f"# FAIL {name}: {problem}", flush=True)
        total = len(fault_cases.CASES) + len(fault_cases.SCENARIOS)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    bench_line("reliability_cases", total, "cases")
    bench_line("reliability_failures", failures, "cases", baseline=0)
    # CPU time of the in-process cases and scenarios (the test suite's share; a budget, not a speed)
    bench_line("reliability_cpu_s", time.process_time() - t0, "s")


BENCHMARKS = {"reliability": reliability}
