"""Plate solving a night photo's star field on its own: which stars are in it, where the camera
pointed, and a FITS WCS of the photo's pixels.

The steps, as pure functions (the command is :mod:`cupola.nightlights.plate_job`):

1. **sources** (:func:`find_sources`, from :mod:`cupola.nightlights.sources`, the route the
   calibration's star step uses too): segmentation of the superpixel luminance with a *noise
   floor for quantised photos*: an 8-bit JPEG's black sky is a flat 0, where the measured noise
   is 0 and every code value above it would be a "5-sigma" source, so the noise is never taken
   below one code value of each channel at the local background (decoded through the sRGB curve).
   Then each source is classed **star-like or not** (:class:`SourceFilter`): compact (size and
   peak/flux), round (a star trail of the station's rotation is short at the focal lengths used
   for star fields), not a lamp's colour (in a photo's white-balanced RGB, sodium city lights are
   red: R/B above 2.5), light in more than one channel (hot pixels and coloured artefacts light
   one). City lights, aurora and airglow structure and JPEG block artefacts are the sources this
   removes; in the AUROMAT Nikon D3S limb photo most of the 25 brightest star-like sources are
   stars, where plain detection had none among its 25 brightest.
2. **solve** (:func:`solve_plate`): :func:`cupola.nightlights.astrometry.solve_astrometry`
   (blind triangle matching against Hipparcos, then a robust fit of the camera -> ICRS rotation
   and the focal length) on the star-like sources, brightest first. A blind solve must predict the
   other stars to ~17 px to verify a triangle match, so the focal length it starts from must be
   right to about 1 %: an EXIF focal length is nominal, and a photo that was resampled (a lens
   correction that enlarges to fill the frame, a crop) has another scale. The blind solve is
   therefore tried at the EXIF focal length times :data:`FOCAL_SEARCH` (1 % steps out to +-6 %,
   the solver's own tolerance on triangle size) until one verifies; its fit then refines the
   focal length. With the station's position known, sources whose lines of sight pass below
   ``min_tangent_height_m`` (default 40 km: refraction bends a ray grazing the atmosphere by up to
   a degree near the ground, falling with a scale height of ~7 km) are dropped and the fit redone:
   they are city lights, or stars displaced by refraction.
3. **WCS** (:func:`wcs_header`): the solution as a FITS header, TAN projection (CD matrix,
   CRPIX at the optical axis, CRVAL its ICRS direction); with a lens distortion model, SIP
   polynomials (Shupe et al. 2005) fitted to it on a grid of the photo's pixels (``A``/``B`` for
   pixel -> sky and ``AP``/``BP`` for sky -> pixel), so that ``astropy.wcs.WCS`` maps the photo's
   own pixels, with the worst fitting error stated. A distortion polynomial in r^2 (lensfun's
   poly3/poly5) is matched to ~0.001 px at degree 9; lensfun's PTLens model, whose term linear in
   r no polynomial in (u, v) reproduces, to ~3 % of its largest displacement (0.4 px of 13 px on a
   1392-px frame of a 24-70 mm at 50 mm): the exact mapping is the solution's own
   (:meth:`PlateSolution.pixel_to_icrs`, ``stars.csv``).
4. **pose** (:func:`camera_pose`): with the station's state (TLE and time), the camera's
   orientation in ITRS and LVLH (quaternions, matrices, roll/pitch/yaw of
   :mod:`cupola.geometry.attitude`) and where the boresight looks (off-nadir angle, azimuth from
   the flight direction, elevation, the ground point or the tangent height of a ray above the
   limb). The stars give camera -> ICRS; GCRS shares ICRS's axes, and ``gcrs_to_itrs`` of the
   state turns it Earth-fixed. The solved rotation absorbs aberration (annual ~20", orbital ~5"):
   the pose is of apparent directions, good to ~0.01 deg.

Checks of a solution against another one (astrometry.net's WCS of the same photo):
:func:`wcs_directions`, :func:`angle_deg`; the sky part of a frame: :func:`tangent_height_m`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.spatial.transform import Rotation

from cupola.geometry import attitude as att
from cupola.geometry import geodesy
from cupola.geometry.camera import Camera
from cupola.nightlights.astrometry import AstrometricSolution, solve_astrometry
from cupola.nightlights.astrometry import wcs_header as _tan_header
from cupola.nightlights.sources import (  # the source detection shared with the calibration
    Quantisation,
    SourceFilter,
    Sources,
    colour_planes,
    find_sources,
    quantisation_floor,
)

if TYPE_CHECKING:
    from cupola.geometry.orbit import StateVector
    from cupola.nightlights.catalog import StarCatalog
    from cupola.nightlights.lens import LensModel

__all__ = [
    "FOCAL_SEARCH",
    "MIN_TANGENT_HEIGHT_M",
    "Quantisation",
    "SourceFilter",
    "Sources",
    "PlateSolution",
    "colour_planes",
    "quantisation_floor",
    "find_sources",
    "solve_plate",
    "wcs_header",
    "wcs_directions",
    "wcs_agreement",
    "angle_deg",
    "tangent_height_m",
    "camera_pose",
]

#: factors of the prior focal length tried in turn by a blind solve (first that verifies wins)
FOCAL_SEARCH = (1.0, 1.01, 0.99, 1.02, 0.98, 1.03, 0.97, 1.04, 0.96, 1.05, 0.95, 1.06, 0.94)
#: lines of sight grazing the Earth below this height are not sky (refraction, city lights)
MIN_TANGENT_HEIGHT_M = 40_000.0


@dataclass(frozen=True, eq=False)
class PlateSolution:
    """A solved star field.

    ``astrometry`` is the solver's solution in *undistorted* pixels, its ``det_index`` pointing
    into ``candidates`` (the sources given to it, indices into the :class:`Sources`);
    ``lens`` maps the photo's pixels to undistorted ones (None: the photo is a pinhole image);
    ``focal_scale`` is the factor of the prior focal length the blind search verified at (1 for a
    solve from a given rotation); ``attempts`` lists each try.
    """

    astrometry: AstrometricSolution
    camera_prior: Camera
    lens: LensModel | None
    candidates: np.ndarray
    catalog: StarCatalog
    epoch_year: float
    focal_scale: float = 1.0
    method: str = "blind"
    attempts: list = field(default_factory=list)
    below_limb_removed: int = 0
    notes: list = field(default_factory=list)

    @property
    def camera(self) -> Camera:
        return self.astrometry.camera

    @property
    def rotation(self) -> Rotation:
        """Camera -> ICRS."""
        return self.astrometry.rotation

    def _undistort(self, col, row):
        if self.lens is None:
            return np.asarray(col, float), np.asarray(row, float)
        return self.lens.undistort(col, row)

    def _distort(self, col, row):
        if self.lens is None:
            return np.asarray(col, float), np.asarray(row, float)
        return self.lens.distort(col, row)

    def pixel_to_icrs(self, col, row) -> np.ndarray:
        """ICRS unit vectors (..., 3) of the photo's pixels (col, row)."""
        cu, ru = self._undistort(col, row)
        ray = self.camera.pixel_to_ray(cu, ru)
        ray = ray / np.linalg.norm(ray, axis=-1, keepdims=True)
        return self.rotation.apply(ray.reshape(-1, 3)).reshape(ray.shape)

    def icrs_to_pixel(self, vec) -> tuple[np.ndarray, np.ndarray]:
        """Photo pixels (col, row) of ICRS directions (..., 3); NaN behind the camera."""
        v = np.asarray(vec, float)
        cam = self.rotation.inv().apply(v.reshape(-1, 3)).reshape(v.shape)
        cu, ru = self.camera.ray_to_pixel(cam)
        return self._distort(cu, ru)

    @property
    def pixel_scale_arcsec(self) -> float:
        return float(np.degrees(1.0 / self.camera.focal_px) * 3600.0)

    @property
    def field_deg(self) -> tuple[float, float]:
        c = self.camera
        return (
            float(np.degrees(2 * np.arctan(c.width_px / 2 / c.focal_x_px))),
            float(np.degrees(2 * np.arctan(c.height_px / 2 / c.focal_y_px))),
        )

    def matched(self, sources: Sources) -> dict[str, np.ndarray]:
        """The matched stars as columns: Hipparcos number, ICRS RA/Dec (deg, at the epoch),
        Hp magnitude, B-V, measured and predicted photo pixels, residual (px)."""
        sol = self.astrometry
        det = sources.detections
        src = self.candidates[sol.det_index]
        cat = self.catalog
        ci = sol.cat_index
        vec = cat.subset(ci).unit_vectors(self.epoch_year)
        pc, pr = self.icrs_to_pixel(vec)
        ra = np.degrees(np.arctan2(vec[:, 1], vec[:, 0])) % 360.0
        dec = np.degrees(np.arcsin(np.clip(vec[:, 2], -1, 1)))
        return {
            "hip": cat.hip[ci],
            "ra_deg": ra,
            "dec_deg": dec,
            "hp_mag": cat.hp_mag[ci],
            "b_v": cat.b_v[ci],
            "col": det.col[src],
            "row": det.row[src],
            "pred_col": pc,
            "pred_row": pr,
            "residual_px": np.hypot(pc - det.col[src], pr - det.row[src]),
            "source": src,
        }

    def to_dict(self) -> dict[str, Any]:
        sol = self.astrometry
        ra, dec = sol.boresight_radec_deg
        fw, fh = self.field_deg
        return {
            "method": self.method,
            "focal_search": {
                "prior_focal_px": self.camera_prior.focal_px,
                "verified_at_factor": self.focal_scale,
                "attempts": self.attempts,
            },
            "n_candidates": int(self.candidates.size),
            "n_matched": sol.n_matched,
            "rms_px": sol.rms_px,
            "focal_px": sol.camera.focal_px,
            "focal_factor_of_prior": sol.camera.focal_px / self.camera_prior.focal_px,
            "pixel_scale_arcsec": self.pixel_scale_arcsec,
            "field_of_view_deg": [fw, fh],
            "boresight_ra_deg": ra,
            "boresight_dec_deg": dec,
            "quaternion_camera_to_icrs_xyzw": sol.rotation.as_quat().tolist(),
            "matrix_camera_to_icrs": sol.rotation.as_matrix().tolist(),
            "below_limb_removed": self.below_limb_removed,
            "catalog": self.catalog.source,
            "catalog_epoch_year": self.epoch_year,
            "notes": list(sol.notes) + list(self.notes),
        }


