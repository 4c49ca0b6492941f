"""What a family builds once per loaded model (compiled samplers, traced encode/decode functions).

Kept beside the model, not on it, so Keras neither tracks nor saves it, and weakly keyed, so a model
that is gone takes its entries with it. One mechanism for every family: each asks for its entry by name.
"""
from __future__ import annotations

import weakref
from typing import Any, Callable, TypeVar

T = TypeVar("T")

_ENTRIES: "weakref.WeakKeyDictionary[Any, dict[str, Any]]" = weakref.WeakKeyDictionary()


def per_model(model: Any, name: str, build: Callable[[], T]) -> T:
    """`build()` the first time `name` is asked for on `model`; the same object on every later call."""
    entries = _ENTRIES.setdefault(model, {})
    if name not in entries:
        entries[name] = build()
    return entries[name]


def cached(model: Any) -> dict[str, Any]:
    """What has been built for `model` so far, by name (a copy: for tests and diagnostics)."""
    return dict(_ENTRIES.get(model, {}))
