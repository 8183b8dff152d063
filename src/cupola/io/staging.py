"""All-or-nothing output folders: products are written into a hidden staging folder inside
``--out`` and moved into place only when every one succeeded; on failure nothing is left (not
even ``--out`` itself, or the parents, when this run created them)."""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from cupola.errors import InputError


@contextlib.contextmanager
def staged_output(out_dir, option: str = "--out", written: list | None = None) -> Iterator[Path]:
    """Yield the staging folder; on success everything in it (but hidden names) moves into
    ``out_dir``, replacing what was there, and the final paths are appended to ``written``."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{option} {out_dir}: exists and is not a folder")
    created = None  # the outermost folder this call creates, removed again on failure
    for folder in (out_dir, *out_dir.parents):
        if folder.exists():
            break
        created = folder
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=".cupola-", dir=out_dir))
    except OSError as exc:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise InputError(f"{option} {out_dir}: cannot create the output folder ({exc.strerror or exc})") from None
    try:
        yield stage
        for f in sorted(stage.iterdir()):
            if f.name.startswith("."):
                continue
            target = out_dir / f.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            f.replace(target)
            if written is not None:
                written.append(target)
    except BaseException:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)


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
