"""The fault suite's sweep (tests/fault_cases.py: every command x every file it reads, broken four
ways) kept complete and honest: every command is in it, every flag an error is expected to name is
one the command has, and the one command left out of it (a server) refuses bad catalogs."""

from __future__ import annotations

import functools
import os
import subprocess
import sys

import fault_cases
import pytest


@functools.cache
def _app():
    """The click command of the whole app, built once for this module (typer rebuilds every
    subcommand's parameters on each build: ~0.07 s, and the sweeps below ask ~700 times)."""
    from cupola.cli.main import command

    return command()


def _leaf(argv) -> tuple[str, object]:
    """The command an argv runs (``locate PHOTO`` is ``locate photo``) and its click object."""
    c, path = _app(), []
    for word in argv:
        sub = getattr(c, "commands", None)
        if not sub:
            break
        if word in sub:
            c = sub[word]
            path.append(word)
        elif "photo" in sub:  # `cupola locate PHOTO`: the group's default command
            c = sub["photo"]
            path.append("photo")
        else:
            break
    return " ".join(path), c


def _leaves() -> list[tuple[tuple[str, ...], object]]:
    """Every command the user can run: (its path of names, its click object)."""
    found = []

    def walk(c, path):
        sub = getattr(c, "commands", None)
        if sub:
            for name, s in sub.items():
                walk(s, (*path, name))
        else:
            found.append((path, c))

    walk(_app(), ())
    return found


def test_every_command_is_in_the_sweep():
    leaves = [" ".join(path) for path, _ in _leaves()]
    covered = {_leaf(t)[0] for t in fault_cases.SWEEP.values()}
    missing = [c for c in leaves if c not in covered and c not in fault_cases.SWEEP_LEFT_OUT]
    assert not missing, f"commands without a bad-input case in fault_cases.SWEEP: {missing}"
    assert covered <= set(leaves), covered - set(leaves)


def test_the_coverage_check_can_fail(monkeypatch):
    monkeypatch.delitem(fault_cases.SWEEP, "hazards-plume")
    with pytest.raises(AssertionError, match="hazards plume"):
        test_every_command_is_in_the_sweep()


def test_every_flag_an_error_must_name_is_an_option_of_its_command():
    """An error that asks for ``--focal-mm`` on a command without it is an error the user cannot act on."""
    wrong = []
    for case in fault_cases.CASES:
        if not case.token.startswith("--"):
            continue
        name, c = _leaf(case.argv)
        flags = {o for p in getattr(c, "params", []) for o in getattr(p, "opts", [])}
        if case.token not in flags:
            wrong.append(f"{case.id}: {name} has no {case.token}")
    assert not wrong, wrong


@pytest.mark.parametrize("kind", fault_cases.SWEEP_KINDS)
def test_serve_refuses_a_bad_catalog(kind, tmp_path):
    """In a subprocess with a time limit: a bad catalog that were accepted would be served forever."""
    inputs = fault_cases.make_inputs(tmp_path)
    bad = inputs[f"sweep_{kind.replace('-', '_')}_dir"]
    proc = subprocess.run(
        [sys.executable, "-m", "cupola", "catalog", "serve", bad, "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and "bad" in lines[0] and "Traceback" not in proc.stderr, proc.stderr


#: numeric options whose range the library checks (not cupola.cli.checks.RULES), and why that is enough
LIBRARY_CHECKED = {
    ("geolocate",): {"distortion": "finite, and a lens on the frame (Camera.distortion_problem)"},
    ("shadows", "sideway"): {"shadow_vector_m": "any east/north metres", "displacement_vector_m": "any metres"},
    ("shadows", "height"): {"shadow_vector_m": "any east/north metres"},
    ("lightning", "simulate"): {},
    ("thermal", "scene"): {"lst_scale": "the scaled LST must be 150-400 K"},
    ("thermal", "bt"): {"emissivity": "(0, 1]"},
    ("thermal", "splitwindow"): {"tcw": "0-10 g cm-2", "scale": "positive"},
    ("thermal", "fire"): {"scale": "positive"},
    **{("hazards", k): {"min_area_km2": ">= 0"} for k in ("flood", "burn", "fire", "change", "plume")},
    ("rso", "evaluate"): {"scale": "positive (the mesh's scale)"},
    ("airglow", "waves"): {"exposure_s": "(0, 60] s"},
    ("onboard", "bench"): {"task_bitflip_trials": ">= 0", "rso_images": "1-2000", "glue_keypoints": "2-8192"},
}


def test_every_numeric_option_has_a_range():
    """Every int or float option is range-checked before work (cupola.cli.checks.RULES) or by the
    library as listed above; a listed one that is not a vector or free value has a fault case."""
    import typing

    from cupola.cli.checks import RULES

    unchecked = []
    for path, c in _leaves():
        cb = c.callback  # type: ignore[attr-defined]
        hints = typing.get_type_hints(getattr(cb, "__wrapped__", cb))
        for p in c.params:  # type: ignore[attr-defined]
            h = str(hints.get(p.name))
            if ("float" in h or "int" in h) and "bool" not in h and "Path" not in h:
                if p.name not in RULES.get(path, {}) and p.name not in LIBRARY_CHECKED.get(path, {}):
                    unchecked.append(f"{' '.join(path)} {p.name}")
    assert not unchecked, f"numeric options without a range: {unchecked}"
    tokens = {c.token for c in fault_cases.CASES}
    for path, names in LIBRARY_CHECKED.items():
        for name, why in names.items():
            if not why.startswith("any"):
                flag = "--" + name.replace("_", "-")
                assert flag in tokens, f"{' '.join(path)} {flag}: no fault case names it"


def test_the_range_check_can_fail(monkeypatch):
    from cupola.cli import checks

    monkeypatch.setitem(checks.RULES, ("catalog", "serve"), {})
    with pytest.raises(AssertionError, match="catalog serve port"):
        test_every_numeric_option_has_a_range()


#: text options that take any value, and why that is safe
FREE_TEXT = {
    ("catalog", "build"): {"title": "a title", "collection_id": "the collection's id (a JSON string)"},
    ("catalog", "export"): {"title": "a title"},
}


def _text_options():
    """(command path, option name, its first flag) of every option that takes free text."""
    import typing

    for path, c in _leaves():
        cb = c.callback  # type: ignore[attr-defined]
        hints = typing.get_type_hints(getattr(cb, "__wrapped__", cb))
        for p in c.params:  # type: ignore[attr-defined]
            h = str(hints.get(p.name))
            if "str" in h and "Path" not in h and getattr(p, "opts", None):
                yield path, p.name, p.opts[0]


def test_every_text_option_is_checked():
    """Every option that takes text (a time, a field name, a choice, a list) refuses a value it
    cannot take before it writes anything: its choices are in cupola.cli.checks.RULES, or a fault
    case gives it a wrong value, or it is free text (FREE_TEXT)."""
    from cupola.cli.checks import RULES

    named = {(_leaf(c.argv)[0], c.token) for c in fault_cases.CASES}
    missing = [
        f"{' '.join(path)} {flag}"
        for path, name, flag in _text_options()
        if name not in RULES.get(path, {})
        and name not in FREE_TEXT.get(path, {})
        and (" ".join(path), flag) not in named
    ]
    assert not missing, f"text options without a check: {missing}"


def test_the_text_option_check_can_fail(monkeypatch):
    kept = [c for c in fault_cases.CASES if c.token != "--before-time"]
    monkeypatch.setattr(fault_cases, "CASES", kept)
    with pytest.raises(AssertionError, match="hazards flood --before-time"):
        test_every_text_option_is_checked()
