"""Routing locate's backbone between runtimes by stage or by size: the hybrid int8 routes of
docs/onboard.md ("int8 for locate's backbone: noise floor, mixed precision and hybrid routes").

:class:`RoutedBackbone` is a backbone callable (padded 1 x 1 x H x W NumPy -> [scores, x1, x2, x3,
x4], what :class:`cupola.onboard.backbone.BackboneRuntime` gives) that hands each call to one of
up to three backbones: ``rematch`` while :attr:`RoutedBackbone.rematch_active` is set, else
``large`` for inputs of at least ``min_pixels``, else ``default``. :func:`fp32_rematch` sets that
flag for the duration of a localizer's ``coregister`` (the re-match whose homography sets the
located centre), and gives the re-match its own photo-feature cache, so that the photo's features
of the search (at the same size, in another precision) are not reused there.

onboard imports nothing of locate: :func:`fp32_rematch` works on any object (a class or an
instance) with a ``coregister`` method and a ``_photo_cache`` dict, as locate's ``Localizer`` has;
the task metric (``cupola.cli.onboard_task``) joins the two.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

__all__ = ["RoutedBackbone", "fp32_rematch"]


class RoutedBackbone:
    """``backbone(x)``: ``rematch(x)`` while :attr:`rematch_active`, else ``large(x)`` when x has
    at least ``min_pixels`` pixels (H x W, padded), else ``default(x)``. ``calls`` counts the
    calls per route (``default``, ``large``, ``rematch``); ``shapes`` the shapes per route."""

    def __init__(
        self,
        default: Callable[[np.ndarray], list[np.ndarray]],
        *,
        rematch: Callable[[np.ndarray], list[np.ndarray]] | None = None,
        large: Callable[[np.ndarray], list[np.ndarray]] | None = None,
        min_pixels: int = 0,
    ) -> None:
        if large is not None and min_pixels <= 0:
            raise ValueError("RoutedBackbone: `min_pixels` must be positive with `large`")
        self.default, self.rematch, self.large, self.min_pixels = default, rematch, large, min_pixels
        self.rematch_active = False
        self.calls = {"default": 0, "large": 0, "rematch": 0}
        self.shapes: dict[str, set[tuple[int, int]]] = {k: set() for k in self.calls}

    def route(self, x: np.ndarray) -> str:
        if self.rematch_active and self.rematch is not None:
            return "rematch"
        if self.large is not None and x.shape[-2] * x.shape[-1] >= self.min_pixels:
            return "large"
        return "default"

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        name = self.route(x)
        self.calls[name] += 1
        self.shapes[name].add((int(x.shape[-2]), int(x.shape[-1])))
        fn = {"default": self.default, "large": self.large, "rematch": self.rematch}[name]
        assert fn is not None
        return fn(x)


@contextlib.contextmanager
def fp32_rematch(owner: Any, backbone: RoutedBackbone) -> Iterator[None]:
    """While inside: ``owner.coregister`` (a class's method, or one instance's) runs with
    ``backbone.rematch_active`` set and the localizer's ``_photo_cache`` swapped for a cache of its
    own (one per photo cache the localizer holds), so every extraction of the re-match (the photo
    and the warped reference) goes to ``backbone.rematch``; restored on exit."""
    is_class = isinstance(owner, type)
    own_attr = "coregister" in vars(owner)  # a class defining it, or an instance already patched
    original = vars(owner)["coregister"] if own_attr else None
    method = owner.coregister
    caches: list[tuple[dict, dict]] = []  # (the localizer's photo cache, the re-match's own)

    def coregister(*args, **kwargs):
        this, rest = (args[0], args[1:]) if is_class else (owner, args)
        search_cache = this._photo_cache
        own = next((mine for theirs, mine in caches if theirs is search_cache), None)
        if own is None:
            own = {}
            caches.append((search_cache, own))
        this._photo_cache, backbone.rematch_active = own, True
        try:
            return method(this, *rest, **kwargs) if is_class else method(*rest, **kwargs)
        finally:
            this._photo_cache, backbone.rematch_active = search_cache, False

    owner.coregister = coregister
    try:
        yield
    finally:
        if own_attr:
            owner.coregister = original
        else:
            delattr(owner, "coregister")