def tangent_height_m(directions, position_m) -> np.ndarray:
    """Height above the WGS84 ellipsoid of the lowest point of each line of sight (..., 3) from
    ``position_m`` (Earth-centred, z along the Earth's axis: ITRS, or GCRS to within the pole's
    precession, a few hundred metres here); negative where the ray hits the Earth. Computed on the
    ellipsoid scaled to a sphere (z by a/b): exact at the equator, within ~0.3 % of the height
    elsewhere. Rays pointing away from the Earth give the observer's own height."""
    k = np.array([1.0, 1.0, geodesy.A_M / geodesy.B_M])
    p = np.asarray(position_m, float).reshape(3) * k
    d = np.asarray(directions, float) * k
    d = d / np.linalg.norm(d, axis=-1, keepdims=True)
    t = np.clip(-(d @ p), 0.0, None)
    closest = p + t[..., None] * d
    return np.linalg.norm(closest, axis=-1) - geodesy.A_M


def _catalog_arrays(mag_limit: float, epoch_year: float):
    from cupola.nightlights.catalog import load_catalog

    cat = load_catalog(mag_limit)
    return cat, cat.unit_vectors(epoch_year)


def solve_plate(
    sources: Sources,
    camera: Camera,
    *,
    epoch_year: float,
    lens: LensModel | None = None,
    mag_limit: float = 7.0,
    focal_search: tuple[float, ...] = FOCAL_SEARCH,
    prior_rotation: Rotation | None = None,
    station_position_m: np.ndarray | None = None,
    min_tangent_height_m: float = MIN_TANGENT_HEIGHT_M,
    max_sources: int = 500,
    min_stars: int = 6,
) -> tuple[PlateSolution | None, str]:
    """Solve the star field of ``sources`` (see the module).

    Args:
        sources: from :func:`find_sources`; only the star-like ones are used, brightest first.
        camera: the prior pinhole camera of *undistorted* pixels (focal length from EXIF).
        epoch_year: the photo's epoch (Julian year) for the stars' proper motions.
        lens: the lens' distortion (photo pixels <-> undistorted); None for a pinhole photo.
        prior_rotation: camera -> ICRS, when known; None solves blind over ``focal_search``.
        station_position_m: the camera's position in GCRS (or ITRS with a rotation to match:
            only heights are used) to drop sources below ``min_tangent_height_m``; None keeps all.
    Returns:
        (solution, "") or (None, the reason).
    """
    star = np.flatnonzero(sources.star_like)[:max_sources]
    det = sources.detections
    if star.size < min_stars:
        why = ", ".join(f"{n} {r}" for r, n in sorted(sources.rejected().items(), key=lambda x: -x[1])[:4])
        return None, (
            f"only {star.size} star-like sources among {len(det)} detected"
            + (f" (not star-like: {why})" if why else "")
            + f"; at least {min_stars} stars are needed"
        )
    cat, vec = _catalog_arrays(mag_limit, epoch_year)
    col, row = det.col[star], det.row[star]
    cu, ru = (col, row) if lens is None else lens.undistort(col, row)
    attempts: list[dict] = []
    sol = None
    why = ""
    scale = 1.0
    method = "from the given rotation" if prior_rotation is not None else "blind"
    if prior_rotation is not None:
        sol, why = solve_astrometry(cu, ru, camera, vec, cat.hp_mag, prior_rotation=prior_rotation, min_stars=min_stars)
        attempts.append({"focal_factor": 1.0, "prior_rotation": True, "result": why or "solved"})
    else:
        for scale in focal_search:
            sol, why = solve_astrometry(cu, ru, camera.with_focal_scale(scale), vec, cat.hp_mag, min_stars=min_stars)
            attempts.append({"focal_factor": scale, "result": why or "solved"})
            if sol is not None:
                break
    if sol is None:
        tried = ", ".join(f"{a['focal_factor']:g}" for a in attempts)
        return None, f"{why} (focal length factors tried: {tried})"
    removed = 0
    notes: list[str] = []
    if station_position_m is not None:
        rays = camera_rays(sol, cu, ru)
        low = tangent_height_m(rays, station_position_m) < min_tangent_height_m
        if low.any():
            keep = ~low
            again, why2 = solve_astrometry(
                cu[keep],
                ru[keep],
                sol.camera,
                vec,
                cat.hp_mag,
                prior_rotation=sol.rotation,
                prior_radius_px=max(5.0, 3.0 * sol.rms_px),
                min_stars=min_stars,
            )
            if again is not None:
                removed = int(low.sum())
                star = star[keep]
                sol = again
                method += f"; refit without the {removed} sources below {min_tangent_height_m / 1e3:g} km"
            else:
                notes.append(f"refit without the {int(low.sum())} sources below the limb failed ({why2}); kept")
    plate = PlateSolution(
        astrometry=sol,
        camera_prior=camera,
        lens=lens,
        candidates=star,
        catalog=cat,
        epoch_year=epoch_year,
        focal_scale=scale,
        method=method,
        attempts=attempts,
        below_limb_removed=removed,
        notes=notes,
    )
    return plate, ""


