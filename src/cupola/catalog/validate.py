"""Offline validation against the core STAC 1.1.0 JSON schemas (Item, Catalog, Collection) and the
GeoJSON schemas that ``pystac`` ships in ``pystac/validation/jsonschemas`` (no network: every
``$ref`` resolves from that folder). Extension schemas (projection, view, eo) are not shipped by
any installed package and are not fetched; the extension fields cupola writes are checked by
:func:`check_extension_fields` instead (types and ranges from the extension specifications)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from cupola.io.limits import read_json_bounded

__all__ = ["validate_stac", "check_extension_fields"]

_BASE = "https://schemas.stacspec.org/v1.1.0/"
_SPECS = ("item-spec", "catalog-spec", "collection-spec")


@functools.lru_cache(maxsize=1)
def _validators() -> dict[str, Any]:
    import jsonschema
    import pystac.validation.jsonschemas as js
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT7

    root = Path(next(iter(js.__path__)))
    pairs = []
    for f in sorted((root / "stac-spec" / "v1.1.0").glob("*.json")):
        res = Resource.from_contents(json.loads(f.read_text()), default_specification=DRAFT7)
        pairs += [(f"{_BASE}{spec}/json-schema/{f.name}", res) for spec in _SPECS]
    for f in sorted((root / "geojson").glob("*.json")):
        res = Resource.from_contents(json.loads(f.read_text()), default_specification=DRAFT7)
        pairs.append((f"https://geojson.org/schema/{f.name}", res))
    registry = Registry().with_resources(pairs)
    out = {}
    for kind, spec in (("Feature", "item-spec"), ("Catalog", "catalog-spec"), ("Collection", "collection-spec")):
        name = {"Feature": "item", "Catalog": "catalog", "Collection": "collection"}[kind]
        schema = registry.contents(f"{_BASE}{spec}/json-schema/{name}.json")
        cls = jsonschema.validators.validator_for(schema)
        out[kind] = cls(schema, registry=registry)
    return out


def check_extension_fields(d: dict) -> list[str]:
    """Problems with the view/proj/eo fields of an Item dict (empty list when all is well)."""
    p = d.get("properties", {})
    probs = []
    ranges = {
        "view:off_nadir": (0, 90),
        "view:incidence_angle": (0, 90),
        "view:azimuth": (0, 360),
        "view:sun_azimuth": (0, 360),
        "view:sun_elevation": (-90, 90),
        "gsd": (0, float("inf")),
        "eo:cloud_cover": (0, 100),
    }
    for k, (lo, hi) in ranges.items():
        if k in p and not (isinstance(p[k], (int, float)) and lo <= p[k] <= hi):
            probs.append(f"properties.{k}: {p[k]!r} is not a number in [{lo}, {hi}]")
    if "proj:code" in p and not (p["proj:code"] is None or isinstance(p["proj:code"], str)):
        probs.append("properties.proj:code: expected a string such as 'EPSG:4326'")
    for name, a in d.get("assets", {}).items():
        for k in ("proj:shape",):
            if k in a and not (isinstance(a[k], list) and len(a[k]) == 2 and all(isinstance(v, int) for v in a[k])):
                probs.append(f"assets.{name}.{k}: expected two integers")
        if "proj:transform" in a and not (isinstance(a["proj:transform"], list) and len(a["proj:transform"]) in (6, 9)):
            probs.append(f"assets.{name}.proj:transform: expected 6 or 9 numbers")
    return probs


def validate_stac(obj: dict | str | Path) -> list[str]:
    """Schema problems of one STAC Item, Catalog or Collection (a dict or a JSON file): an empty list
    when it validates against the core schema and the extension checks."""
    if not isinstance(obj, dict):
        obj = read_json_bounded(obj, "a STAC JSON file")
    if not isinstance(obj, dict):
        return [f"(root): a JSON {type(obj).__name__}, expected an object (Feature, Catalog or Collection)"]
    kind = obj.get("type")
    if kind not in ("Feature", "Catalog", "Collection"):
        return [f"type: {kind!r}, expected Feature, Catalog or Collection"]
    v = _validators()[kind]
    errs = [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in v.iter_errors(obj)]
    if kind == "Feature":
        errs += check_extension_fields(obj)
    return errs
