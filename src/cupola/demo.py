"""``make demo``: the main jobs on the bundled real samples.

1. Georeference the real ISS frame (Meteor camera, 2017-05-17, Texas): time and camera from the
   sample's ``frame.json``, orbit from the real 2017 TLEs, attitude solved from ``tie_points.csv``;
   Del Rio, Texas is marked and must fall on the city lights near the top edge of the frame.
2. Localize a real astronaut photo (ISS064-E-358, Chilean coast) on its Sentinel-2 mosaic and
   reject the wrong candidate (ISS064-E-46242), with the nadir point and focal length known
   beforehand.
3. The published Gaofen-1 shadow worked example (Oriental Pearl TV Tower), with its diagram.
4. Night lights by zone over the census places of the Los Angeles scene (../shared/data): exact
   zonal statistics, inequality, rings, deprived vs other, light vs population, on a synthetic
   radiance raster of stated make-up (see docs/nightlights_zones.md).
5. Thermal: the four real ECOSTRESS scenes of Los Angeles (../shared/data) screened (usable or not,
   and why), masked, and the surface heat island of every census place by day and by night.
6. Plate solving the real AUROMAT Nikon D3S limb photo (../shared/data): its star field solved
   blind from the JPEG alone, compared with astrometry.net's solution of it (see docs/nightlights.md).
7. Stereo heights from a **rendered** pair (no real ISS stereo pair is bundled): two 400 mm frames
   5 s apart along the real 2017-04-18 ISS pass, rendered from the real Jacksboro fault elevation
   model that matplotlib ships, with their known poses; ``cupola stereo`` makes the DEM and its
   predicted error and measures it against the model (see docs/stereo.md).
8. Airglow gravity waves from a **rendered** ISS sequence with known waves (docs/airglow.md).
9. Space objects: six **rendered**, degraded views of an ISS-like model restored by the bundled
   U-Net (PSNR against Wiener with the known PSF) and their attitude by the bundled ResNet-50, two
   of them refined by render-and-compare (docs/rso.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib import resources
from pathlib import Path

SAMPLE = "iss-meteor-2017"


def sample_dir() -> Path:
    """Folder of the bundled Meteor sample (inside the installed package)."""
    return Path(str(resources.files("cupola") / "data" / "samples" / SAMPLE))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="demo-output", type=Path)
    args = parser.parse_args(argv)
    from cupola.cli.main import main as cupola_main

    folder = sample_dir()
    frame = json.loads((folder / "frame.json").read_text())
    cam = frame["camera"]
    mark = frame["landmark"]
    argv_geo = [
        "geolocate",
        str(folder / frame["image"]),
        "--time",
        frame["time_utc"],
        "--tle",
        str(folder / frame["orbit"]["tle_file"]),
        "--focal-mm",
        str(cam["focal_length_mm"]),
        "--sensor-mm",
        str(cam["sensor_width_mm"]),
        str(cam["sensor_height_mm"]),
        "--tie-points",
        str(folder / frame["tie_points"]["file"]),
        "--solve-focal",
        "--landmark",
        f"{mark['name']}:{mark['lat']}:{mark['lon']}",
        "--out",
        str(args.out / SAMPLE),
    ]
    code = _run(cupola_main, argv_geo)
    if code != 0:
        return code
    result = json.loads((args.out / SAMPLE / "result.json").read_text())
    for m in result.get("landmarks", []):
        where = f"pixel ({m['col_px']:.0f}, {m['row_px']:.0f})" if m["in_frame"] else "OUTSIDE the frame"
        print(f"{m['name']} falls at {where} of the {frame['image_size_px'][0]}x{frame['image_size_px'][1]} frame")
    outputs = [args.out / SAMPLE]

    # astronaut-photo localization: a true and a wrong candidate (exit code 3 = "not here")
    for case, expect in (("ISS064-E-358", 0), ("ISS064-E-46242", 3)):
        folder_c = sample_dir().parent / "apl" / case
        info = json.loads((folder_c / "case.json").read_text())
        b, meta = info["reference_bounds"], info["metadata"]
        argv_loc = [
            "locate",
            str(folder_c / "photo.jpg"),
            "--reference",
            str(folder_c / "reference.jpg"),
            "--bounds",
            *(str(b[k]) for k in ("west", "south", "east", "north")),
            "--focal-mm",
            str(meta["lens_focal_length_mm"]),
            "--nadir",
            *(str(x) for x in meta["nadir_point_lat_lon"]),
            "--out",
            str(args.out / "locate" / case),
        ]
        got = _run(cupola_main, argv_loc)
        if got != expect:
            print(f"locate {case}: exit code {got}, expected {expect}", file=sys.stderr)
            return 1
        outputs.append(args.out / "locate" / case)

    # many candidates, no hint which: the bundled cases' folder is a pool of four references
    code = _locate_pool(cupola_main, args.out / "locate-pool", outputs)
    if code != 0:
        return code
    # a grid of tiles each smaller than the photo's footprint: found on a mosaic of adjacent tiles
    code = _locate_grid(cupola_main, args.out / "locate-grid", outputs)
    if code != 0:
        return code
    # a tile much larger than the photo's footprint (as a full Sentinel-2 tile is): found in a window
    code = _locate_big_tile(cupola_main, args.out / "locate-big-tile", outputs)
    if code != 0:
        return code

    # the ISS's own lightning imager: one real orbit of ISS LIS (../shared/data beside the repository)
    lis = Path(__file__).resolve().parents[3] / "shared" / "data" / "iss-lis-2020"
    science = sorted(lis.glob("ISS_LIS_SC_*.nc"))
    background = sorted(lis.glob("ISS_LIS_BG_*.nc"))
    if science and background:
        argv_lis = [
            "lightning",
            "lis",
            str(science[0]),
            "--background",
            str(background[0]),
            "--out",
            str(args.out / "lightning-lis"),
        ]
        code = _run(cupola_main, argv_lis)
        if code != 0:
            return code
        outputs.append(args.out / "lightning-lis")
    else:
        print(f"\n(ISS LIS step skipped: no ISS_LIS_SC/BG files in {lis})")

    # heights from shadows: the published worked example
    argv_sh = [
        "shadows",
        "sideway",
        "--time",
        "2013-08-05T02:56:39Z",
        "--lat",
        "31.23",
        "--lon",
        "121.5",
        "--shadow-m",
        "168",
        "--displacement-m",
        "125.5",
        "--sigma-m",
        "2.83",
        "--sat-altitude-km",
        "645",
        "--plot",
        str(args.out / "shadows" / "oriental_pearl.png"),
    ]
    (args.out / "shadows").mkdir(parents=True, exist_ok=True)
    code = _run(cupola_main, argv_sh)
    if code != 0:
        return code
    outputs.append(args.out / "shadows")

    # the later steps, each with its own output folder (urban night lights by zone: the real census
    # places of the Los Angeles scene in ../shared/data; describe and catalog write at the top level)
    steps = [
        (_nightlights_zones, args.out / "nightlights-zones"),
        (_thermal_stack, args.out / "thermal-la"),
        (_nightlights_stars, args.out / "nightlights-stars"),
        (_stereo_rendered, args.out / "stereo"),
        (_describe_and_catalog, args.out),
        (_hazards_flood, args.out / "hazards-flood"),
        (_hazards_located_flood, args.out / "hazards-located-flood"),
        (_hazards_fire, args.out / "hazards-fire"),
        (_hazards_plume, args.out / "hazards-plume"),
        (_hazards_night_fire, args.out / "hazards-night-fire"),
        (_airglow_rendered, args.out / "airglow"),
        (_rso_rendered, args.out / "rso"),
        (_onboard_bench, args.out / "onboard"),
    ]
    for step, folder in steps:
        code = step(cupola_main, folder, outputs)
        if code != 0:
            return code
    print("\nOutputs are in:")
    for o in outputs:
        print(f"  {o.resolve()}/")
    return 0


def _locate_pool(cupola_main, folder: Path, outputs: list) -> int:
    """The Crimean photo against all four bundled references, with no hint which holds it (no
    nadir point: every reference competes); the ranking and the tiles tried are in result.json."""
    apl = sample_dir().parent / "apl"
    case = "ISS062-E-150758"
    meta = json.loads((apl / case / "case.json").read_text())["metadata"]
    argv = ["locate", str(apl / case / "photo.jpg"), "--reference-dir", str(apl)]
    argv += ["--focal-mm", str(meta["lens_focal_length_mm"]), "--out", str(folder)]
    code = _run(cupola_main, argv)
    if code != 0:
        return code
    pool = json.loads((folder / "result.json").read_text())["pool"]
    tried = ", ".join(f"{t['tile'].split('/')[0]} ({'accepted' if t['matched'] else 'refused'})" for t in pool["tried"])
    print(f"tiles verified in rank order: {tried}")
    outputs.append(folder)
    return 0


def _locate_grid(cupola_main, folder: Path, outputs: list) -> int:
    """The Syrian photo against its Sentinel-2 mosaic cut the way Sentinel-2 hands out a region:
    in its UTM zone, into 4 x 4 GeoTIFF tiles that overlap by 9.8 % of a step (MGRS: 109.8 km
    tiles at a 100 km step), each resampled twice finer (about 560 px, a quarter of the mosaic's
    width: less than the photo's footprint, so no tile alone holds enough of it); the pool verifies
    the best tiles, then windows of adjacent tiles read as one mosaic in that UTM zone."""
    from cupola.io.geotiff import write_north_up_geotiff
    from cupola.locate.reference import read_rgb8
    from cupola.simulate.locate_cases import grid_tiles, utm_crs

    apl = sample_dir().parent / "apl"
    case = "ISS050-E-70536"
    b = json.loads((apl / case / "case.json").read_text())["reference_bounds"]
    bounds = (b["west"], b["south"], b["east"], b["north"])
    crs = utm_crs((bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2)
    tiles = folder / "tiles"
    tiles.mkdir(parents=True, exist_ok=True)
    for name, tile, box, tile_crs in grid_tiles(read_rgb8(apl / case / "reference.jpg"), bounds, 4, 2.0, 0.098, crs):
        write_north_up_geotiff(tiles / f"{name}.tif", tile, box, tile_crs)
    print(f"reference tiles: 4 x 4 in {crs}, overlapping like Sentinel-2's")
    argv = ["locate", str(apl / case / "photo.jpg"), "--reference-dir", str(tiles), "--top-k", "2"]
    return _locate_in_pool(cupola_main, argv, folder, outputs)


def _locate_in_pool(cupola_main, argv: list[str], folder: Path, outputs: list) -> int:
    """``cupola ARGV --out FOLDER/located`` (a pool search), then the tiles it verified, in order."""
    code = _run(cupola_main, [*argv, "--out", str(folder / "located")])
    if code != 0:
        return code
    pool = json.loads((folder / "located" / "result.json").read_text())["pool"]
    tried = ", ".join(f"{t['tile']} ({'accepted' if t['matched'] else 'refused'})" for t in pool["tried"])
    print(f"verified in order: {tried}")
    outputs.append(folder)
    return 0


def _locate_big_tile(cupola_main, folder: Path, outputs: list) -> int:
    """The Chilean photo against a pool holding one big tile: its Sentinel-2 mosaic at its own pixel
    size on a GeoTIFF eight footprints wide (4864 px; the New Mexican mosaic, mirrored, around it),
    and the three other bundled mosaics. Read whole at 1024 px the big tile keeps the footprint in
    ~130 px; the pool also indexes it as 3 x 3 and 7 x 7 overlapping windows and finds the photo in
    one of them."""
    from cupola.io.geotiff import write_north_up_geotiff
    from cupola.simulate.locate_cases import read_base_case, reframe_reference

    apl = sample_dir().parent / "apl"
    cases = {p.name: read_base_case(p) for p in sorted(apl.iterdir()) if (p / "case.json").is_file()}
    chile, filler = cases["ISS064-E-358"], cases["ISS064-E-46242"].reference
    tiles = folder / "tiles"
    tiles.mkdir(parents=True, exist_ok=True)
    image, bounds = reframe_reference(chile, 1 / 8, (0.35, 0.6), filler, out_px=4864)
    write_north_up_geotiff(tiles / "big_tile.tif", image, bounds, "EPSG:4326")
    for name, case in cases.items():
        if name != chile.name:
            write_north_up_geotiff(tiles / f"{name}.tif", case.reference, case.bounds, "EPSG:4326")
    print(f"reference tiles: big_tile.tif ({image.shape[1]} x {image.shape[0]} px) and 3 bundled mosaics")
    argv = ["locate", str(apl / chile.name / "photo.jpg"), "--reference-dir", str(tiles)]
    return _locate_in_pool(cupola_main, argv, folder, outputs)


def _nightlights_zones(cupola_main, folder: Path, outputs: list) -> int:
    """``nightlights zones`` on the census places of the ECOSTRESS Los Angeles scene: zones around the
    real places (census 2000 land areas and counts), a population raster from the counts, and a
    SYNTHETIC radiance raster from a stated model (no real night-light raster is bundled)."""
    la = Path(__file__).resolve().parents[3] / "shared" / "data" / "ecostress-la"
    water = sorted((la / "water_mask").glob("*doy2023175*.tif"))
    if not (la / "California_Cities.geojson").exists() or not water:
        print(f"\n(nightlights zones step skipped: no California_Cities.geojson or water mask in {la})")
        return 0
    from cupola.simulate.urban_nightlights import LA_CENTRE_LAT_LON, build_la_scene

    print("\n# night lights by zone: census places of the Los Angeles scene; the radiance raster is SYNTHETIC")
    info = build_la_scene(la / "California_Cities.geojson", water[0], folder / "inputs")
    p = info["paths"]
    lat, lon = LA_CENTRE_LAT_LON
    argv = ["nightlights", "zones", str(p["radiance"]), "--zones", str(p["zones"]), "--class-field", "deprived",
            "--city-field", "city", "--population", str(p["population"]), "--centre", str(lat), str(lon),
            "--out", str(folder / "products")]  # fmt: skip
    code = _run(cupola_main, argv)
    if code == 0:
        print(f"(model put into the radiance: {info['model']})")
        outputs.append(folder / "products")
    return code


def _thermal_stack(cupola_main, folder: Path, outputs: list) -> int:
    """``thermal stack`` on the four real ECOSTRESS scenes of Los Angeles (../shared/data): each
    scene screened with its reason, masked COGs, the heat island per census place by day and night."""
    la = Path(__file__).resolve().parents[3] / "shared" / "data" / "ecostress-la"
    if not (la / "LST").is_dir() or not (la / "California_Cities.geojson").exists():
        print(f"\n(thermal step skipped: no ECOSTRESS scenes in {la})")
        return 0
    print("\n# thermal: four real ECOSTRESS scenes of Los Angeles, screened; heat island per census place")
    argv = ["thermal", "stack", str(la), "--cities", str(la / "California_Cities.geojson"), "--out", str(folder)]
    code = _run(cupola_main, argv)
    if code == 0:
        outputs.append(folder)
    return code


def _nightlights_stars(cupola_main, folder: Path, outputs: list) -> int:
    """``nightlights stars`` on the real AUROMAT D3S photo: the star field solved blind from the JPEG
    and its EXIF, compared with astrometry.net's WCS of the same photo (agreement.png)."""
    data = Path(__file__).resolve().parents[3] / "shared" / "data" / "auromat-d3s"
    photo, wcs = data / "ISS030-E-102170_dc.jpg", data / "ISS030-E-102170_dc.wcs"
    if not (photo.exists() and wcs.exists()):
        print(f"\n(nightlights stars step skipped: no ISS030-E-102170_dc.jpg/.wcs in {data})")
        return 0
    print("\n# plate solving a real night photo (AUROMAT, Nikon D3S, 2012): stars only, blind, vs astrometry.net")
    code = _run(cupola_main, ["nightlights", "stars", str(photo), "--reference-wcs", str(wcs), "--out", str(folder)])
    if code == 0:
        outputs.append(folder)
    return code


def _stereo_rendered(cupola_main, folder: Path, outputs: list) -> int:
    """``stereo`` on a RENDERED pair: the real Jacksboro DEM (matplotlib's sample data) seen by a
    400 mm lens (912 x 608 px, ~40 m per pixel) 5 s apart on a real ISS pass, known poses."""
    from cupola.geometry.camera import Camera
    from cupola.simulate.stereo import jacksboro_terrain, render_pair, write_pair_files

    print("\n# stereo: a RENDERED pair (real elevation model, real orbit, known poses), 5 s apart")
    cam = Camera.from_focal_sensor(focal_mm=400, sensor_width_mm=36, sensor_height_mm=24, width_px=912, height_px=608)
    pair = render_pair(jacksboro_terrain(detail_cell_m=30.0), cam, separation_s=5.0)
    f = write_pair_files(pair, folder / "inputs")
    argv = ["stereo", str(f["photo1"]), str(f["photo2"]), "--pose1", str(f["pose1"]), "--pose2", str(f["pose2"]),
            "--height-range-m", "-500", "2500", "--reference-dem", str(f["truth_dem"]),
            "--out", str(folder / "products")]  # fmt: skip
    code = _run(cupola_main, argv)
    if code == 0:
        outputs.append(folder / "products")
    return code


def _describe_and_catalog(cupola_main, out: Path, outputs: list) -> int:
    """Describe the demo's own georeferenced frame and located photo in plain words, and build a
    STAC catalog of them (the rejected localization is reported and skipped)."""
    for src, dest in (
        (out / SAMPLE, out / "describe" / SAMPLE),
        (out / "locate" / "ISS064-E-358", out / "describe" / "ISS064-E-358"),
    ):
        code = _run(cupola_main, ["describe", str(src), "--out", str(dest)])
        if code != 0:
            return code
    outputs.append(out / "describe")
    code = _run(
        cupola_main, ["catalog", "build", str(out / SAMPLE), str(out / "locate"), "--out", str(out / "catalog")]
    )
    if code == 0:
        outputs.append(out / "catalog")
    return code


def _hazards_flood(cupola_main, folder: Path, outputs: list) -> int:
    """``hazards flood`` on a real background with a PAINTED flood of known extent (the bundled
    ISS064-E-46242 reference image, a NIR band synthesised from its colours), scored against it."""
    import rasterio

    from cupola.simulate.hazards import flood_pair, write_flood_pair

    print("\n# hazards: a real image with a PAINTED flood (known extent), before/after, NDWI + Otsu")
    ref = sample_dir().parent / "apl" / "ISS064-E-46242" / "reference.jpg"
    f = write_flood_pair(flood_pair(ref), folder / "inputs", times=("2021-01-01T17:00:00Z", "2021-01-05T17:20:00Z"))
    code = _run(cupola_main, ["hazards", "flood", str(f["before"]), str(f["after"]), "--out", str(folder / "products")])
    if code == 0:
        with rasterio.open(folder / "products" / "confidence.tif") as ds, rasterio.open(f["truth"]) as tr:
            found, truth = ds.read(1) > 0, tr.read(1) > 0
        print(f"flood IoU against the painted truth: {(found & truth).sum() / max((found | truth).sum(), 1):.3f}")
        outputs.append(folder / "products")
    return code


def _hazards_located_flood(cupola_main, folder: Path, outputs: list) -> int:
    """``hazards flood --reference``: the real Chilean photo ISS064-E-358 (a plain JPEG, no
    georeferencing) with a PAINTED flood is located against its Sentinel-2 reference by cupola
    locate and mapped on the located grid with the RGB water model; scored against the painted
    truth carried onto that grid by the located homography (seed 2026, fixed before any run)."""
    from cupola.simulate.hazards import score_located_flood, write_located_flood_case

    case = sample_dir().parent / "apl" / "ISS064-E-358"
    print("\n# hazards: a real ISS photo with a PAINTED flood, located first (--reference), then mapped (RGB)")
    ref, after, truth = write_located_flood_case(case, folder / "inputs", seed=2026)
    products = folder / "products"
    argv = ["hazards", "flood", str(ref), str(after), "--reference", str(ref), "--out", str(products)]
    code = _run(cupola_main, argv)
    if code == 0:
        sc = score_located_flood(products, ref, truth)
        print(
            f"flood IoU against the painted truth on the located grid (cloud-free overlap, {sc['seen']:.0%} of it): "
            f"{sc['iou']:.3f} (precision {sc['precision']:.3f}, recall {sc['recall']:.3f})"
        )
        outputs.append(products)
    return code


def _hazards_fire(cupola_main, folder: Path, outputs: list) -> int:
    """``hazards fire`` on a real ECOSTRESS night scene of Los Angeles (../shared/data) with 60
    PAINTED fires of known position (the fire benchmark's painter, on land outside the product's
    water and cloud masks), an earlier night as BEFORE, scored against the painted fires: found (a
    flagged pixel on or next to a fire) and flagged pixels away from every fire (false alarms)."""
    import numpy as np
    import rasterio
    from scipy import ndimage

    from cupola.io.raster_band import read_raster_band, write_raster_band
    from cupola.simulate.hazards import paint_fires

    la = Path(__file__).resolve().parents[3] / "shared" / "data" / "ecostress-la"
    before_f, after_f = sorted(la.glob("LST/*doy2023175*.tif")), sorted(la.glob("LST/*doy2023194*.tif"))
    if not before_f or not after_f:
        print(f"\n(hazards fire step skipped: no ECOSTRESS scenes doy2023175 and doy2023194 in {la / 'LST'})")
        return 0
    print("\n# hazards: a real ECOSTRESS night scene (Los Angeles, 2023-07-13) with 60 PAINTED fires")
    before, after = read_raster_band(before_f[0]), read_raster_band(after_f[0])
    allowed = np.isfinite(after.values)
    for layer in ("water_mask", "cloud_mask"):
        for m in la.glob(f"{layer}/*doy2023194*.tif"):
            v = read_raster_band(m).values
            allowed &= ~(np.nan_to_num(v) > 0) if v.shape == allowed.shape else True
    fires = paint_fires(after.values, n_fires=60, seed=0, allowed=allowed)
    paths = [folder / "inputs" / "before_lst_k.tif", folder / "inputs" / "after_lst_k_painted_fires.tif"]
    paths[0].parent.mkdir(parents=True, exist_ok=True)
    write_raster_band(paths[0], before.values, before.transform, before.crs or "EPSG:4326", units="K")
    write_raster_band(paths[1], fires.brightness_k, after.transform, after.crs or "EPSG:4326", units="K")
    argv = ["hazards", "fire", str(paths[0]), str(paths[1]), "--bands", "thermal", "--out", str(folder / "products")]
    code = _run(cupola_main, argv)
    if code == 0:
        with rasterio.open(folder / "products" / "confidence.tif") as ds:
            found, t = ds.read(1) > 0, ds.transform
        with rasterio.open(folder / "products" / "change.tif") as ds:
            valid = np.isfinite(ds.read(1))  # where both nights have data (the pair's overlap)
        r0, c0 = (
            round((t.f - after.transform[5]) / after.transform[4]),
            round((t.c - after.transform[2]) / after.transform[0]),
        )
        window = (slice(r0, r0 + found.shape[0]), slice(c0, c0 + found.shape[1]))
        near = ndimage.grey_dilation(fires.labels, size=(3, 3))[window]
        seen = np.setdiff1d(np.unique(fires.labels[window][valid]), [0])
        hit = np.intersect1d(np.unique(near[found]), seen)
        print(
            f"painted fires found: {hit.size}/{seen.size} where both nights have data ({int(fires.labels.max())} "
            f"painted, 0.001-25 pixels, 600-1200 K); flagged pixels away from every fire (false alarms): "
            f"{int((found & (near == 0)).sum())}"
        )
        from cupola.analysis.zonal import pixel_area_km2
        from cupola.hazards.frp import SIGMA

        area_m2 = np.broadcast_to(pixel_area_km2(after.transform, after.values.shape, after.crs or "EPSG:4326"),
                                  after.values.shape) * 1e6  # fmt: skip
        power = [
            fires.area_px[k - 1] * float(area_m2[fires.labels == k].mean()) * SIGMA
            * (fires.temperature_k[k - 1] ** 4 - float(np.nanmean(after.values[fires.labels == k])) ** 4)
            for k in hit
        ]  # fmt: skip
        result = json.loads((folder / "products" / "result.json").read_text())
        frp = result["frp"]["total_mw"]
        print(f"fire radiative power of the fires found: {frp:.4g} MW; they radiate {sum(power) / 1e6:.4g} MW")
        from cupola.hazards.grading import FRP_CATEGORIES_MW

        bounds = [b for b, _ in FRP_CATEGORIES_MW][1:]
        truth = np.bincount(np.digitize(np.asarray(power) / 1e6, bounds), minlength=len(bounds) + 1)
        mapped = [g["polygons"] for g in result["grading"]["grades"]]
        print(
            f"fires by FRP category 1-5: mapped {mapped}; the fires found, by the power they radiate {truth.tolist()}"
        )
        outputs.append(folder / "products")
    return code


def _hazards_plume(cupola_main, folder: Path, outputs: list) -> int:
    """``hazards plume`` on a real ECOSTRESS LST scene of Los Angeles (../shared/data) made a
    split-window pair (BT11/BT12 synthesised from it) with a PAINTED ash plume and water clouds (the
    plume benchmark's painter, seed 2026: none of its tuning or held-out cases), scored against
    them: the IoU of the ash and the share of the water-cloud pixels called ash."""
    import numpy as np
    import rasterio

    from cupola.io.raster_band import read_raster_band
    from cupola.simulate.hazards import thermal_plume_scene, write_plume_pair

    la = Path(__file__).resolve().parents[3] / "shared" / "data" / "ecostress-la"
    lst = sorted(la.glob("LST/*doy2023194*.tif"))
    if not lst:
        print(f"\n(hazards plume step skipped: no ECOSTRESS scene doy2023194 in {la / 'LST'})")
        return 0
    print("\n# hazards: a real ECOSTRESS scene (Los Angeles, 2023-07-13) as BT11/BT12, a PAINTED ash plume and clouds")
    band = read_raster_band(lst[0])
    scene = thermal_plume_scene(band.values, 2026)
    f = write_plume_pair(scene, band.transform, folder / "inputs")
    argv = [
        "hazards",
        "plume",
        str(f["before"]),
        str(f["after"]),
        "--bands",
        "tir11,tir12",
        "--out",
        str(folder / "products"),
    ]
    code = _run(cupola_main, argv)
    if code == 0:
        found, window = _on_input_grid(folder / "products" / "confidence.tif", f["truth"])
        with rasterio.open(f["truth"]) as ds:
            plume, cloud = ds.read(1)[window] > 0, ds.read(2)[window] > 0
        valid = (np.isfinite(scene.before).all(0) & np.isfinite(scene.after).all(0))[window]
        found, plume, cloud = found & valid, plume & valid, cloud & valid
        print(
            f"ash IoU against the painted plume: {(found & plume).sum() / max((found | plume).sum(), 1):.3f}; "
            f"water-cloud pixels called ash: {(found & cloud).sum()} of {cloud.sum()}"
        )
        outputs.append(folder / "products")
    return code


def _hazards_night_fire(cupola_main, folder: Path, outputs: list) -> int:
    """``hazards fire --night-photo`` on the real Meteor night frame of Del Rio (../shared/data), its
    JPEG curve undone, with 30 PAINTED fires (flame colours through the Nikon D3S) and 30 PAINTED
    rows of new street lights (library lamps) (the night-fire benchmark's painter, seed 2026),
    put on a north-up grid by an affine fitted to the frame's four tie points; scored against the
    painted truth: fires found and false fires on the new lamps and elsewhere. The command's lamp
    model knows the painted lamps (the benchmark leaves them out: its false fires are the figure)."""
    import numpy as np
    import rasterio
    from scipy import ndimage

    from cupola.analysis.camera_response import read_camera_response
    from cupola.simulate.hazards import night_background, paint_night_fires, tie_point_affine, write_night_pair

    shared = Path(__file__).resolve().parents[3] / "shared" / "data"
    meteor, spectra = shared / "iss-meteor-2017", shared / "lamp-spectra"
    if not (meteor / "frame.json").exists() or not (spectra / "R_D3s.csv").exists():
        print(f"\n(hazards night fire step skipped: no Meteor frame in {meteor} or no D3S curves in {spectra})")
        return 0
    print("\n# hazards: the real Meteor night frame (Del Rio, 2017) with 30 PAINTED fires and 30 PAINTED new lamp rows")
    frame = json.loads((meteor / "frame.json").read_text())
    tie = np.loadtxt(meteor / frame["tie_points"]["file"], delimiter=",", skiprows=1, ndmin=2)
    affine, residual_px = tie_point_affine(tie[:, 0], tie[:, 1], tie[:, 3], tie[:, 2])
    scene = paint_night_fires(night_background(meteor / frame["image"]), read_camera_response(spectra, "D3s"), 2026)
    f = write_night_pair(scene, affine, folder / "inputs")
    print(f"(north-up grid from an affine fitted to the {len(tie)} tie points: largest residual {residual_px:.1f} px)")
    argv = ["hazards", "fire", str(f["before"]), str(f["after"]), "--night-photo", "--out", str(folder / "products")]
    code = _run(cupola_main, argv)
    if code == 0:
        found, window = _on_input_grid(folder / "products" / "confidence.tif", f["truth"])
        with rasterio.open(f["truth"]) as ds:
            fires, lamps = ds.read(1)[window], ds.read(2)[window]
        painted = np.setdiff1d(np.unique(fires), [0])  # the fires inside the frame
        hit = np.intersect1d(np.unique(fires[found]), painted)
        labels, n = ndimage.label(found, structure=np.ones((3, 3), bool))
        on_fire = np.unique(labels[(fires > 0) & found])
        on_lamp = np.setdiff1d(np.unique(labels[(lamps > 0) & found]), on_fire)
        print(
            f"painted fires found: {hit.size}/{painted.size} (in the lit towns {np.sum(hit % 2 == 0)}/"
            f"{np.sum(painted % 2 == 0)}); false fires: {on_lamp.size} on the new lamps, "
            f"{n - np.setdiff1d(on_fire, [0]).size - on_lamp.size} elsewhere"
        )
        outputs.append(folder / "products")
    return code


def _on_input_grid(product_tif: Path, input_tif: Path):
    """(mask of the product's non-zero pixels, the window (row and column slices) of the input
    grid that the product covers): the products are cut to the pair's overlap."""
    import rasterio

    with rasterio.open(product_tif) as ds, rasterio.open(input_tif) as inp:
        found, t, ti = ds.read(1) > 0, ds.transform, inp.transform
    r0, c0 = round((t.f - ti.f) / ti.e), round((t.c - ti.c) / ti.a)
    return found, (slice(r0, r0 + found.shape[0]), slice(c0, c0 + found.shape[1]))


def _airglow_rendered(cupola_main, folder: Path, outputs: list) -> int:
    """``airglow waves`` on a RENDERED sequence (known waves): 20 frames 1.5 s apart of a binned D5
    with a 14 mm lens on the real 2017 orbit over Texas, stars, towns, clouds (docs/airglow.md)."""
    from cupola.simulate.airglow import WavePacket, make_sequence, write_sequence_files

    print("\n# airglow: a RENDERED sequence with two known waves (48 km / 35 deg / 70 m/s, 110 km / 250 deg / 120 m/s)")
    waves = [WavePacket(48.0, 35.0, 70.0, 0.04, 1.0), WavePacket(110.0, 250.0, 120.0, 0.03, 2.5)]
    seq = make_sequence(waves=waves, n_frames=20, interval_s=1.5, binning=16, clouds=0.5, seed=7)
    f = write_sequence_files(seq, folder / "inputs")
    tle = sample_dir() / "iss_tle_25544_20170101-20170630.txt"
    argv = ["airglow", "waves", "--frames", str(f["frames"]), "--frame-times", str(f["frame_times"]),
            "--tle", str(tle), *f["args"], "--flat", str(f["flat"]), "--out", str(folder / "products")]  # fmt: skip
    code = _run(cupola_main, argv)
    if code == 0:
        outputs.append(folder / "products")
    return code


def _rso_rendered(cupola_main, folder: Path, outputs: list) -> int:
    """``rso`` on six RENDERED views (seed 2026: neither training, validation nor benchmark): the
    recovery and pose figures of ``rso evaluate``, ``rso pose --refine`` on two views with their
    errors against the labels, and a figure (degraded, Wiener, U-Net, clean) with each PSNR."""
    try:
        import embreex  # noqa: F401 - the ray caster the renderer needs
    except ImportError:
        print("\n(rso step skipped: embreex, the ray caster of the renderer, is not installed)")
        return 0
    import numpy as np
    from scipy.spatial.transform import Rotation

    from cupola.plot.rso import write_image_grid
    from cupola.rso.dataset import read_set
    from cupola.rso.recover import psnr_db, recover_images, wiener
    from cupola.rso.rotations import angle_deg
    from cupola.rso.spacecraft import iss_like_model
    from cupola.rso.train import build, load_model_file

    print("\n# space objects: six RENDERED, degraded views of an ISS-like model; bundled U-Net and ResNet-50")
    views = folder / "views"
    code = _run(cupola_main, ["rso", "synth", "--n", "6", "--seed", "2026", "--out", str(views)])
    code = code or _run(cupola_main, ["rso", "evaluate", "--data", str(views), "--out", str(folder / "evaluate")])
    if code != 0:
        return code
    data, sym = read_set(views), iss_like_model().symmetries
    for i in (0, 1):
        code = _run(cupola_main, ["rso", "pose", str(views / "degraded" / f"{i:06d}.png"), "--refine",
                                  "--out", str(folder / f"pose-{i}")])  # fmt: skip
        if code != 0:
            return code
        res = json.loads((folder / f"pose-{i}" / "result.json").read_text())
        err = [float(angle_deg(Rotation.from_quat([q]), data.rotations[i : i + 1], sym)[0])
               for q in (res["network"]["quaternion_xyzw"], res["quaternion_xyzw"])]  # fmt: skip
        print(f"view {i}: attitude error {err[0]:.1f} deg (network) -> {err[1]:.1f} deg (refined)")
    clean = np.clip(data.clean, 0.0, 1.0)
    unet = recover_images(build(load_model_file(_rso_weights("recover"), "recover")), data.degraded)
    wien = np.stack([wiener(d, k, 0.1) for d, k in zip(data.degraded, data.psf)])
    grid = np.stack([data.degraded, wien, unet, clean], axis=1)
    labels = [f"{psnr_db(grid[r, c], clean[r]):.1f} dB" if c < 3 else "" for r in range(len(clean)) for c in range(4)]
    write_image_grid(folder / "recovery.png", grid, ["degraded", "Wiener (known PSF)", "U-Net", "clean"], labels,
                     title="rso: rendered views, PSNR against the clean image")  # fmt: skip
    outputs.append(folder)
    return 0


def _onboard_bench(cupola_main, folder: Path, outputs: list) -> int:
    """``onboard bench`` of locate's two networks on real inputs (ALIKED on crops of the bundled
    photos, LightGlue on the fixed pair of the first bundled case's photo and reference), PyTorch
    against ONNX Runtime, with the Syrian case localized by each (a short run: 5 repeats)."""
    argv = ["onboard", "bench", "--models", "aliked,lightglue", "--runtimes", "torch,ort", "--repeats", "5"]
    argv += ["--batches", "1", "--bitflip-trials", "0", "--task-cases", "ISS050-E-70536", "--out", str(folder)]
    code = _run(cupola_main, argv)
    if code == 0:
        outputs.append(folder)
    return code


def _rso_weights(kind: str) -> Path:
    return Path(str(resources.files("cupola") / "data" / "rso" / f"{kind}.pt"))


def _run(cupola_main, argv: list[str]) -> int:
    print("\n$ cupola " + " ".join(f"'{a}'" if " " in a else a for a in argv), flush=True)
    return cupola_main(argv)


if __name__ == "__main__":
    sys.exit(main())