def camera_rays(sol: AstrometricSolution, col_u, row_u) -> np.ndarray:
    """ICRS unit vectors of undistorted pixels under a solution."""
    ray = sol.camera.pixel_to_ray(col_u, row_u)
    ray = ray / np.linalg.norm(ray, axis=-1, keepdims=True)
    return sol.rotation.apply(ray.reshape(-1, 3)).reshape(ray.shape)


# -- the WCS ----------------------------------------------------------------------------------------


def _monomials(u: np.ndarray, v: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
    terms = [(p, d - p) for d in range(lo, hi + 1) for p in range(d, -1, -1)]
    return np.column_stack([u**p * v**q for p, q in terms]), terms


def wcs_header(
    plate: PlateSolution, *, sip_degree: int = 9, grid: int = 61, extra: dict | None = None
) -> tuple[Any, float]:
    """The solution as an ``astropy.io.fits.Header`` of a TAN (or TAN-SIP) WCS of the photo's own
    pixels, and the worst error (px) of the SIP fit on the grid (0 without distortion).

    Without a lens model the header is the solver's TAN WCS (:func:`~cupola.nightlights.astrometry.
    wcs_header`), exact. With one, CRPIX is the photo pixel of the optical axis, CD takes the lens'
    linear part there, and ``A``/``B`` (degree ``sip_degree``) the rest, fitted by least squares
    to the lens model on a ``grid`` x ``grid`` lattice over the frame; ``AP``/``BP`` (one degree
    more) the inverse. ``extra`` cards (DATE-OBS, ...) are added as given.
    """
    from astropy.io import fits

    base = _tan_header(plate.astrometry)
    cam = plate.camera
    hdr = fits.Header()
    for k in ("CTYPE1", "CTYPE2", "CUNIT1", "CUNIT2", "CRPIX1", "CRPIX2", "CRVAL1", "CRVAL2"):
        hdr[k] = base[k]
    cd = np.array([[base["CD1_1"], base["CD1_2"]], [base["CD2_1"], base["CD2_2"]]])
    hdr["RADESYS"] = "ICRS"
    hdr["IMAGEW"] = cam.width_px
    hdr["IMAGEH"] = cam.height_px
    worst = 0.0
    lens = plate.lens
    if lens is not None and lens.distortion != "none":
        # the optical axis in the photo's pixels: the reference point, where the SIP terms vanish
        c0, r0 = (float(x) for x in lens.distort(cam.cx_px, cam.cy_px))
        cc, rr = np.meshgrid(np.linspace(0, cam.width_px - 1, grid), np.linspace(0, cam.height_px - 1, grid))
        u, v = cc.ravel() - c0, rr.ravel() - r0
        cu, ru = lens.undistort(cc.ravel(), rr.ravel())
        fx, fy = cu - cam.cx_px, ru - cam.cy_px  # undistorted offsets from the axis
        s = float(max(cam.width_px, cam.height_px))  # scaled for a well-conditioned fit
        m, terms = _monomials(u / s, v / s, 1, sip_degree)
        coef, *_ = np.linalg.lstsq(m, np.column_stack([fx, fy]) / s, rcond=None)
        jac = coef[:2].T  # linear part: [[dfx/du, dfx/dv], [dfy/du, dfy/dv]]
        hi = np.linalg.solve(jac, coef[2:].T).T  # J^-1 of the higher terms
        hdr["CTYPE1"], hdr["CTYPE2"] = "RA---TAN-SIP", "DEC--TAN-SIP"
        hdr["CRPIX1"], hdr["CRPIX2"] = c0 + 1.0, r0 + 1.0
        cd = cd @ jac
        hdr["A_ORDER"] = sip_degree
        hdr["B_ORDER"] = sip_degree
        for (p, q), (a, b) in zip(terms[2:], hi):
            hdr[f"A_{p}_{q}"] = float(a) * s ** (1 - p - q)
            hdr[f"B_{p}_{q}"] = float(b) * s ** (1 - p - q)
        # the inverse: intermediate pixels U (after SIP) -> pixel offsets u
        uu = u / s + hi[:, 0] @ m[:, 2:].T
        vv = v / s + hi[:, 1] @ m[:, 2:].T
        mi, terms_i = _monomials(uu, vv, 1, sip_degree + 1)
        ci, *_ = np.linalg.lstsq(mi, np.column_stack([u / s - uu, v / s - vv]), rcond=None)
        hdr["AP_ORDER"] = sip_degree + 1
        hdr["BP_ORDER"] = sip_degree + 1
        for (p, q), (a, b) in zip(terms_i, ci):
            hdr[f"AP_{p}_{q}"] = float(a) * s ** (1 - p - q)
            hdr[f"BP_{p}_{q}"] = float(b) * s ** (1 - p - q)
        # worst error of the forward fit, in undistorted pixels
        fit = (jac @ np.column_stack([u / s + hi[:, 0] @ m[:, 2:].T, v / s + hi[:, 1] @ m[:, 2:].T]).T).T * s
        worst = float(np.max(np.hypot(fit[:, 0] - fx, fit[:, 1] - fy)))
    hdr["CD1_1"], hdr["CD1_2"] = float(cd[0, 0]), float(cd[0, 1])
    hdr["CD2_1"], hdr["CD2_2"] = float(cd[1, 0]), float(cd[1, 1])
    for k, val in (extra or {}).items():
        hdr[k] = val
    return hdr, worst


def wcs_directions(wcs, col, row) -> np.ndarray:
    """ICRS unit vectors (N, 3) of 0-based pixels (col, row) under an ``astropy.wcs.WCS``."""
    ra, dec = wcs.all_pix2world(np.ravel(col), np.ravel(row), 0)
    ra, dec = np.radians(ra), np.radians(dec)
    return np.column_stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])


