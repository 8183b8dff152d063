"""Pool mode of ``cupola locate``: each bundled photo against all bundled references plus
distractor tiles, with no hint which tile holds it.

Distractors are crops cut from the bundled references away from the labelled footprints (so they
do not hold the right answer), turned by right angles, rescaled and given a different tone curve,
written as GeoTIFFs with the crop's own lon/lat bounds. ``locate_pool_top1`` counts the true
photos localized on the right place (centre within 2 km of the label) through the pool;
``locate_pool_false_accepts`` counts photos accepted anywhere when no bundled tile holds them.
The 10- and 1000-tile pools are queried with the true photos only (their seconds are the mean
over those, as at 100 tiles). The seconds are query times once the cache exists (listing the
tiles' metadata, photo descriptor, ranking, verification), as one CLI run pays them; the one-off
index time (each tile's global descriptor and whole-tile matching features) is printed as a comment.
The 1000-tile figure uses 900 extra small (256-px)
distractors. With ``CUPOLA_BENCH_POOL_DESCRIPTOR=aliked`` (ALIKED instead of RootSIFT for the global
descriptor; 1-5 s per tile to index on 2 cores) the 1000-tile pool is built only with
``CUPOLA_BENCH_POOL_1000=1``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from common import ROOT, bench_line

CASES = ROOT / "src" / "cupola" / "data" / "samples" / "apl"


def write_geotiff(path: Path, img: np.ndarray, bounds) -> None:
    from cupola.io.geotiff import write_lonlat_geotiff

    write_lonlat_geotiff(path, img, bounds)


def load_cases():
    from cupola.locate.evaluate import find_cases, read_case
    from cupola.locate.reference import load_reference

    out = []
    for folder in find_cases(CASES):
        case = read_case(folder)
        ref = load_reference(folder / case.get("reference", "reference.jpg"), bounds=case["_bounds"])
        truth = (case.get("truth") or {}).get("footprint_lat_lon")
        box = None
        if truth:
            lat, lon = np.array(truth).T
            c, r = ref.lonlat_to_pixel(lon, lat)
            box = (c.min(), r.min(), c.max(), r.max())
        out.append({"folder": folder, "case": case, "ref": ref, "truth_box_px": box})
    return out


def distractors(cases, n: int, size_px: int | None, seed: int):
    """``n`` (image, bounds) crops from the references, away from each labelled footprint."""
    rng = np.random.default_rng(seed)
    made = 0
    while made < n:
        c = cases[int(rng.integers(len(cases)))]
        ref = c["ref"]
        h, w = ref.shape
        side = int(rng.uniform(0.3, 0.6) * min(h, w))
        c0, r0 = int(rng.integers(0, w - side)), int(rng.integers(0, h - side))
        box = c["truth_box_px"]
        if box is not None:
            ix = max(0.0, min(c0 + side, box[2]) - max(c0, box[0]))
            iy = max(0.0, min(r0 + side, box[3]) - max(r0, box[1]))
            if ix * iy > 0.1 * (box[2] - box[0]) * (box[3] - box[1]):
                continue
        turns = int(rng.integers(4))
        out = size_px or int(side * rng.uniform(0.6, 1.0))
        yield crop_tile(ref, c0, r0, side, turns, out, rng.uniform(0.7, 1.4))
        made += 1


def crop_tile(ref, c0: int, r0: int, side: int, turns: int, out_px: int, gamma: float):
    """(image, lon/lat bounds) of the ``side``-px square of ``ref`` at column ``c0``, row ``r0``,
    turned by ``turns`` right angles, area-resized to ``out_px`` and re-toned by ``gamma``: a tile
    that looks unlike the mosaic it was cut from."""
    import cv2

    img = np.rot90(ref.image[r0 : r0 + side, c0 : c0 + side], turns)
    lon, lat = ref.pixel_to_lonlat(np.array([c0 - 0.5, c0 + side - 0.5]), np.array([r0 - 0.5, r0 + side - 0.5]))
    bounds = (float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()))
    img = cv2.resize(np.ascontiguousarray(img), (out_px, out_px), interpolation=cv2.INTER_AREA)
    img = (255.0 * (img / 255.0) ** gamma).astype(np.uint8)
    return np.ascontiguousarray(img), bounds


def make_pools(tmp: Path, cases, big: bool):
    """Folders pool10 (4 references + 6 distractors), pool100 (+ 90 more) and optionally pool1000
    (+ 900 small); the files are hard links of one set, so each tile is indexed once."""
    allf = tmp / "all"
    allf.mkdir()
    names = []
    for c in cases:
        name = f"ref_{c['folder'].name}.tif"
        write_geotiff(allf / name, c["ref"].image, c["ref"].lonlat_bounds())
        names.append(name)
    for i, (img, b) in enumerate(distractors(cases, 96, None, seed=1)):
        name = f"d{i:04d}.tif"
        write_geotiff(allf / name, img, b)
        names.append(name)
    if big:
        for i, (img, b) in enumerate(distractors(cases, 900, 256, seed=2)):
            name = f"s{i:04d}.tif"
            write_geotiff(allf / name, img, b)
            names.append(name)
    pools = {10: names[:10], 100: names[:100]}
    if big:
        pools[1000] = names
    folders = {}
    for n, files in pools.items():
        f = tmp / f"pool{n}"
        f.mkdir()
        for name in files:
            os.link(allf / name, f / name)
        folders[n] = f
    return folders


def run_pool(folder, cases, cache, descriptor: str, top_k: int):
    from cupola.locate.job import read_photo_rgb
    from cupola.locate.localize import LocateOptions
    from cupola.locate.pool import PoolOptions, TilePool, localizer_with_cache

    t0 = time.perf_counter()
    pool = TilePool(folder, PoolOptions(descriptor=descriptor, top_k=top_k), cache=cache)
    list_s = time.perf_counter() - t0  # what every CLI run pays to list the tiles (metadata reads)
    t0 = time.perf_counter()
    # the index: each tile's global descriptor and its matching features, once (one-off cost)
    pool.build_index(localizer=localizer_with_cache(LocateOptions(), cache))
    index_s = time.perf_counter() - t0
    rows = []
    loc = None
    for c in cases:
        meta = c["case"].get("metadata", {})
        opts = LocateOptions(focal_mm=meta.get("lens_focal_length_mm"))  # no nadir: every tile competes
        if loc is None or loc.opts.focal_mm != opts.focal_mm:
            loc = localizer_with_cache(opts, cache)
            loc.opts = opts
        photo = read_photo_rgb(c["folder"] / c["case"].get("photo", "photo.jpg"))
        t0 = time.perf_counter()
        res = pool.locate(photo, opts, localizer=loc)
        rows.append((c, res, time.perf_counter() - t0 + list_s))
    return pool, index_s, rows


def outcome(c, res) -> tuple[bool, str]:
    from pyproj import Geod

    expected = c["case"]["expected"]["photo_inside_reference"]
    own = f"ref_{c['folder'].name}.tif"
    rank = next((r["rank"] for r in res.ranking if r["tile"] == own), None)
    if not expected:
        return not res.matched, f"own (wrong) reference ranked {rank}"
    if not res.matched:
        return False, f"own reference ranked {rank}"
    tlat, tlon = c["case"]["truth"]["footprint_center_lat_lon"]
    err = Geod(ellps="WGS84").inv(*res.result.center_lonlat, tlon, tlat)[2] / 1000
    return err <= 2.0, f"own reference ranked {rank}, accepted {res.tile.name}, centre error {err:.2f} km"


def photo_variants(photo: np.ndarray, n: int, rng):
    """The photo as it is and ``n`` random crops (60-90 % of each side), right-angle turns and
    +-25 deg rotations of it: framings the ranking has not seen."""
    import cv2

    yield photo
    h, w = photo.shape[:2]
    for _ in range(n):
        f = rng.uniform(0.6, 0.9)
        ch, cw = int(h * f), int(w * f)
        r0, c0 = int(rng.integers(0, h - ch)), int(rng.integers(0, w - cw))
        img = np.ascontiguousarray(np.rot90(photo[r0 : r0 + ch, c0 : c0 + cw], int(rng.integers(4))))
        hh, ww = img.shape[:2]
        m = cv2.getRotationMatrix2D((ww / 2, hh / 2), float(rng.uniform(-25, 25)), 1.0)
        yield cv2.warpAffine(img, m, (ww, hh), borderMode=cv2.BORDER_REFLECT)


def ranking_study(pool, cases, lines: bool = True, modes: tuple[str, ...] = ("votes", "vlad")) -> dict:
    """Rank of each true photo's own tile over the photo and seven random crops and turns of it,
    with and without the focal length: the vote ranking against the VLAD cosine on the same
    queries (``locate_pool_rank_top4``, ``locate_pool_rank_top1``), and how often the own tile is
    among the tiles the pool verifies (``top_k`` plus those tied with the leader by votes:
    ``locate_pool_rank_verified``, baseline the top ``top_k`` alone)."""
    from cupola.locate.job import read_photo_rgb
    from cupola.locate.localize import LocateOptions
    from cupola.locate.pool import tied_with_leader

    rng = np.random.default_rng(7)
    ranks: dict[str, list[int]] = {m: [] for m in modes}
    verified: list[int] = []
    kept = pool.opts
    for c in cases:
        if not c["case"]["expected"]["photo_inside_reference"]:
            continue
        own = f"ref_{c['folder'].name}.tif"
        focal = c["case"].get("metadata", {}).get("lens_focal_length_mm")
        photo = read_photo_rgb(c["folder"] / c["case"].get("photo", "photo.jpg"))
        for img in photo_variants(photo, 7, rng):
            for f in (focal, None):
                for mode in ranks:
                    pool.opts = replace(kept, ranking=mode)
                    ranking = pool.rank(img, pool.tiles, LocateOptions(focal_mm=f))
                    ranks[mode].append(next(e["rank"] for e in ranking if e["tile"] == own))
                    if mode == "votes":
                        o = kept
                        verified.append(
                            tied_with_leader([e["votes"] for e in ranking], o.top_k, o.tied_extra, o.vote_band_sigma)
                        )
    pool.opts = kept
    summary = {"verified": sum(k <= n for k, n in zip(ranks["votes"], verified)) if verified else 0}
    for mode, r in ranks.items():
        n = len(pool.tiles)
        print(f"# ranking {mode} ({n} tiles): own tile's rank over {len(r)} queries {sorted(r)}", flush=True)
    inside = sum(k <= n for k, n in zip(ranks["votes"], verified))
    top_k = sum(k <= kept.top_k for k in ranks["votes"])
    print(
        f"# {len(pool.tiles)} tiles: own tile among those verified in {inside} of {len(verified)} queries "
        f"(top {kept.top_k} alone: {top_k}); tiles verified at most {np.mean(verified):.1f} on average",
        flush=True,
    )
    if not lines:
        return summary
    bench_line("locate_pool_rank_verified", inside, "queries", baseline=top_k)
    bench_line(
        "locate_pool_rank_top4",
        sum(k <= 4 for k in ranks["votes"]),
        "queries",
        baseline=sum(k <= 4 for k in ranks["vlad"]),
    )
    bench_line(
        "locate_pool_rank_top1",
        sum(k == 1 for k in ranks["votes"]),
        "queries",
        baseline=sum(k == 1 for k in ranks["vlad"]),
    )
    return summary


def pool_bench():
    from cupola.locate.cache import FeatureCache

    descriptor = os.environ.get("CUPOLA_BENCH_POOL_DESCRIPTOR", "sift")
    top_k = int(os.environ.get("CUPOLA_BENCH_POOL_TOP_K", "4"))
    big = descriptor == "sift" or os.environ.get("CUPOLA_BENCH_POOL_1000") == "1"
    cases = load_cases()
    tmp = Path(tempfile.mkdtemp(prefix="cupola-pool-bench-"))
    try:
        folders = make_pools(tmp, cases, big)
        cache = FeatureCache(tmp / "cache")
        seconds, rank_s = {}, {}
        for n in sorted(folders, key=lambda k: (k != 100, k)):  # pool100 first: it learns the vocabulary
            # the 100-tile pool answers every case; the others only time the true photos (a "not here"
            # verifies top_k tiles and would only repeat the 100-tile figure's cost)
            use = cases if n == 100 else [c for c in cases if c["case"]["expected"]["photo_inside_reference"]]
            pool, index_s, rows = run_pool(folders[n], use, cache, descriptor, top_k)
            true_rows = [(c, r, s) for c, r, s in rows if c["case"]["expected"]["photo_inside_reference"]]
            seconds[n] = float(np.mean([s for _, _, s in true_rows]))
            rank_s[n] = float(np.mean([r.timings_s.get("rank", 0.0) for _, r, _ in rows]))
            verify_s = float(np.mean([r.timings_s.get("verify", 0.0) for _, r, _ in rows]))
            print(
                f"# pool of {n} tiles ({descriptor}, top {top_k}): index {index_s:.1f} s "
                f"({pool.index_computed} descriptors, {pool.features_computed} tiles' matching features), "
                f"query {seconds[n]:.1f} s per true photo "
                f"(all: {', '.join(f'{s:.1f}' for _, _, s in rows)} s); of which ranking {rank_s[n]:.2f} s and "
                f"verification {verify_s:.1f} s per photo on average",
                flush=True,
            )
            if n == 10:  # a small pool: four distinct places (the references) and six crops of them
                ranking_study(pool, cases, lines=False)
            if n == 1000:  # 900 more crops of the same references, each may hold up to 10 % of a footprint
                # baseline: the small pools' vote ratio, which a pool this big used before vote_ratio_big
                kept = pool.opts
                pool.opts = replace(kept, vote_ratio_big=kept.vote_ratio)
                pool._stacked = None
                print(f"# 1000 tiles with the small pools' vote ratio {kept.vote_ratio} (baseline):", flush=True)
                before = ranking_study(pool, cases, lines=False, modes=("votes",))
                pool.opts = kept
                pool._stacked = None
                print(f"# 1000 tiles with vote_ratio_big {kept.vote_ratio_big}:", flush=True)
                after = ranking_study(pool, cases, lines=False, modes=("votes",))
                verified_1000 = (after["verified"], before["verified"])
            if n == 100:
                ranking_study(pool, cases)
                top1 = false_acc = 0
                for c, res, s in rows:
                    ok, note = outcome(c, res)
                    exp = c["case"]["expected"]["photo_inside_reference"]
                    top1 += int(exp and ok)
                    false_acc += int(not exp and res.matched)
                    print(
                        f"#   {c['folder'].name}: {'matched' if res.matched else 'not here'}, {note}; tried "
                        f"{[t['tile'] + ':' + str(t['inliers']) for t in res.tried]}; {s:.1f} s",
                        flush=True,
                    )
                n_true = sum(c["case"]["expected"]["photo_inside_reference"] for c in cases)
                n_wrong = len(cases) - n_true
        bench_line("locate_pool_top1", top1, "cases", baseline=n_true)
        bench_line("locate_pool_false_accepts", false_acc, "cases", baseline=n_wrong)
        bench_line("locate_pool_seconds_10", seconds[10], "s", baseline=10.0)
        bench_line("locate_pool_seconds_100", seconds[100], "s", baseline=10.0)
        if 1000 in seconds:
            print("# the 1000-tile pool adds 900 small (256-px) distractors", flush=True)
            bench_line("locate_pool_seconds_1000", seconds[1000], "s", baseline=seconds[100])
            bench_line("locate_pool_rank_seconds_1000", rank_s[1000], "s", baseline=rank_s[10])
            bench_line("locate_pool_rank_verified_1000", verified_1000[0], "queries", baseline=verified_1000[1])
        else:
            print(
                "# locate_pool_seconds_1000 skipped: set CUPOLA_BENCH_POOL_1000=1 (indexes 900 more tiles)", flush=True
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def pool_robustness():
    """The robustness suite in pool mode (``locate_suite.run_pool``: each varied photo among ten
    GeoTIFF tiles, its own reference, the other places and crops of them; each real photo among the
    same tiles without its own place), against the same suite one photo against its own reference
    (``locate_suite.run``), which a pool can at best equal."""
    import locate_suite

    single = {r["case"]: r for r in locate_suite.run(verbose=False)}
    rows = locate_suite.run_pool(verbose=True)
    s = locate_suite.summary(rows)
    s1 = locate_suite.summary(list(single.values()))
    true_rows = [r for r in rows if r["expected"]]
    lost = [r["case"] for r in true_rows if single[r["case"]]["correct"] and not r["correct"]]
    gained = [r["case"] for r in true_rows if r["correct"] and not single[r["case"]]["correct"]]
    for factor, (n, m) in s["per_factor"].items():
        print(f"# pool robustness factor {factor}: {n}/{m} (one reference: {s1['per_factor'][factor][0]})", flush=True)
    print(f"# found alone but not in the pool: {lost}; in the pool but not alone: {gained}", flush=True)
    not_here = [r["seconds"] for r in rows if not r["expected"]]
    rejected_alone = [r["seconds"] for r in single.values() if not r["expected"]]  # a wrong pair, one reference
    bench_line("locate_pool_robustness_success", s["success_pct"], "%", baseline=s1["success_pct"])
    bench_line(
        "locate_pool_robustness_false_accepts",
        s["false_accepts"] + s["wrong_tile_accepts"],
        "cases",
        baseline=s1["false_accepts"],
    )
    bench_line("locate_pool_robustness_seconds", s["median_true_s"], "s", baseline=s1["median_true_s"])
    bench_line(
        "locate_pool_not_here_seconds", float(np.median(not_here)), "s", baseline=float(np.median(rejected_alone))
    )


def big_tile_bench():
    """A pool holding one tile of a full Sentinel-2 tile's size: 10980 x 10980 px at 10 m in its
    UTM zone, the Syrian mosaic (resampled to 10 m, cubic) pasted off-centre on a canvas of the
    New Mexican mosaic (mirrored, also at 10 m), beside the three other bundled mosaics as 1024-px
    tiles. Indexed once with a cache folder, then the Syrian photo (no focal length) queried twice
    (the second time the verified window's matching features are cached); the baseline is the same
    pool with big tiles taken whole (``split_levels=0``), in the same run."""
    import cv2
    from pyproj import Geod, Transformer

    from cupola.io.geotiff import write_north_up_geotiff
    from cupola.locate.cache import FeatureCache
    from cupola.locate.localize import LocateOptions, ground_distance_m
    from cupola.locate.pool import PoolOptions, TilePool, localizer_with_cache
    from cupola.simulate.locate_cases import read_base_case, utm_crs

    cases = {p.name: read_base_case(p) for p in sorted(CASES.iterdir()) if (p / "case.json").is_file()}
    syria, nm = cases["ISS050-E-70536"], cases["ISS064-E-46242"]
    west, south, east, north = syria.bounds
    geod = Geod(ellps="WGS84")
    cols = round(geod.inv(west, (south + north) / 2, east, (south + north) / 2)[2] / 10.0)
    rows = round(geod.inv((west + east) / 2, south, (west + east) / 2, north)[2] / 10.0)
    side = 10980
    block = np.concatenate([nm.reference, nm.reference[:, ::-1]], axis=1)
    block = np.concatenate([block, block[::-1]], axis=0)
    block = cv2.resize(block, (block.shape[1] * 2, block.shape[0] * 2), interpolation=cv2.INTER_CUBIC)
    canvas = np.tile(block, (side // block.shape[0] + 1, side // block.shape[1] + 1, 1))[:side, :side].copy()
    r0, c0 = 6200, 2100
    canvas[r0 : r0 + rows, c0 : c0 + cols] = cv2.resize(syria.reference, (cols, rows), interpolation=cv2.INTER_CUBIC)
    crs = utm_crs((west + east) / 2, (south + north) / 2)
    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(west, north)
    box = (x - c0 * 10.0, y + r0 * 10.0 - side * 10.0, x - c0 * 10.0 + side * 10.0, y + r0 * 10.0)
    tmp = Path(tempfile.mkdtemp(prefix="cupola-big-tile-"))
    try:
        tiles = tmp / "tiles"
        tiles.mkdir()
        write_north_up_geotiff(tiles / "T_big.tif", canvas, box, crs)
        del canvas
        for name, c in cases.items():
            if name != syria.name:
                write_geotiff(tiles / f"{name}.tif", c.reference, c.bounds)
        opts = LocateOptions()
        out = {}
        for label, pool_opts in (("windows", PoolOptions()), ("whole", PoolOptions(split_levels=0))):
            cache = FeatureCache(tmp / f"cache-{label}")
            loc = localizer_with_cache(opts, cache)
            t0 = time.perf_counter()
            n = len(TilePool(tiles, pool_opts, cache=cache).tiles)
            TilePool(tiles, pool_opts, cache=cache).build_index(localizer=loc)
            index_s = time.perf_counter() - t0
            secs, res = [], None
            for _ in range(2):
                t0 = time.perf_counter()
                res = TilePool(tiles, pool_opts, cache=cache).locate(syria.photo, opts, localizer=loc)
                secs.append(time.perf_counter() - t0)
            assert res is not None
            err = ground_distance_m(*res.result.center_lonlat, *syria.center_lonlat) / 1000 if res.matched else None
            found = bool(err is not None and err <= 2.0)
            print(
                f"# big tile, {label}: {n} tiles and windows, index {index_s:.1f} s, "
                f"{'found on ' + res.tile.name if res.matched else 'not here'}"
                f"{'' if err is None else f' ({err:.2f} km off)'}, queries {secs[0]:.1f} / {secs[1]:.1f} s",
                flush=True,
            )
            out[label] = (found, index_s, secs)
        bench_line("locate_pool_big_tile_found", int(out["windows"][0]), "cases", baseline=int(out["whole"][0]))
        bench_line("locate_pool_big_tile_index_seconds", out["windows"][1], "s", baseline=out["whole"][1])
        bench_line("locate_pool_big_tile_seconds", out["windows"][2][1], "s", baseline=out["whole"][2][1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


BENCHMARKS = {
    "locate_pool": pool_bench,
    "locate_pool_robustness": pool_robustness,
    "locate_pool_big_tile": big_tile_bench,
}
