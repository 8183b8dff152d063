"""The fault suite's sweep (tests/fault_cases.py: every command x every file it reads, broken four
ways) kept complete and honest: every command is in it, every flag an error is expected to name is
one the command has, and the one command left out of it (a server) refuses bad catalogs."""

from __future__ import annotations

import os
import subprocess
import sys

import fault_cases
import pytest


def _leaf(argv) -> tuple[str, object]:
    """The command an argv runs (``locate PHOTO`` is ``locate photo``) and its click object."""
    from cupola.cli.main import command

    c, path = command(), []
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


def _leaves() -> list[str]:
    from cupola.cli.main import command

    found = []

    def walk(c, path):
        sub = getattr(c, "commands", None)
        if sub:
            for name, s in sub.items():
                walk(s, [*path, name])
        else:
            found.append(" ".join(path))

    walk(command(), [])
    return found


def test_every_command_is_in_the_sweep():
    leaves = _leaves()
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