def wcs_agreement(
    wcs_a,
    wcs_b,
    width_px: int,
    height_px: int,
    *,
    step_px: float = 32.0,
    station_position_m=None,
    min_tangent_height_m: float = MIN_TANGENT_HEIGHT_M,
) -> dict[str, np.ndarray]:
    """The angle (deg) between the sky directions two ``astropy.wcs.WCS`` give the pixels of a
    ``step_px`` lattice over a ``width_px`` x ``height_px`` frame, and which of them are sky (line
    of sight from ``station_position_m`` at least ``min_tangent_height_m`` above the Earth, under
    ``wcs_a``; all without a position). Returns ``col``, ``row`` (1-D lattice axes), ``angle_deg``
    and ``sky`` (ny, nx)."""
    col = np.arange(0.0, width_px, step_px)
    row = np.arange(0.0, height_px, step_px)
    cc, rr = np.meshgrid(col, row)
    a = wcs_directions(wcs_a, cc, rr)
    b = wcs_directions(wcs_b, cc, rr)
    sky = np.ones(cc.size, bool)
    if station_position_m is not None:
        sky = tangent_height_m(a, station_position_m) >= min_tangent_height_m
    return {"col": col, "row": row, "angle_deg": angle_deg(a, b).reshape(cc.shape), "sky": sky.reshape(cc.shape)}


