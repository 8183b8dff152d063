"""A rich progress bar shared by the commands."""

from __future__ import annotations

import contextlib
import sys


@contextlib.contextmanager
def progress_bar(disable: bool = False):
    """Yield ``advance(label, done, total)``; draws a rich bar on a terminal (stderr)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if disable or not sys.stderr.isatty():
        yield lambda label, done, total: None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as prog:
        tasks: dict[str, TaskID] = {}

        def advance(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = prog.add_task(f"writing {label}", total=total)
            prog.update(tasks[label], completed=done)

        yield advance
