"""Run every benchmark (``make bench``) or those whose names start with a prefix
(``make bench ONLY=geolocate``). Each figure is printed on one line:

    BENCH name=<id> value=<number> unit=<unit> [baseline=<number>] [ratio=<number>]
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    prefix = argv[0] if argv else ""
    ran = 0
    for path in sorted(HERE.glob("bench_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for name, func in module.BENCHMARKS.items():
            if name.startswith(prefix):
                func()
                ran += 1
    if ran == 0:
        print(f"no benchmark name starts with {prefix!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