def angle_deg(a, b) -> np.ndarray:
    """Angle (deg) between unit vectors a and b (..., 3), stable for small angles."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.degrees(2.0 * np.arctan2(np.linalg.norm(a - b, axis=-1), np.linalg.norm(a + b, axis=-1)))


# -- the pose ---------------------------------------------------------------------------------------


def camera_pose(rotation_cam_to_icrs: Rotation, state: StateVector) -> dict[str, Any]:
    """The camera's orientation in ITRS and LVLH from its star-field rotation and the station's
    state at the photo's time, and where its boresight looks (see the module)."""
    r_itrs = state.gcrs_to_itrs @ rotation_cam_to_icrs.as_matrix()
    pose = att.Pose(np.asarray(state.position_m, float), Rotation.from_matrix(r_itrs))
    lvlh = att.lvlh_to_itrs(state)
    r_lvlh = lvlh.T @ r_itrs
    roll, pitch, yaw = att.rpy_from_pose(state, pose)
    b = r_lvlh[:, 2]
    bore_itrs = r_itrs[:, 2]
    hit = geodesy.ray_ellipsoid_intersection(pose.position_m, bore_itrs, 0.0)
    look: dict[str, Any] = {
        "off_nadir_deg": float(np.degrees(np.arccos(np.clip(b[2], -1.0, 1.0)))),
        "azimuth_from_velocity_deg": float(np.degrees(np.arctan2(b[1], b[0])) % 360.0),
        "elevation_deg": float(-np.degrees(np.arcsin(np.clip(b[2], -1.0, 1.0)))),
        "boresight_lvlh": b.tolist(),
        "boresight_itrs": bore_itrs.tolist(),
    }
    if np.all(np.isfinite(hit)):
        lon, lat, _ = geodesy.ecef_to_geodetic(hit)
        look["ground_lon_deg"] = float(np.degrees(lon))
        look["ground_lat_deg"] = float(np.degrees(lat))
        look["slant_range_m"] = float(np.linalg.norm(hit - pose.position_m))
    else:
        look["tangent_height_m"] = float(tangent_height_m(bore_itrs, pose.position_m))
    sub_lon, sub_lat = state.subpoint
    return {
        "quaternion_camera_to_itrs_xyzw": pose.rotation.as_quat().tolist(),
        "matrix_camera_to_itrs": r_itrs.tolist(),
        "quaternion_camera_to_lvlh_xyzw": Rotation.from_matrix(r_lvlh).as_quat().tolist(),
        "matrix_camera_to_lvlh": r_lvlh.tolist(),
        "lvlh_roll_deg": roll,
        "lvlh_pitch_deg": pitch,
        "lvlh_yaw_deg": yaw,
        "boresight": look,
        "station": {
            "position_itrs_m": np.asarray(state.position_m, float).tolist(),
            "subpoint_lon_deg": sub_lon,
            "subpoint_lat_deg": sub_lat,
            "altitude_m": state.altitude_m,
        },
        "frames": (
            "camera: +z boresight, +x increasing col, +y increasing row; LVLH from the GCRS state "
            "(+z to the Earth's centre, +y opposite the orbit normal, +x ~ velocity); roll/pitch/yaw "
            "as in cupola.geometry.attitude"
        ),
    }
