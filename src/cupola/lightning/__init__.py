"""Lightning cross-referencing: orient and locate ISS photos and video from lightning detections.

Flashes seen in the images (:mod:`~cupola.lightning.detect`) are matched to the events of a
lightning location network or a space-based mapper (:mod:`~cupola.lightning.events`) by time
coincidence and spatial consistency (:mod:`~cupola.lightning.associate`); the camera attitude in
the LVLH frame, the camera-to-network clock offset and, when the data allow, the cloud-top emission
height and the focal length follow by robust, then weighted, least squares
(:mod:`~cupola.lightning.solve`), with the Cramer-Rao bound for comparison
(:mod:`~cupola.lightning.crb`). :mod:`cupola.simulate.lightning` draws realistic test scenes.

The whole job (frames or video in, products out) is :func:`run` with a :class:`LightningRequest`
(``cupola.solve_lightning``); :func:`solve` is the solver on flashes and events already read.
Names are imported on first use.

>>> from cupola.lightning import SolveOptions
>>> SolveOptions().height_mode, SolveOptions().emission_height_m
('auto', 10000.0)
"""

from cupola._lazy import lazy_names

_NAMES = {
    "Events": "cupola.lightning.events",
    "read_events": "cupola.lightning.events",
    "write_events_csv": "cupola.lightning.events",
    "Flashes": "cupola.lightning.flashes",
    "Frames": "cupola.lightning.flashes",
    "read_flashes": "cupola.lightning.flashes",
    "read_frame_times": "cupola.lightning.flashes",
    "Solution": "cupola.lightning.solve",
    "SolveOptions": "cupola.lightning.solve",
    "solve": "cupola.lightning.solve",
    "LightningRequest": "cupola.lightning.job",
    "LightningResult": "cupola.lightning.job",
    "run": "cupola.lightning.job",
    "write_products": "cupola.lightning.products",
    "write_lis_products": "cupola.lightning.lis_products",
}

__all__ = sorted(_NAMES)
__getattr__, __dir__ = lazy_names(__name__, _NAMES)
