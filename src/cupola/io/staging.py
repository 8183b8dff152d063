"""All-or-nothing output folders: products are written into a hidden staging folder inside
``--out`` and moved into place only when every one succeeded; on failure nothing is left (not
even ``--out`` itself, or the parents, when this run created them).

What a run may replace. A run only ever replaces products that cupola wrote into that folder
before: every successful run records the names of its products in the hidden manifest
``--out/.cupola-products.json`` (per product set: ``kind``). A product name that clashes with a
file or folder the manifest does not list (a user's file, an input) is an input error and
nothing is moved; nothing of the user's is ever deleted. Paths given as ``inputs`` are never
replaced either.

Stale products. A run replaces the whole product set of its kind as one: products of the
previous run of the same kind that this run does not write again (an old ``georef.tif`` after a
rejected match, an old ``pixels.csv`` after a run without pixels) are removed, so a folder never
holds products of two runs side by side.

Stale staging folders. Staging folders are named ``.cupola-stage-<pid>-<random>``; one left by a
killed run (its process is gone) is removed by the next run into the same folder.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from cupola.errors import InputError

MANIFEST = ".cupola-products.json"
STAGE_PREFIX = ".cupola-stage-"
#: the staging folders of this process not yet removed; removed at exit too, should an interrupt
#: land where a context manager's clean-up cannot run (between its generator and the `with`)
_ACTIVE_STAGES: set[Path] = set()


@atexit.register
def _remove_active_stages() -> None:
    for stage in list(_ACTIVE_STAGES):
        shutil.rmtree(stage, ignore_errors=True)
        _ACTIVE_STAGES.discard(stage)


#: staging folders of an older layout (no process id in the name) older than this are stale
_OLD_STAGE_AGE_S = 6 * 3600.0


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    return True


def clean_stale_stages(out_dir) -> list[Path]:
    """Remove the staging folders in ``out_dir`` left by killed runs; returns what was removed.
    A folder whose process still runs is left alone."""
    removed: list[Path] = []
    out_dir = Path(out_dir)
    try:
        entries = list(out_dir.iterdir())
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        name = entry.name
        if not name.startswith(".cupola-") or name == MANIFEST or entry.is_symlink() or not entry.is_dir():
            continue
        stale = False
        if name.startswith(STAGE_PREFIX):
            pid_text = name[len(STAGE_PREFIX) :].split("-", 1)[0]
            stale = pid_text.isdigit() and not _pid_alive(int(pid_text))
        else:  # an older staging layout: stale when not touched for hours
            with contextlib.suppress(OSError):
                stale = now - entry.stat().st_mtime > _OLD_STAGE_AGE_S
        if stale:
            shutil.rmtree(entry, ignore_errors=True)
            if not entry.exists():
                removed.append(entry)
    return removed


def read_manifest(out_dir) -> dict[str, list[str]]:
    """The product names of earlier runs in ``out_dir``, by kind (empty if none or unreadable)."""
    p = Path(out_dir) / MANIFEST
    try:
        if not p.is_file() or p.stat().st_size > 1 << 20:
            return {}
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    sets = doc.get("products") if isinstance(doc, dict) else None
    if not isinstance(sets, dict):
        return {}
    return {str(k): [str(n) for n in v if isinstance(n, str)] for k, v in sets.items() if isinstance(v, list)}


def _write_manifest(out_dir: Path, sets: dict[str, list[str]]) -> None:
    p = out_dir / MANIFEST
    tmp = out_dir / f"{MANIFEST}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps({"products": {k: sorted(v) for k, v in sets.items() if v}}, indent=1) + "\n")
    os.replace(tmp, p)


def _same(a: Path, b: Path) -> bool:
    with contextlib.suppress(OSError):
        return os.path.samefile(a, b)
    return False


def _holds(target: Path, inp: Path) -> bool:
    """True if ``inp`` is ``target`` or lies inside the folder ``target``."""
    if _same(target, inp):
        return True
    if target.is_dir() and not target.is_symlink():
        with contextlib.suppress(OSError, ValueError):
            Path(os.path.realpath(inp)).relative_to(os.path.realpath(target))
            return True
    return False


@contextlib.contextmanager
def staged_output(
    out_dir, option: str = "`out_dir`", written: list | None = None, *, kind: str = "products", inputs=()
) -> Iterator[Path]:
    """Yield the staging folder; on success everything in it (but hidden names) moves into
    ``out_dir``, the previous product set of ``kind`` is replaced as one, and the final paths are
    appended to ``written``. Messages name the folder as ``option`` (the parameter ``out_dir``,
    which the CLI shows as its ``--out``).

    Raises:
        InputError: ``out_dir`` is not a folder or cannot be created, or a product would replace
            something cupola did not write there (a user's file or folder, one of ``inputs``);
            then nothing is moved and the earlier products stay as they were.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{option} {out_dir}: exists and is not a folder")
    created = None  # the outermost folder this call creates, removed again on failure
    for folder in (out_dir, *out_dir.parents):
        if folder.exists():
            break
        created = folder
    stage: Path | None = None
    try:
        # a Ctrl-C between the stage's creation and its name being kept would leave it behind in
        # the user's folder: the signal waits until `stage` is set, inside this try
        with _signals_deferred():
            try:
                out_dir.mkdir(parents=True, exist_ok=True)
                clean_stale_stages(out_dir)
                stage = Path(tempfile.mkdtemp(prefix=f"{STAGE_PREFIX}{os.getpid()}-", dir=out_dir))
                _ACTIVE_STAGES.add(stage)
            except OSError as exc:
                raise InputError(
                    f"{option} {out_dir}: cannot create the output folder ({exc.strerror or exc})"
                ) from None
        yield stage
        _commit(stage, out_dir, option, kind, [Path(p) for p in inputs if p is not None], written)
    except BaseException:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise
    finally:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)
            _ACTIVE_STAGES.discard(stage)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM over a short step that must not be cut in two (the staging folder
    being made and recorded for clean-up; the products moving into place, a few renames), so an
    interrupt never leaves a stray stage or half a product set; the signal is delivered right after."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list = []
    names = [n for n in ("SIGINT", "SIGTERM") if hasattr(signal, n)]
    old = {}
    for n in names:
        sig = getattr(signal, n)
        old[sig] = signal.signal(sig, lambda num, frame: caught.append((num, frame)))
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        for num, frame in caught[:1]:
            handler = old.get(num)
            if callable(handler):
                handler(num, frame)
            elif num == signal.SIGINT:
                raise KeyboardInterrupt


