"""Peak resident memory of this process (Linux): the kernel's high-water mark (VmHWM), which
writing ``5`` to /proc/self/clear_refs resets to the current resident size. Elsewhere: None.

The mark covers the whole process (Python, the imported libraries, every runtime loaded so far),
so a combination's cost is best read as the peak minus the resident size just before it loads.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["reset_peak_rss", "peak_rss_bytes", "rss_bytes"]

_STATUS = Path("/proc/self/status")


def _status_kb(field: str) -> int | None:
    try:
        m = re.search(rf"^{field}:\s+(\d+)\s+kB", _STATUS.read_text(), re.MULTILINE)
    except OSError:
        return None
    return int(m.group(1)) if m else None


def reset_peak_rss() -> bool:
    """Reset the high-water mark to the current resident size; False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_rss_bytes() -> int | None:
    """The resident-size high-water mark since the last reset (or the process start)."""
    kb = _status_kb("VmHWM")
    return None if kb is None else kb * 1024


def rss_bytes() -> int | None:
    """The current resident size."""
    kb = _status_kb("VmRSS")
    return None if kb is None else kb * 1024
