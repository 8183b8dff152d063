"""``cupola catalog``: STAC Items and a static STAC Collection of product folders (thin wrapper
over :mod:`cupola.catalog`)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from cupola.cli import options

catalog_app = typer.Typer(help="STAC catalogs of cupola product folders.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(catalog_app, name="catalog")


@catalog_app.command("build")
def build_command(
    folders: list[Path] = typer.Argument(..., help="Product folders, or folders holding product folders."),
    title: str = typer.Option("cupola products", "--title", help="Title of the collection."),
    collection_id: str = typer.Option("cupola-products", "--id", help="Id of the collection."),
    thumbnail_px: int = typer.Option(256, "--thumbnail-px", help="Longest side of the thumbnails (px)."),
    out: Path = options.out_folder("Catalog folder (collection.json, one folder per item)."),
) -> None:
    """A static STAC Collection (items with projection, view and eo fields, COG, thumbnail and
    result.json assets), validated offline; broken folders are reported and skipped."""
    from cupola.catalog.build import build_catalog
    from cupola.cli.progress import progress_bar

    with progress_bar() as advance:
        report = build_catalog(
            folders,
            out,
            collection_id=collection_id,
            title=title,
            thumbnail_px=thumbnail_px,
            progress=lambda done, total: advance("items", done, total),
        )
    for b in report.broken:
        print(f"catalog: skipped {b['folder']}: {b['reason']}", file=sys.stderr)
    print(f"catalog: {len(report.items)} item(s), {len(report.broken)} skipped -> {report.catalog}")


@catalog_app.command("validate")
def validate_command(
    files: list[Path] = typer.Argument(..., help="STAC JSON files (Item, Catalog or Collection)."),
) -> None:
    """Validate against the core STAC 1.1.0 schemas shipped with pystac (offline)."""
    from cupola.catalog.validate import validate_stac

    bad = 0
    for f in files:
        errs = validate_stac(f)
        bad += bool(errs)
        print(f"{f}: {'valid' if not errs else 'INVALID: ' + '; '.join(errs[:3])}")
    if bad:
        raise typer.Exit(3)


@catalog_app.command("export")
def export_command(
    catalog: Path = typer.Argument(..., help="Catalog folder made by catalog build (or its collection.json)."),
    title: str = typer.Option("cupola catalog", "--title", help="Title of the page."),
    out: Path = options.out_folder("Folder for index.html and thumbs/."),
) -> None:
    """A static, offline web map of the catalog (footprints on a coastline base map, thumbnail
    overlays, side panel, search, time slider): open index.html in a browser."""
    from cupola.catalog.webmap import export_webmap

    page = export_webmap(catalog, out, title=title)
    print(f"catalog export: -> {page}")


@catalog_app.command("serve")
def serve_command(
    catalog: Path = typer.Argument(..., help="Catalog folder made by catalog build (or its collection.json)."),
    port: int = typer.Option(8765, "--port", help="Port on 127.0.0.1."),
) -> None:
    """Serve the web map of the catalog on http://127.0.0.1:PORT/ until Ctrl-C (nothing is written
    beside the catalog: the page is exported into a temporary folder)."""
    import functools
    import http.server
    import tempfile

    from cupola.catalog.webmap import export_webmap

    with tempfile.TemporaryDirectory(prefix="cupola-webmap-") as tmp:
        export_webmap(catalog, Path(tmp) / "web")
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(Path(tmp) / "web"))
        with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as httpd:
            print(f"catalog serve: http://127.0.0.1:{port}/ (Ctrl-C to stop)", flush=True)
            try:
                httpd.serve_forever()
            except KeyboardInterrupt:
                pass