def _commit(stage: Path, out_dir: Path, option: str, kind: str, inputs: list[Path], written: list | None) -> None:
    with _signals_deferred():
        _move_in(stage, out_dir, option, kind, inputs, written)


def _move_in(stage: Path, out_dir: Path, option: str, kind: str, inputs: list[Path], written: list | None) -> None:
    sets = read_manifest(out_dir)
    ours = {n for names in sets.values() for n in names}
    new = sorted(f.name for f in stage.iterdir() if not f.name.startswith("."))
    # check every clash before moving anything: a refused run changes nothing
    for name in new:
        target = out_dir / name
        if not (target.exists() or target.is_symlink()):
            continue
        if any(_holds(target, i) for i in inputs):
            raise InputError(
                f"{option} {out_dir}: the product {name} would replace an input ({target}); choose another {option}"
            )
        if name not in ours:
            what = "folder" if target.is_dir() and not target.is_symlink() else "file"
            raise InputError(
                f"{option} {out_dir}: a {what} named {name} is already there and was not written "
                f"by cupola; move it or choose another {option}"
            )
    stale = [n for n in sets.get(kind, []) if n not in new]
    for name in new:
        target = out_dir / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        (stage / name).replace(target)
        if written is not None:
            written.append(target)
    for name in stale:  # products of the previous run of this kind that this run did not write
        target = out_dir / name
        if any(_holds(target, i) for i in inputs):
            continue
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                target.unlink()
    for other, names in sets.items():
        if other != kind:
            sets[other] = [n for n in names if n not in new]
    sets[kind] = new
    _write_manifest(out_dir, sets)


def json_safe(obj):
    """NaN/inf -> None (JSON has no NaN), numpy scalars/arrays -> Python, recursively."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path, obj) -> Path:
    """Strict JSON (no NaN tokens), indented, newline-terminated."""
    path = Path(path)
    path.write_text(json.dumps(json_safe(obj), indent=2, allow_nan=False) + "\n")
    return path
