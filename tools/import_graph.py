"""Print cupola's import graph between its top-level packages, and the lines per module.

    python tools/import_graph.py [--lines]

Reads the source with ``ast`` (nothing is imported), so it runs without the dependencies. Each line
is ``package -> the cupola packages it imports``; ``tests/test_architecture.py`` checks the same
graph against the layering of DESIGN.md.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "cupola"


def package_of(path: Path) -> str:
    """``cupola/locate/pool.py`` -> ``locate``; a top-level module names itself (``errors``)."""
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def imported_packages(path: Path) -> set[str]:
    """The cupola top-level packages a module imports (absolute or relative, at any depth)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    own = path.relative_to(SRC).parts[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(own[: len(own) - node.level + 1])
                names = [".".join(["cupola", *base, *(node.module.split(".") if node.module else [])])]
            else:
                names = [node.module or ""]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "cupola" and len(parts) > 1:
                found.add(parts[1])
    return found


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for path in sorted(SRC.rglob("*.py")):
        pkg = package_of(path)
        edges[pkg] |= imported_packages(path) - {pkg}
    return dict(edges)


def main(argv: list[str]) -> None:
    for pkg, deps in sorted(graph().items()):
        print(f"{pkg} -> {', '.join(sorted(deps)) or '(nothing of cupola)'}")
    if "--lines" in argv:
        print()
        for path in sorted(SRC.rglob("*.py")):
            print(f"{sum(1 for _ in path.open(encoding='utf-8')):6d} {path.relative_to(SRC.parent)}")


if __name__ == "__main__":
    main(sys.argv[1:])
