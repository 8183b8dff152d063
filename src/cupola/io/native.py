"""Output written by compiled libraries straight to the process's standard error (file descriptor
2), which Python's ``warnings`` and ``logging`` never see: e.g. PyTorch's ONNX exporter prints a
C++ warning per custom operator it exports (LightGlue's fused attention: hundreds of lines)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

__all__ = ["native_stderr_silenced"]


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Within the block, what anything writes to file descriptor 2 is dropped (Python's own
    ``sys.stderr`` is flushed first and comes back after); for short library calls whose native
    warnings say nothing to a user. Process-wide while it lasts."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no file descriptor 2 (an embedded interpreter): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
