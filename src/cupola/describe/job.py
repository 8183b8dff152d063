"""Describe one result and write ``description.json`` and ``description.txt`` into an output folder
(all or nothing, through :func:`cupola.io.staging.staged_output`)."""

from __future__ import annotations

from pathlib import Path

from cupola.describe.facts import describe_result, load_result
from cupola.describe.text import paragraph
from cupola.io.staging import staged_output, write_json

__all__ = ["describe"]


def describe(source: str | Path, out_dir: str | Path, **options) -> dict:
    """Read ``source`` (a result.json or a product folder), describe it, write the products into
    ``out_dir``; returns the facts with their ``text``. Bad input raises InputError before anything
    is written."""
    d = load_result(source)
    facts = describe_result(d, **options)
    facts["text"] = paragraph(facts)
    with staged_output(out_dir, "`out_dir`", kind="describe", inputs=[Path(source)]) as stage:
        write_json(stage / "description.json", facts)
        (stage / "description.txt").write_text(facts["text"] + "\n")
    return facts
