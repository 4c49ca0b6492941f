"""Saving and loading models safely: atomic `.keras` writes and a loader that reports corrupt files."""
from __future__ import annotations

import os
from pathlib import Path

import keras

from zoo.atomic import atomic_path
from zoo.errors import RunError


def save_model(model: keras.Model, path: str | os.PathLike) -> None:
    """Writes a `.keras` file atomically: a crash mid-write leaves the previous file intact."""
    with atomic_path(path) as tmp:
        model.save(tmp)


def save_weights(model: keras.Model, path: str | os.PathLike) -> None:
    """Writes `model` weights and optimizer state (`.weights.h5`) atomically."""
    with atomic_path(path) as tmp:
        model.save_weights(tmp)


def load_model(path: str | os.PathLike) -> keras.Model:
    """Loads a `.keras` file in Keras safe mode (no Python lambdas); RunError when corrupt or truncated."""
    import zoo.models  # noqa: F401  registers the custom layers before deserialising

    path = Path(path)
    if not path.is_file():
        raise RunError(f"no model file at {path}")
    try:
        return keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # zip, h5 and deserialisation errors come in many types
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise RunError(f"cannot load {path}: the file is corrupt, truncated or unsafe ({reason[:200]})") from None
