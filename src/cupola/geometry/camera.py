"""Pinhole camera intrinsics with optional Brown-Conrady (OpenCV) distortion, and ISS cameras.

Camera frame (OpenCV): +z out of the lens along the boresight, +x towards increasing column,
+y towards increasing row. Pixels are (col, row) with (0, 0) the centre of the top-left pixel,
so the image centre is ((width - 1) / 2, (height - 1) / 2).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from cupola.errors import InputError


@dataclass(frozen=True)
class Distortion:
    """Radial (k1, k2, k3) and tangential (p1, p2) coefficients on normalized coordinates (OpenCV)."""

    k1: float = 0.0
    k2: float = 0.0
    p1: float = 0.0
    p2: float = 0.0
    k3: float = 0.0

    @property
    def is_zero(self) -> bool:
        return not any((self.k1, self.k2, self.p1, self.p2, self.k3))

    def apply(self, x, y):
        """Distort ideal normalized coordinates (x, y) -> (xd, yd)."""
        r2 = x * x + y * y
        radial = 1.0 + r2 * (self.k1 + r2 * (self.k2 + r2 * self.k3))
        xd = x * radial + 2.0 * self.p1 * x * y + self.p2 * (r2 + 2.0 * x * x)
        yd = y * radial + self.p1 * (r2 + 2.0 * y * y) + 2.0 * self.p2 * x * y
        return xd, yd

    def remove(self, xd, yd, iterations: int = 20):
        """Invert :meth:`apply` by fixed-point iteration (converges for realistic lenses)."""
        x, y = xd, yd
        for _ in range(iterations):
            r2 = x * x + y * y
            radial = 1.0 + r2 * (self.k1 + r2 * (self.k2 + r2 * self.k3))
            dx = 2.0 * self.p1 * x * y + self.p2 * (r2 + 2.0 * x * x)
            dy = self.p1 * (r2 + 2.0 * y * y) + 2.0 * self.p2 * x * y
            x = (xd - dx) / radial
            y = (yd - dy) / radial
        return x, y


@dataclass(frozen=True)
class Camera:
    """Pinhole intrinsics in pixels. ``focal_x_px``/``focal_y_px`` differ only for non-square pixels."""

    width_px: int
    height_px: int
    focal_x_px: float
    focal_y_px: float
    cx_px: float
    cy_px: float
    distortion: Distortion = Distortion()

    def __post_init__(self):
        if self.width_px <= 0 or self.height_px <= 0:
            raise InputError(f"camera: image size must be positive, got {self.width_px}x{self.height_px} px")
        if not (self.focal_x_px > 0 and self.focal_y_px > 0):
            raise InputError(f"camera: focal length must be positive, got {self.focal_x_px:g} px")

    @property
    def focal_px(self) -> float:
        return 0.5 * (self.focal_x_px + self.focal_y_px)

    @classmethod
    def from_focal_sensor(
        cls,
        *,
        focal_mm: float,
        sensor_width_mm: float,
        sensor_height_mm: float,
        width_px: int,
        height_px: int,
        cx_px: float | None = None,
        cy_px: float | None = None,
        distortion: Distortion | None = None,
    ) -> Camera:
        """Camera whose focal plane of ``sensor_width_mm`` x ``sensor_height_mm`` spans the image."""
        if not focal_mm > 0:
            raise InputError(f"focal length must be positive, got {focal_mm:g} mm")
        if not (sensor_width_mm > 0 and sensor_height_mm > 0):
            raise InputError(f"sensor size must be positive, got {sensor_width_mm:g} x {sensor_height_mm:g} mm")
        return cls(
            width_px=int(width_px),
            height_px=int(height_px),
            focal_x_px=focal_mm * width_px / sensor_width_mm,
            focal_y_px=focal_mm * height_px / sensor_height_mm,
            cx_px=(width_px - 1) / 2.0 if cx_px is None else float(cx_px),
            cy_px=(height_px - 1) / 2.0 if cy_px is None else float(cy_px),
            distortion=distortion or Distortion(),
        )

    @classmethod
    def from_pixel_pitch(cls, *, focal_mm: float, pixel_pitch_um: float, width_px: int, height_px: int, **kw) -> Camera:
        """Camera from focal length and square pixel pitch (micrometres)."""
        if not pixel_pitch_um > 0:
            raise InputError(f"pixel pitch must be positive, got {pixel_pitch_um:g} um")
        w = width_px * pixel_pitch_um * 1e-3
        h = height_px * pixel_pitch_um * 1e-3
        return cls.from_focal_sensor(
            focal_mm=focal_mm, sensor_width_mm=w, sensor_height_mm=h, width_px=width_px, height_px=height_px, **kw
        )

    def with_focal_scale(self, scale: float) -> Camera:
        return replace(self, focal_x_px=self.focal_x_px * scale, focal_y_px=self.focal_y_px * scale)

    # -- pixel <-> ray -------------------------------------------------------------------------
    def normalized(self, col, row):
        """Pixel -> ideal (undistorted) normalized image coordinates x = X/Z, y = Y/Z."""
        xd = (np.asarray(col, dtype=float) - self.cx_px) / self.focal_x_px
        yd = (np.asarray(row, dtype=float) - self.cy_px) / self.focal_y_px
        if self.distortion.is_zero:
            return xd, yd
        return self.distortion.remove(xd, yd)

    def pixel_to_ray(self, col, row) -> np.ndarray:
        """Unnormalized ray directions (x, y, 1) in the camera frame, shape (..., 3)."""
        x, y = self.normalized(col, row)
        x, y = np.broadcast_arrays(x, y)
        return np.stack([x, y, np.ones_like(x)], axis=-1)

    def ray_to_pixel(self, rays_cam) -> tuple[np.ndarray, np.ndarray]:
        """Camera-frame directions (..., 3) -> (col, row); NaN for rays behind the camera."""
        r = np.asarray(rays_cam, dtype=float)
        z = r[..., 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.where(z > 0, r[..., 0] / z, np.nan)
            y = np.where(z > 0, r[..., 1] / z, np.nan)
        if not self.distortion.is_zero:
            x, y = self.distortion.apply(x, y)
        return x * self.focal_x_px + self.cx_px, y * self.focal_y_px + self.cy_px

    def distortion_problem(self, tolerance_px: float = 0.01) -> str | None:
        """Why the distortion cannot be a lens on this frame, or None: along the border and the
        diagonals of the image, the inversion (:meth:`Distortion.remove`) must give back each pixel
        to ``tolerance_px`` when distorted again, and the radial mapping must keep growing outward
        (a lens does not fold the image back on itself)."""
        if self.distortion.is_zero:
            return None
        w, h = self.width_px - 1, self.height_px - 1
        t = np.linspace(0.0, 1.0, 65)
        cols = np.concatenate([t * w, t * w, np.zeros_like(t), np.full_like(t, w), t * w, t * w])
        rows = np.concatenate([np.zeros_like(t), np.full_like(t, h), t * h, t * h, t * h, (1 - t) * h])
        with np.errstate(all="ignore"):  # coefficients far from a lens overflow: that is the finding
            x, y = self.normalized(cols, rows)
            xd, yd = self.distortion.apply(x, y)
            err = np.hypot((xd * self.focal_x_px + self.cx_px) - cols, (yd * self.focal_y_px + self.cy_px) - rows)
        bad = np.where(np.isfinite(err), err, np.inf)
        if bad.max() > tolerance_px:
            i = int(np.argmax(bad))
            off = "diverges" if not np.isfinite(err[i]) else f"is off by {err[i]:.3g} px"
            return f"it cannot be inverted at pixel ({cols[i]:.0f}, {rows[i]:.0f}) (the round trip {off})"
        d = self.distortion
        r2 = np.linspace(0.0, float(np.max(x * x + y * y)), 200)
        slope = 1.0 + 3.0 * d.k1 * r2 + 5.0 * d.k2 * r2**2 + 7.0 * d.k3 * r2**3  # d(r_d)/dr of the radial part
        if np.any(slope <= 0):
            return "the radial mapping folds back before the image corner (not a lens)"
        return None

    def to_dict(self) -> dict:
        return {
            "width_px": self.width_px,
            "height_px": self.height_px,
            "focal_x_px": self.focal_x_px,
            "focal_y_px": self.focal_y_px,
            "cx_px": self.cx_px,
            "cy_px": self.cy_px,
            "distortion": {k: getattr(self.distortion, k) for k in ("k1", "k2", "p1", "p2", "k3")},
        }


@dataclass(frozen=True)
class CameraBody:
    """A camera body: full-resolution image size and the pixel pitch of its sensor.

    The sensor size follows from the pitch (``width_px * pitch``, ``height_px * pitch``): the
    pixels are square, as they are on these sensors. (The rounded sizes of the data sheets, e.g.
    35.9 x 23.9 mm for the D5, would make them 0.1-0.3 % taller than wide, a scale error of a few
    pixels across a frame.)
    """

    model: str
    width_px: int
    height_px: int
    pixel_pitch_um: float

    @property
    def sensor_width_mm(self) -> float:
        return self.width_px * self.pixel_pitch_um * 1e-3

    @property
    def sensor_height_mm(self) -> float:
        return self.height_px * self.pixel_pitch_um * 1e-3


#: Cameras flown on the ISS for Earth photography: image size and pixel pitch (manufacturer
#: specifications; the pitches give sensors of 35.96 x 23.93 (D3S), 35.97 x 23.94 (D4), 35.91 x
#: 23.94 (D5) and 35.91 x 23.94 mm (D850, Z 9), the data sheets' 36.0/35.9 x 23.9 mm to rounding).
ISS_CAMERAS: dict[str, CameraBody] = {
    body.model: body
    for body in (
        CameraBody("NIKON D3S", 4256, 2832, 8.45),
        CameraBody("NIKON D4", 4928, 3280, 7.30),
        CameraBody("NIKON D5", 5568, 3712, 6.45),
        CameraBody("NIKON D850", 8256, 5504, 4.35),
        CameraBody("NIKON Z 9", 8256, 5504, 4.35),
    )
}


def camera_body(model: str) -> CameraBody:
    """Look up an ISS camera by its EXIF model string (case and spacing tolerant)."""
    key = " ".join(str(model).upper().replace("NIKON CORPORATION", "").split())
    if not key.startswith("NIKON"):
        key = "NIKON " + key
    compact = {k.replace(" ", ""): v for k, v in ISS_CAMERAS.items()}
    body = compact.get(key.replace(" ", ""))
    if body is None:
        known = ", ".join(ISS_CAMERAS)
        raise InputError(f"unknown camera model {model!r}: known are {known}; give `sensor_mm` (width, height in mm)")
    return body


def camera_for_body(
    body: CameraBody, *, focal_mm: float, width_px: int, height_px: int, distortion: Distortion | None = None
) -> Camera:
    """Camera for a (possibly downsampled) image of a known body: square pixels of the body's pitch,
    scaled by the ratio of the long sides when the image is smaller than the sensor by more than 2 %
    (a downsampled image keeps the sensor's field of view; a frame a few pixels off the nominal size
    is a crop of the same pixels).

    >>> cam = camera_for_body(camera_body("NIKON D5"), focal_mm=50, width_px=1392, height_px=928)
    >>> round(cam.focal_x_px, 3) == round(cam.focal_y_px, 3), round(cam.focal_x_px, 1)
    (True, 1938.0)
    """
    if (
        abs(width_px / height_px - body.width_px / body.height_px) > 0.02
        and abs(height_px / width_px - body.width_px / body.height_px) > 0.02
    ):
        raise InputError(
            f"image of {width_px}x{height_px} px does not have the aspect ratio of a {body.model} "
            f"({body.width_px}x{body.height_px}); was it cropped? give `sensor_mm` for the crop"
        )
    long_px = max(width_px, height_px)  # a portrait frame has the sensor's long side vertical
    scale = 1.0 if abs(long_px / body.width_px - 1.0) <= 0.02 else body.width_px / long_px
    return Camera.from_pixel_pitch(
        focal_mm=focal_mm,
        pixel_pitch_um=body.pixel_pitch_um * scale,
        width_px=width_px,
        height_px=height_px,
        distortion=distortion,
    )


def camera_from_photo(
    width_px: int,
    height_px: int,
    *,
    focal_mm: float | None = None,
    sensor_mm: tuple[float, float] | None = None,
    exif_focal_mm: float | None = None,
    exif_model: str | None = None,
    photo: object = "photo",
) -> tuple[Camera, str]:
    """The camera of a ``width_px`` x ``height_px`` photo from what was given, else from its EXIF.

    The focal length is ``focal_mm`` when given, else the EXIF focal length ``exif_focal_mm``. The
    sensor is ``sensor_mm`` (width, height in millimetres) when given, else the sensor of the ISS
    camera body named by the EXIF model ``exif_model`` (:func:`camera_body`), scaled to the image
    (:func:`camera_for_body`: a downsampled or portrait frame keeps the sensor's field of view).
    ``photo`` names the image in messages. Pure computation: the caller reads the EXIF.

    Returns:
        (camera, source): the camera and a line saying where its focal length and sensor came from.

    Raises:
        InputError: a focal length or sensor size that is not positive, or one that is missing
            from both the arguments and the EXIF, or an EXIF camera model that is not known.

    >>> cam, source = camera_from_photo(1280, 720, focal_mm=10.5, sensor_mm=(8.7, 4.89375))
    >>> round(cam.focal_x_px, 1), source
    (1544.8, 'focal 10.5 mm, sensor 8.7 x 4.89375 mm (given)')
    """
    focal = focal_mm
    if focal is not None and not focal > 0:
        raise InputError(f"`focal_mm` must be positive, got {focal:g}")
    if focal is None:
        focal = exif_focal_mm
        if focal is None:
            raise InputError(f"{photo}: no focal length in EXIF; give `focal_mm`")
        if not focal > 0:
            raise InputError(f"{photo}: EXIF focal length {focal!r} is not positive; give `focal_mm`")
    if sensor_mm is not None:
        w_mm, h_mm = sensor_mm
        if not (w_mm > 0 and h_mm > 0):
            raise InputError(f"`sensor_mm` must be positive, got {w_mm:g} {h_mm:g}")
        cam = Camera.from_focal_sensor(
            focal_mm=focal, sensor_width_mm=w_mm, sensor_height_mm=h_mm, width_px=width_px, height_px=height_px
        )
        return cam, f"focal {focal:g} mm, sensor {w_mm:g} x {h_mm:g} mm (given)"
    if not exif_model:
        raise InputError(f"{photo}: no camera model in EXIF; give `sensor_mm` (width, height in mm)")
    try:
        body = camera_body(exif_model)
        cam = camera_for_body(body, focal_mm=focal, width_px=width_px, height_px=height_px)
    except InputError as exc:  # name the photo whose EXIF camera does not fit
        raise InputError(f"{photo}: {exc}") from None
    return cam, (
        f"{body.model} ({body.sensor_width_mm:.2f} x {body.sensor_height_mm:.2f} mm, "
        f"{body.pixel_pitch_um:g} um pixels), focal {focal:g} mm (EXIF)"
    )
