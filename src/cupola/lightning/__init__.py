"""Lightning cross-referencing: orient and locate ISS photos and video from lightning detections.

Flashes seen in the images (:mod:`~cupola.lightning.detect`) are matched to the events of a
lightning location network or a space-based mapper (:mod:`~cupola.lightning.events`) by time
coincidence and spatial consistency (:mod:`~cupola.lightning.associate`); the camera attitude in
the LVLH frame, the camera-to-network clock offset and, when the data allow, the cloud-top emission
height and the focal length follow by robust, then weighted, least squares
(:mod:`~cupola.lightning.solve`), with the Cramer-Rao bound for comparison
(:mod:`~cupola.lightning.crb`). :mod:`cupola.simulate.lightning` draws realistic test scenes.

>>> from cupola.lightning import solve, SolveOptions                      # doctest: +SKIP
>>> sol = solve(flashes, events, elements, camera, SolveOptions())       # doctest: +SKIP
>>> sol.rpy_deg, sol.clock_offset_s, sol.clock_window_s                  # doctest: +SKIP
"""

from cupola.lightning.events import Events, read_events
from cupola.lightning.flashes import Flashes, Frames, read_flashes, read_frame_times
from cupola.lightning.solve import Solution, SolveOptions, solve

__all__ = ["Events", "read_events", "Flashes", "Frames", "read_flashes", "read_frame_times", "Solution",
           "SolveOptions", "solve"]
