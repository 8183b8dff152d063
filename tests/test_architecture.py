"""The layering of DESIGN.md, checked on the source (tools/import_graph.py prints the graph):
arrows point down only, a capability never imports another, geometry does no file I/O."""

import importlib.util
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "import_graph.py"
_spec = importlib.util.spec_from_file_location("import_graph", TOOL)
import_graph = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(import_graph)

CAPABILITIES = {
    "airglow",
    "catalog",
    "describe",
    "georef",
    "hazards",
    "locate",
    "lightning",
    "nightlights",
    "onboard",
    "rso",
    "shadows",
    "stereo",
    "thermal",
}
BASE = {"errors", "_lazy"}
ALLOWED = {
    "geometry": BASE,  # pure computation: not even io
    "io": BASE | {"geometry"},
    "plot": BASE | {"geometry", "io"},
    "products": BASE | {"geometry", "io", "plot"},
    # analysis shared by capabilities (zonal statistics): computation over what io reads
    "analysis": BASE | {"geometry", "io"},
    # generators build the inputs of a capability and so use its data types; no capability uses them
    "simulate": BASE | {"geometry", "io", "plot", "products", "analysis"} | CAPABILITIES,
    **{c: BASE | {"geometry", "io", "plot", "products", "analysis"} for c in CAPABILITIES},
}
GRAPH = import_graph.graph()


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_down(package):
    extra = GRAPH.get(package, set()) - ALLOWED[package]
    assert not extra, f"cupola.{package} imports {sorted(extra)}, which DESIGN.md's layering forbids"


def test_only_the_command_line_imports_the_command_line():
    users = {p for p, deps in GRAPH.items() if "cli" in deps}
    assert users <= {"__main__", "demo"}


def test_the_graph_reader_sees_relative_and_nested_imports():
    # a check that cannot fail is no check: the reader must find what is there
    assert "geometry" in GRAPH["locate"] and "io" in GRAPH["georef"]
    assert "lightning" in GRAPH["cli"]
