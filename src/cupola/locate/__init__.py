"""Localization of astronaut photos by image matching against georeferenced reference imagery
(one reference, or a pool of tiles with no hint which holds the photo). Names are imported on
first use: the matchers' torch and kornia load only when a photo is matched.

>>> from cupola.locate import LocateOptions
>>> LocateOptions().matcher
'aliked'
"""

from cupola._lazy import lazy_names

_NAMES = {
    "run_locate": "cupola.locate.job",
    "run_locate_pool": "cupola.locate.job",
    "write_locate_products": "cupola.locate.job",
    "LocateOptions": "cupola.locate.localize",
    "LocateResult": "cupola.locate.localize",
    "Localizer": "cupola.locate.localize",
    "run_batch": "cupola.locate.batch",
}

__all__ = sorted(_NAMES)
__getattr__, __dir__ = lazy_names(__name__, _NAMES)
