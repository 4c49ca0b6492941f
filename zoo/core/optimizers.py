"""Optimizers by name, shared by every model type's `compile`."""
from __future__ import annotations

import keras

from zoo.errors import UsageError


def make_optimizer(name: str, learning_rate: float | None) -> keras.optimizers.Optimizer:
    config = {} if learning_rate is None else {"learning_rate": learning_rate}
    try:
        return keras.optimizers.get({"class_name": name, "config": config})
    except (ValueError, TypeError):
        raise UsageError(
            f"unknown optimizer '{name}' (try adam, adamw, rmsprop, sgd, nadam, adagrad)"
        ) from None
