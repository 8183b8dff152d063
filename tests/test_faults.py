"""The fault suite: bad inputs and faults across every command (tests/fault_cases.py), plus the
output rules (a run never deletes what it did not write, never writes outside --out, replaces
its product set as one), interrupts, killed runs and batch rows that kill their worker."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import fault_cases
import pytest

from cupola.errors import InputError
from cupola.io import staging
from cupola.io.names import safe_names

SAMPLE = fault_cases.SAMPLE
TLE = SAMPLE / "iss_tle_25544_20170101-20170630.txt"


@pytest.fixture(scope="module")
def fault_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    return root, fault_cases.make_inputs(root)


@pytest.mark.parametrize("case", fault_cases.CASES, ids=[c.id for c in fault_cases.CASES])
def test_fault_case(case, fault_root):
    ok, detail = fault_cases.run_case(case, *fault_root)
    assert ok, detail


def test_fault_case_checker_can_fail(fault_root):
    """The checker itself: a run that succeeds, or names the wrong thing, is reported."""
    good = fault_cases.Case("orbit-fine", ("orbit", "--tle", "{tle}", "--time", fault_cases.TIME), "--tle")
    ok, detail = fault_cases.run_case(good, *fault_root)
    assert not ok and "exit 0" in detail
    wrong = fault_cases.Case("wrong-token", ("orbit", "--tle", "{zero}", "--time", fault_cases.TIME), "--time")
    ok, detail = fault_cases.run_case(wrong, *fault_root)
    assert not ok and "not named" in detail


# --- outputs: never delete what the run did not write ------------------------------------------


def _stage_products(out, names, **kw):
    with staging.staged_output(out, **kw) as stage:
        for n in names:
            if n.endswith("/"):
                (stage / n).mkdir()
                (stage / n / "x.txt").write_text("ours")
            else:
                (stage / n).write_text(f"new {n}")


def test_user_folder_of_a_product_name_is_not_deleted(tmp_path):
    out = tmp_path / "out"
    (out / "frames").mkdir(parents=True)
    (out / "frames" / "mine.png").write_text("user data")
    with pytest.raises(InputError, match="frames.*not written by cupola"):
        _stage_products(out, ["result.json", "frames/"])
    assert (out / "frames" / "mine.png").read_text() == "user data"
    assert sorted(p.name for p in out.iterdir()) == ["frames"]  # nothing moved in, no staging left


def test_user_file_of_a_product_name_is_not_replaced(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "matches.png").write_text("user picture")
    with pytest.raises(InputError, match="matches.png"):
        _stage_products(out, ["result.json", "matches.png"])
    assert (out / "matches.png").read_text() == "user picture"
    assert not (out / "result.json").exists()


def test_input_inside_out_is_never_replaced_even_if_cupola_wrote_it(tmp_path):
    out = tmp_path / "out"
    _stage_products(out, ["photo/", "result.json"])
    inp = out / "photo" / "x.txt"
    with pytest.raises(InputError, match="input"):
        _stage_products(out, ["photo/", "result.json"], inputs=[inp])
    assert inp.read_text() == "ours"


def test_product_set_is_replaced_as_one(tmp_path):
    out = tmp_path / "out"
    (tmp_path / "out").mkdir()
    (out / "notes.txt").write_text("user")
    _stage_products(out, ["result.json", "georef.tif", "pixels.csv", "frames/"])
    _stage_products(out, ["result.json", "frames/"])  # e.g. a rejected match, a run without --pixels
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["frames", "notes.txt", "result.json"]
    assert (out / "result.json").read_text() == "new result.json"
    assert staging.read_manifest(out) == {"products": ["frames", "result.json"]}


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_staging_folders_of_killed_runs_are_cleaned(tmp_path):
    out = tmp_path / "out"
    dead = out / f"{staging.STAGE_PREFIX}{_dead_pid()}-abc"
    live = out / f"{staging.STAGE_PREFIX}{os.getpid()}-def"  # a run still going: left alone
    for d in (dead, live):
        d.mkdir(parents=True)
        (d / "stage.tif").write_bytes(b"")
    _stage_products(out, ["result.json"])
    assert not dead.exists() and live.exists()


def test_failed_run_leaves_out_as_it_was(tmp_path):
    out = tmp_path / "out"
    _stage_products(out, ["result.json", "georef.tif"])
    before = fault_cases.snapshot(out)
    with pytest.raises(KeyboardInterrupt):
        with staging.staged_output(out) as stage:
            (stage / "result.json").write_text("half")
            raise KeyboardInterrupt
    assert fault_cases.snapshot(out) == before


def test_ctrl_c_just_as_the_stage_is_made_leaves_no_stage(tmp_path, monkeypatch):
    """A Ctrl-C that lands right after the staging folder is created, before its name is kept (the
    moment `test_ctrl_c_of_the_newer_commands_leaves_nothing_partial` interrupts at, which a loaded
    machine made it hit), is held until the folder can be removed again: nothing is left behind."""
    real = staging.tempfile.mkdtemp

    def mkdtemp_then_ctrl_c(*args, **kwargs):
        path = real(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)  # Python runs the handler at the next instruction
        return path

    monkeypatch.setattr(staging.tempfile, "mkdtemp", mkdtemp_then_ctrl_c)
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("user")
    with pytest.raises(KeyboardInterrupt):
        with staging.staged_output(out) as stage:
            (stage / "result.json").write_text("{}")
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    new = tmp_path / "new" / "out"  # a folder the run would have created is not there either
    with pytest.raises(KeyboardInterrupt):
        with staging.staged_output(new):
            pass
    assert not (tmp_path / "new").exists()


def test_a_stage_whose_clean_up_never_ran_is_removed_at_exit(tmp_path):
    """The exit hook removes a staging folder whose context manager was entered and never left (an
    interrupt inside `with`'s own machinery), and forgets the ones that were cleaned up."""
    out = tmp_path / "out"
    done = staging.staged_output(out)
    with done as stage_done:
        pass
    assert stage_done not in staging._ACTIVE_STAGES
    left = staging.staged_output(out)
    stage = left.__enter__()  # never left
    assert stage.is_dir() and stage in staging._ACTIVE_STAGES
    staging._remove_active_stages()
    assert not stage.exists() and stage not in staging._ACTIVE_STAGES
    assert not any(p.name.startswith(staging.STAGE_PREFIX) for p in out.iterdir())


# --- ids: safe, unique, inside --out -------------------------------------------------------------


def test_safe_names_rename_dots_empties_and_clashes():
    names, notes = safe_names(["..", ".", "", "a b", "a_b", "A_B", "../x", ".hidden", "ok"])
    assert names == ["row-1", "row-2", "row-3", "a_b", "a_b-2", "A_B-3", "_x", "hidden", "ok"]
    assert len(set(n.lower() for n in names)) == len(names)
    assert all("/" not in n and not n.startswith(".") for n in names)
    assert len(notes) == 8 and "'..'" in notes[0]


def _catalog(tmp_path, ids, photo="missing.jpg"):
    cat = tmp_path / "cat" / "catalog.csv"
    cat.parent.mkdir(parents=True, exist_ok=True)
    cat.write_text("\ufeffid,photo,reference\n" + "".join(f"{i},{photo},ref.tif\n" for i in ids))  # with a BOM
    return cat


def _log(out):
    return [json.loads(line) for line in (out / "batch_log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def dask_quiet():
    import cloudpickle
    import dask

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this module
    with dask.config.set({"distributed.scheduler.allowed-failures": 0, "distributed.logging.distributed": "error"}):
        yield


def _fake_success(row, out_dir, *args):
    """A row that succeeds without matching: writes a result.json product set."""
    from cupola.io.staging import staged_output, write_json

    with staged_output(Path(out_dir) / row["_dir"]) as stage:
        write_json(stage / "result.json", {"id": row["id"], "matched": True})
    return {"id": row["id"], "status": "matched", "reason": "", "seconds": 0.0}


def _kill_bad_row(row, out_dir, *args):
    if row["id"] == "killer":
        os._exit(1)  # the worker process dies
    return _fake_success(row, out_dir, *args)


def test_batch_ids_stay_inside_out_and_every_row_runs_once(tmp_path, dask_quiet):
    from cupola.locate.batch import run_batch

    ids = ["..", ".", "a b", "a_b"]
    cat = _catalog(tmp_path, ids)
    out = tmp_path / "cat" / "out"
    (tmp_path / "cat" / "result.json").write_text("user's")  # in the parent of --out: must not skip a row
    before_parent = sorted(p.name for p in (tmp_path / "cat").iterdir())
    counts = run_batch(cat, out, workers=1, matcher="sift")
    assert counts == {"skipped": 0, "matched": 0, "rejected": 0, "failed": 4}
    assert sorted(p.name for p in (tmp_path / "cat").iterdir()) == sorted(before_parent + ["out"])
    assert (tmp_path / "cat" / "result.json").read_text() == "user's"
    folders = sorted(p.name for p in out.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert folders == ["a_b", "a_b-2", "row-1", "row-2"]
    log = _log(out)
    rows = [r for r in log if "status" in r]
    assert sorted(r["id"] for r in rows) == sorted(ids)  # each row once
    assert all("catalog.csv: line" in r["reason"] for r in rows)  # failures name the catalog line
    assert sum("note" in r for r in log) == 4  # .., ., "a b" renamed, a_b clashes
    for f in folders:
        failed = json.loads((out / f / "failed.json").read_text())
        assert failed["id"] in ids and failed["line"] >= 2


def _main_io(argv) -> tuple[int, str, str]:
    from cupola.cli.main import main

    err, std = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(std):
        code = main([str(a) for a in argv])
    return code, std.getvalue(), err.getvalue()


def test_locate_batch_with_no_photo_localized_exits_2_naming_the_first_reason(tmp_path, dask_quiet):
    """A script running the batch learns from the exit code that nothing came of it; the rows'
    records stay (they say why, and a rerun retries them)."""
    cat = _catalog(tmp_path, ["a", "b"])
    out = tmp_path / "out"
    code, std, err = _main_io(["locate", "batch", cat, "--workers", "1", "--matcher", "sift", "--out", out])
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert "no photo of" in lines[0] and "2 failed" in lines[0] and "missing.jpg" in lines[0], lines
    assert "failed 2" in std
    assert (out / "a" / "failed.json").is_file() and (out / "b" / "failed.json").is_file()


def test_shadows_batch_exit_code_says_whether_any_row_was_solved(tmp_path):
    good = "tower,2013-08-05T02:56:39Z,31.23,121.5,168\n"
    bad = "night,2013-08-05T14:56:39Z,31.23,121.5,168\n"  # the sun below the horizon
    for rows, expected in ((bad + bad.replace("night", "n2"), 2), (good + bad, 0)):
        src = tmp_path / f"in{expected}.csv"
        src.write_text("id,time,lat,lon,shadow_m\n" + rows)
        out = tmp_path / f"out{expected}.csv"
        code, std, err = _main_io(["shadows", "batch", src, "--out", out])
        assert code == expected, err
        assert out.is_file()  # the rows' outcomes are written either way
        if expected:
            lines = err.strip().splitlines()
            assert len(lines) == 1 and "no row of" in lines[0] and "below the horizon" in lines[0], err
        else:
            assert "1 rows solved, 1 failed" in std and not err.strip()


def test_fixed_row_drops_its_old_failure_and_killer_row_is_recorded(tmp_path, dask_quiet):
    from cupola.locate.batch import run_batch

    cat = _catalog(tmp_path, ["good", "killer", "other"])
    out = tmp_path / "out"
    run_batch(cat, out, workers=1, matcher="sift")  # every photo missing: three failed rows
    assert (out / "good" / "failed.json").is_file()
    counts = run_batch(cat, out, workers=1, matcher="sift", task=_kill_bad_row)
    assert counts["matched"] == 2 and counts["failed"] == 1  # the batch went on past the killer
    assert (out / "good" / "result.json").is_file() and not (out / "good" / "failed.json").exists()
    assert (out / "other" / "result.json").is_file()
    reason = json.loads((out / "killer" / "failed.json").read_text())["error"]
    assert "worker" in reason and "died" in reason
    last = [r for r in _log(out) if r.get("id") == "killer"][-1]
    assert last["status"] == "failed" and "worker" in last["reason"]


def test_batch_ctrl_c_logs_every_finished_row(tmp_path, dask_quiet):
    from cupola.locate.batch import run_batch

    cat = _catalog(tmp_path, ["r1", "r2", "r3"])
    out = tmp_path / "out"
    seen = []

    def progress(done, total):
        seen.append(done)
        if done == 1:
            time.sleep(1.0)  # let the other rows finish too
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch(cat, out, workers=1, matcher="sift", task=_fake_success, progress=progress)
    finished = {p.parent.name for p in out.glob("*/result.json")}
    logged = {r["id"] for r in _log(out) if "status" in r}
    assert finished and finished == logged  # every row that finished is in the log
    counts = run_batch(cat, out, workers=1, matcher="sift", task=_fake_success)  # resume
    assert counts["skipped"] == len(finished) and counts["matched"] == 3 - len(finished)


# --- the real entry point: Ctrl-C and SIGKILL ----------------------------------------------------


def _restore_sigint() -> None:
    # a test suite started in the background by a shell without job control inherits SIGINT
    # ignored, and so would the command: it would never see the Ctrl-C this test sends
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _cupola(*args):
    exe = Path(sys.executable).with_name("cupola")
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.Popen(
        [str(exe), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=_restore_sigint,
    )


def _simulate_args(out, *, frames: int = 150, flashes: int = 400) -> list:
    """``cupola lightning simulate`` into ``out``; the default size runs long enough to be interrupted
    while it writes, even on a loaded machine (40 frames could finish before the signal arrived)."""
    sizes = ["--frames", frames, "--flashes", flashes]
    return ["lightning", "simulate", "--tle", TLE, "--time", fault_cases.TIME, *sizes, "--out", out]


def _wait_for_stage(out: Path, proc, timeout=60.0) -> bool:
    t0 = time.time()
    while time.time() - t0 < timeout and proc.poll() is None:
        if out.is_dir() and any(p.name.startswith(staging.STAGE_PREFIX) for p in out.iterdir()):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("sig, code, word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_interrupt_exits_with_its_code_and_leaves_out_as_it_was(tmp_path, sig, code, word):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("user")
    proc = _cupola(*_simulate_args(out))
    assert _wait_for_stage(out, proc), "the run never started writing"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code
    assert err.strip().splitlines() == [f"cupola: error: {word}"]
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_killed_run_is_cleaned_and_resumed_by_the_next(tmp_path):
    out = tmp_path / "out"
    proc = _cupola(*_simulate_args(out))
    assert _wait_for_stage(out, proc), "the run never started writing"
    proc.kill()
    proc.wait(timeout=30)
    left = [p for p in out.iterdir() if p.name.startswith(staging.STAGE_PREFIX)]
    assert left  # SIGKILL leaves its staging folder...
    rerun = _cupola(*_simulate_args(out, frames=2, flashes=5))
    _, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert not any(p.exists() for p in left)  # ...and the next run cleans it
    assert (out / "frames").is_dir() and (out / "truth.json").is_file()


def test_simulate_refuses_to_replace_a_users_frames_folder(tmp_path):
    out = tmp_path / "D"
    (out / "frames").mkdir(parents=True)
    (out / "frames" / "mine.png").write_text("user data")
    proc = _cupola(*_simulate_args(out, frames=2, flashes=5))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and len(err.strip().splitlines()) == 1 and "frames" in err
    assert (out / "frames" / "mine.png").read_text() == "user data"
    assert sorted(p.name for p in out.iterdir()) == ["frames"]


def _main_started(proc, timeout=60.0) -> bool:
    """True once the command runs cupola's main (which catches SIGTERM: the SigCgt mask of
    /proc/PID/status), so that a Ctrl-C from then on is the command's to handle, not Python's
    start-up (which would die with a traceback)."""
    t0 = time.time()
    while time.time() - t0 < timeout and proc.poll() is None:
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
        except OSError:
            status = ""
        for line in status.splitlines():
            if line.startswith("SigCgt:") and int(line.split()[1], 16) >> (signal.SIGTERM - 1) & 1:
                return True
        time.sleep(0.05)
    return False


def _airglow_sequence(folder: Path, frames: int) -> list:
    """``airglow waves`` on ``frames`` copies (links) of the sample frame 1.5 s apart: seconds of work."""
    photo = SAMPLE / "meteor_20170517T054409.526Z.jpg"
    (folder / "frames").mkdir(parents=True)
    rows = ["file,time"]
    for i in range(frames):
        (folder / "frames" / f"f{i:03d}.jpg").symlink_to(photo)
        rows.append(f"f{i:03d}.jpg,2017-05-17T05:44:{10 + 1.5 * i:06.3f}Z")
    (folder / "times.csv").write_text("\n".join(rows) + "\n")
    camera = ["--focal-mm", "10.5", "--sensor-mm", "8.7", "4.89375", "--attitude", "-5.66", "0.71", "84.52"]
    return ["airglow", "waves", "--frames", folder / "frames", "--frame-times", folder / "times.csv", "--tle", TLE,
            *camera]  # fmt: skip


@pytest.mark.parametrize("name", ["airglow-waves", "onboard-bench", "rso-synth"])
def test_ctrl_c_of_the_newer_commands_leaves_nothing_partial(tmp_path, name):
    """Ctrl-C while airglow / onboard / rso work: exit 130, one line, the inputs as they were,
    --out as it was (a folder the run would have created is not there). (An interrupted
    ``rso train`` keeps its checkpoint by design: tests/test_rso_learn.py resumes from it.)"""
    inputs = tmp_path / "in"
    inputs.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("user")
    expected: list[str] | None = ["notes.txt"]
    if name == "airglow-waves":
        args = [*_airglow_sequence(inputs, 40), "--out", out]
    elif name == "onboard-bench":
        out = tmp_path / "new" / "out"  # not there: must not be created
        expected = None
        args = ["onboard", "bench", "--models", "aliked", "--runtimes", "torch", "--repeats", "100000"]
        args += ["--bitflip-trials", "0", "--size-px", "64", "--out", out]
    else:
        args = ["rso", "synth", "--n", "50000", "--size", "64", "--out", out]
    before = fault_cases.snapshot(inputs)
    proc = _cupola(*args)
    if name == "rso-synth":
        assert _wait_for_stage(out, proc), "the run never started writing"
    else:
        assert _main_started(proc), "the command never started"
        time.sleep(1.0)
    assert proc.poll() is None, "the run ended before the interrupt"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == ["cupola: error: interrupted"]
    assert fault_cases.snapshot(inputs) == before
    if expected is None:
        assert not (tmp_path / "new").exists()
    else:
        assert sorted(p.name for p in out.iterdir()) == expected


@pytest.mark.parametrize("grid_km, word", [("0.01", "coarser"), ("1000", "finer")])
def test_an_airglow_grid_too_fine_or_too_coarse_is_refused_before_work(tmp_path, grid_km, word):
    """--grid-km 0.01 over the ~270 km the frames see would be a 27000^2 cube per frame; 1000 km
    is a 2x2 grid (it was 'camera: image size must be positive, got 0x0 px')."""
    from cupola.cli.main import main

    args = [str(a) for a in _airglow_sequence(tmp_path, 3)] + ["--grid-km", grid_km, "--out", str(tmp_path / "o")]
    code, err = _run_main(main, args)
    assert code == 2 and len(err) == 1 and "--grid-km" in err[0] and word in err[0], err
    assert not (tmp_path / "o").exists()


def _run_main(main, argv):
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, [line for line in err.getvalue().splitlines() if line.strip()]


@pytest.mark.parametrize("name", sorted(fault_cases.SCENARIOS))
def test_scenario(name, tmp_path):
    problem = fault_cases.SCENARIOS[name](tmp_path)
    assert problem is None, problem
