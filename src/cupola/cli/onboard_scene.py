"""The scene classifier's labelled tiles, built from cupola's real samples (the bundled ones and the
shared data folder), with labels from metadata and geometry by the rules of
:mod:`cupola.onboard.scene`; and its training, split by photo.

This joins capabilities (the ISS LIS background reader of ``lightning``, the classifier of
``onboard``), which DESIGN.md lets only the command-line layer do. Sources and how each is labelled:

=============  =======================================  ==========================================
source          tiles (32 x 32 grey in [0, 1])           labels
=============  =======================================  ==========================================
``apl``         4 daylight ISS photos (bundled), 1/4     day or cloudy: cloud pixels (all of R, G, B
                size (8 x 8 tiles each), sRGB luma       > 0.5 and max - min < 0.15) per tile; the
                                                         photos carry no time: day is assumed (weak)
``meteor``      the Meteor video frame (bundled), 1/4    night: Sun elevation at Del Rio at the
                                                         frame time
``auromat``     the AUROMAT D3S limb photo, 1/8 size     limb from the star-field WCS and the
                                                         station's GCRS position (tangent heights);
                                                         night: Sun elevation under the station
``lis``         the 104 ISS LIS 777-nm background        day / night: Sun elevation at the image's
                images (128 px: 16 tiles), counts/4095   boresight; cloudy: pixels > 1500 counts
                                                         (a rule, not validated: weak)
``ecostress``   4 ECOSTRESS LST scenes, 1/4 size,        day / night: Sun elevation at the scene
                (T - 250 K) / 100 K (thermal: weak)      centre; cloudy: the product's cloud mask
=============  =======================================  ==========================================

A photo is a group (LIS: 8 consecutive images, ~7 min of orbit); in each source the groups sorted
by name at positions 3, 7, 11, ... are the test split, the rest train: no photo is in both.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np

from cupola.onboard.scene import (
    CLASSES,
    TILE_PX,
    TileSet,
    cloud_class,
    limb_tile,
    scene_label,
    tangent_height_km,
    tiles_of,
)

__all__ = ["SAMPLES", "RGB_CLOUD_MIN", "LIS_CLOUD_COUNTS", "scene_tiles", "split_by_photo", "train_and_report"]

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
RGB_CLOUD_MIN = 0.5  # every channel above this (sRGB, 0-1) ...
RGB_CLOUD_SPREAD = 0.15  # ... and nearly grey: a cloud pixel of a daylight photo
LIS_CLOUD_COUNTS = 1500  # a 777-nm background pixel brighter than this is cloud (by day)
LIS_BLOCK = 8


def _sun(time: dt.datetime, lat: float, lon: float) -> float:
    from cupola.geometry.sun import sun_position

    return sun_position(time, lon=lon, lat=lat).elevation_deg


def _tile_set(tiles: list, labels: list, group: str, source: str) -> TileSet:
    keep = [i for i, lab in enumerate(labels) if lab is not None]
    arr = np.asarray([np.clip(np.rint(tiles[i] * 255.0), 0, 255) for i in keep], np.uint8).reshape(-1, TILE_PX, TILE_PX)
    return TileSet(
        arr,
        np.asarray([CLASSES.index(labels[i]) for i in keep], np.int64),
        np.asarray([group] * len(keep)),
        np.asarray([source] * len(keep)),
    )


def _rgb(path: Path, reduce: int) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB").reduce(reduce), np.float32) / 255.0


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.299, 0.587, 0.114], np.float32)


def _apl() -> list[TileSet]:
    out = []
    for photo in sorted((SAMPLES / "apl").glob("*/photo.jpg")):
        rgb = _rgb(photo, 4)
        cloud = ((rgb.min(-1) > RGB_CLOUD_MIN) & (np.ptp(rgb, axis=-1) < RGB_CLOUD_SPREAD)).astype(np.float32)
        tiles, _ = tiles_of(_luma(rgb))
        fractions, _ = tiles_of(cloud)
        labels = [cloud_class(f.mean()) for f in fractions]  # daylight assumed: no time in the metadata
        out.append(_tile_set(list(tiles), labels, f"apl/{photo.parent.name}", "apl"))
    return out


def _meteor() -> list[TileSet]:
    folder = SAMPLES / "iss-meteor-2017"
    meta = json.loads((folder / "frame.json").read_text())
    time = dt.datetime.fromisoformat(meta["time_utc"].replace("Z", "+00:00"))
    elev = _sun(time, meta["landmark"]["lat"], meta["landmark"]["lon"])
    tiles, _ = tiles_of(_luma(_rgb(folder / meta["image"], 4)))
    labels = [scene_label(False, elev, None) for _ in tiles]
    return [_tile_set(list(tiles), labels, "meteor/20170517T054409", "meteor")]


def _auromat(data: Path) -> list[TileSet]:
    import warnings

    from astropy import units as u
    from astropy.coordinates import GCRS, ITRS, CartesianRepresentation
    from astropy.io import fits
    from astropy.time import Time
    from astropy.wcs import WCS

    folder = data / "auromat-d3s"
    photo, wcs_file = folder / "ISS030-E-102170_dc.jpg", folder / "ISS030-E-102170_dc.wcs"
    if not (photo.is_file() and wcs_file.is_file()):
        return []
    header = fits.Header.fromstring(wcs_file.read_bytes())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # astrometry.net's SIP-less header notes
        wcs = WCS(header)
    reduce = 8
    grey = _luma(_rgb(photo, reduce))
    tiles, corners = tiles_of(grey)
    # the tangent height of each tile's rays: 5 x 5 rays per tile, in the full-size pixel frame
    station_km = np.array([header["POSX"], header["POSY"], header["POSZ"]], float)
    offs = (np.arange(5) + 0.5) / 5 * TILE_PX
    rr, cc = np.meshgrid(offs, offs, indexing="ij")
    rows = (corners[:, 0, None, None] + rr) * reduce
    cols = (corners[:, 1, None, None] + cc) * reduce
    ra, dec = (np.radians(a) for a in wcs.all_pix2world(cols, rows, 0))
    d = np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], -1)
    height = tangent_height_km(station_km, d).reshape(len(tiles), -1)
    # the Sun under the station at the corrected photo time (EXIF time + DATESHIF)
    time = Time(header["DATE-OBS"], scale="utc") + float(header.get("DATESHIF", 0.0)) * u.s
    gcrs = GCRS(CartesianRepresentation(*(station_km * u.km)), obstime=time)
    sub = gcrs.transform_to(ITRS(obstime=time)).earth_location
    elev = _sun(time.to_datetime(timezone=dt.timezone.utc), float(sub.lat.deg), float(sub.lon.deg))
    labels = [scene_label(limb_tile(h), elev, None) for h in height]
    return [_tile_set(list(tiles), labels, "auromat/ISS030-E-102170", "auromat")]


def _lis(data: Path) -> list[TileSet]:
    from cupola.lightning.lis import read_lis_background

    files = sorted((data / "iss-lis-2020").glob("ISS_LIS_BG_*.nc"))
    out = []
    for f in files:
        bg = read_lis_background(f)
        for start in range(0, len(bg.time), LIS_BLOCK):
            parts = []
            for i in range(start, min(start + LIS_BLOCK, len(bg.time))):
                counts = bg.images[i].astype(np.float32)
                t = bg.time[i].astype("datetime64[us]").astype(dt.datetime).replace(tzinfo=dt.timezone.utc)
                lat, lon = (float(v) for v in bg.boresight_lat_lon_deg[i])
                elev = _sun(t, lat, lon)
                tiles, _ = tiles_of(np.clip(counts / 4095.0, 0, 1))
                bright, _ = tiles_of((counts > LIS_CLOUD_COUNTS).astype(np.float32))
                labels = [scene_label(False, elev, b.mean()) for b in bright]
                parts.append(_tile_set(list(tiles), labels, f"lis/{f.stem[-5:]}-{start // LIS_BLOCK:02d}", "lis"))
            out.append(_concat(parts))
    return out


def _block_mean(a: np.ndarray, k: int) -> np.ndarray:
    h, w = a.shape[0] // k * k, a.shape[1] // k * k
    return a[:h, :w].reshape(h // k, k, w // k, k).mean(axis=(1, 3))


def _ecostress(data: Path) -> list[TileSet]:
    from cupola.io.ecostress import find_ecostress_scenes, read_ecostress_geotiffs

    folder = data / "ecostress-la"
    if not folder.is_dir():
        return []
    out = []
    for s in find_ecostress_scenes(folder):
        if "cloud" not in s:
            continue
        scene = read_ecostress_geotiffs(s["lst"], None, s["cloud"])
        if scene.time is None or scene.cloud is None:
            continue
        lst = _block_mean(scene.lst_k, 4)  # NaN (no data) spreads to its block
        cloud = _block_mean(np.where(scene.cloud == 255, np.nan, scene.cloud.astype(np.float32)), 4)
        tiles, corners = tiles_of((lst - 250.0) / 100.0)
        cfrac, _ = tiles_of(cloud)
        a, b, c, d, e, f = scene.transform
        labels: list[str | None] = []
        for tile, cf, (r, col) in zip(tiles, cfrac, corners):
            if not (np.all(np.isfinite(tile)) and np.all(np.isfinite(cf))):
                labels.append(None)
                continue
            x, y = (col + TILE_PX / 2) * 4, (r + TILE_PX / 2) * 4
            lon, lat = a * x + b * y + c, d * x + e * y + f  # the affine a..f of the GeoTIFF
            labels.append(scene_label(False, _sun(scene.time, lat, lon), float(cf.mean())))
        tiles = np.clip(np.nan_to_num(tiles), 0, 1)
        out.append(_tile_set(list(tiles), labels, f"ecostress/{scene.name}", "ecostress"))
    return out


def _concat(parts: list[TileSet]) -> TileSet:
    return TileSet(
        np.concatenate([p.tiles for p in parts]).reshape(-1, TILE_PX, TILE_PX),
        np.concatenate([p.labels for p in parts]).astype(np.int64),
        np.concatenate([p.groups for p in parts]),
        np.concatenate([p.sources for p in parts]),
    )


def scene_tiles(data: str | Path | None) -> TileSet:
    """All labelled tiles: the bundled samples, and the shared data folder ``data`` (None: the
    bundled samples only)."""
    parts = _apl() + _meteor()
    if data is not None:
        d = Path(data)
        parts += _auromat(d) + _lis(d) + _ecostress(d)
    return _concat(parts)


def split_by_photo(ts: TileSet) -> np.ndarray:
    """True for the test tiles: in each source, the groups at sorted positions 3, 7, 11, ..."""
    test = np.zeros(len(ts), bool)
    for source in np.unique(ts.sources):
        groups = sorted(np.unique(ts.groups[ts.sources == source]))
        for k, g in enumerate(groups):
            if k % 4 == 3:
                test |= ts.groups == g
    return test


def _counts(ts: TileSet) -> dict:
    return {
        str(src): {c: int(np.sum((ts.sources == src) & (ts.labels == i))) for i, c in enumerate(CLASSES)}
        for src in np.unique(ts.sources)
    }


def train_and_report(data: str | Path | None, *, epochs: int = 30, seed: int = 0) -> tuple[object, TileSet, dict]:
    """Build the tiles, train on the train split, score the test split: (network, test set, report)."""
    import time

    from cupola.onboard.scene import accuracy, predict_classes, train_scene

    ts = scene_tiles(data)
    test = split_by_photo(ts)
    c0 = time.process_time()
    net, history = train_scene(ts.subset(~test), epochs=epochs, seed=seed)
    cpu_s = time.process_time() - c0
    held = ts.subset(test)
    score = accuracy(predict_classes(net, held.inputs()), held.labels)
    per_source = {
        str(s): accuracy(predict_classes(net, held.subset(held.sources == s).inputs()), held.labels[held.sources == s])[
            "accuracy"
        ]
        for s in np.unique(held.sources)
    }
    report = {
        "train_tiles": int((~test).sum()),
        "test_tiles": int(test.sum()),
        "train_groups": sorted({str(g) for g in ts.groups[~test]}),
        "test_groups": sorted({str(g) for g in ts.groups[test]}),
        "counts_train": _counts(ts.subset(~test)),
        "counts_test": _counts(held),
        "epochs": epochs,
        "seed": seed,
        "train_cpu_s": cpu_s,
        "loss_history": history,
        "test": score,
        "test_accuracy_per_source": per_source,
    }
    return net, held, report
