"""A cache of local features and global descriptors, keyed by the content of the image they came from.

:class:`FeatureCache` keeps entries in memory and, only when it is given a folder, on disk as one
``.npz`` file per entry. Nothing is ever written anywhere else: a cupola run writes only where the
user said (``--cache DIR``).

Keys come from :func:`feature_key`: the image's content id (sha256 of its file) and the settings
the entry depends on (sizes, matcher, keypoint budget), plus :data:`CACHE_FORMAT_VERSION` and
``cupola.__version__``. The file name depends on the content and the settings only, so an entry
made by another cupola version (or another format) lands on the same file; every file records the
full key it was made for and the versions, and a mismatch, like a corrupt or truncated file, is a
miss: the caller recomputes and the entry is overwritten, never trusted. Writes go to a temporary
file in the cache folder and are renamed into place, so a crash leaves no half entry.

>>> import numpy as np
>>> c = FeatureCache(None)
>>> k = feature_key("ab12", "vlad", 64)
>>> c.get_array(k) is None
True
>>> c.put_array(k, np.ones(3, np.float32)); c.get_array(k).tolist()
[1.0, 1.0, 1.0]
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import OrderedDict
from pathlib import Path

import numpy as np

from cupola.errors import InputError
from cupola.locate.features import Features

CACHE_FORMAT_VERSION = 1
_VERSION_SEP = "#"


def _cupola_version() -> str:
    import cupola

    return str(cupola.__version__)


def feature_key(content_id: str, *parts) -> str:
    """Cache key of an entry computed from the image with ``content_id`` with settings ``parts``.

    The part before ``#`` names the entry (and its file); the part after it holds the cache format
    and cupola versions, which must match for a stored entry to be used.
    """
    if not content_id:
        raise ValueError("feature_key needs the image's content id")
    body = "|".join([str(content_id), *(str(p) for p in parts)])
    return f"{body}{_VERSION_SEP}format={CACHE_FORMAT_VERSION};cupola={_cupola_version()}"


def _versions(key: str) -> str:
    return key.partition(_VERSION_SEP)[2]


class FeatureCache:
    """In-memory cache of :class:`Features` and arrays, backed by ``folder`` when one is given.

    ``max_memory_items`` bounds the in-memory layer (least recently used entries are dropped), so a
    pool of thousands of tiles is not held in memory; on disk every entry stays.
    """

    def __init__(self, folder: Path | str | None = None, max_memory_items: int = 256):
        self.folder = None if folder is None else Path(folder)
        if self.folder is not None:
            if self.folder.exists() and not self.folder.is_dir():
                raise InputError(f"{self.folder}: the cache must be a folder")
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise InputError(f"{self.folder}: cannot create the cache folder ({exc.strerror})") from None
        self.max_memory_items = max_memory_items
        self._memory: OrderedDict[str, object] = OrderedDict()
        self.hits = 0
        self.misses = 0
        self.rebuilt = 0  # stored entries found stale or corrupt (then overwritten by put)

    # -- paths -------------------------------------------------------------------------------------

    def path_for(self, key: str) -> Path | None:
        """The file an entry lives in (None without a folder); independent of the versions."""
        if self.folder is None:
            return None
        name = hashlib.sha256(key.partition(_VERSION_SEP)[0].encode()).hexdigest()[:40]
        return self.folder / name[:2] / f"{name}.npz"

    # -- memory layer ------------------------------------------------------------------------------

    def _remember(self, key: str, value) -> None:
        self._memory[key] = value
        self._memory.move_to_end(key)
        while len(self._memory) > self.max_memory_items:
            self._memory.popitem(last=False)

    # -- disk layer --------------------------------------------------------------------------------

    def _read(self, key: str, kind: str) -> dict | None:
        path = self.path_for(key)
        if path is None or not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"][()]))
                arrays = {k: z[k] for k in z.files if k != "meta"}
        except Exception:  # noqa: BLE001 - a corrupt or truncated entry is a miss, recomputed
            self.rebuilt += 1
            return None
        if (
            meta.get("key") != key
            or meta.get("kind") != kind
            or meta.get("format_version") != CACHE_FORMAT_VERSION
            or meta.get("cupola_version") != _cupola_version()
        ):
            self.rebuilt += 1
            return None
        return {"meta": meta, **arrays}

    def _write(self, key: str, kind: str, arrays: dict, extra: dict | None = None) -> None:
        path = self.path_for(key)
        if path is None:
            return
        meta = {
            "key": key,
            "kind": kind,
            "format_version": CACHE_FORMAT_VERSION,
            "cupola_version": _cupola_version(),
            "settings": key.partition(_VERSION_SEP)[0],
            **(extra or {}),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, meta=np.array(json.dumps(meta)), **arrays)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    # -- local features ----------------------------------------------------------------------------

    def get(self, key: str) -> Features | None:
        """Stored features for ``key``, or None (absent, made by another version, or corrupt)."""
        value = self._memory.get(key)
        if isinstance(value, Features):
            self._memory.move_to_end(key)
            self.hits += 1
            return value
        d = self._read(key, "features")
        if d is None or not {"keypoints", "descriptors", "shape"} <= d.keys():
            self.misses += 1
            return None
        desc = d["descriptors"].astype(np.float32)
        if d["meta"].get("descriptors_type") == "torch":
            import torch

            desc = torch.from_numpy(desc)
        f = Features(d["keypoints"].astype(np.float32), desc, tuple(int(x) for x in d["shape"]))
        self._remember(key, f)
        self.hits += 1
        return f

    def put(self, key: str, features: Features) -> None:
        """Store ``features`` for ``key`` (overwriting any stale entry)."""
        self._remember(key, features)
        desc = features.descriptors
        is_torch = not isinstance(desc, np.ndarray)
        arr = desc.detach().cpu().numpy() if is_torch else np.asarray(desc)
        self._write(
            key,
            "features",
            {
                "keypoints": np.asarray(features.keypoints, np.float32),
                "descriptors": arr.astype(np.float32),
                "shape": np.asarray(features.shape, np.int64),
            },
            {"descriptors_type": "torch" if is_torch else "numpy"},
        )

    # -- arrays (global descriptors, vocabularies) ------------------------------------------------

    def get_array(self, key: str) -> np.ndarray | None:
        value = self._memory.get(key)
        if isinstance(value, np.ndarray):
            self._memory.move_to_end(key)
            self.hits += 1
            return value
        d = self._read(key, "array")
        if d is None or "array" not in d:
            self.misses += 1
            return None
        self._remember(key, d["array"])
        self.hits += 1
        return d["array"]

    def put_array(self, key: str, array: np.ndarray) -> None:
        array = np.asarray(array)
        self._remember(key, array)
        self._write(key, "array", {"array": array})

    # -- small JSON records (the content-id manifest of a pool) ------------------------------------

    def get_json(self, key: str):
        d = self._read(key, "json")
        if d is None or "json" not in d:
            return None
        try:
            return json.loads(str(d["json"][()]))
        except ValueError:
            return None

    def put_json(self, key: str, value) -> None:
        self._write(key, "json", {"json": np.array(json.dumps(value))})
