"""The optimizer factory: every family builds its optimizers (from -o and --learning_rate) here."""
from __future__ import annotations

import inspect

import keras

from zoo.errors import UsageError


def optimizer_class(name: str) -> type[keras.optimizers.Optimizer]:
    """The class of Keras's optimizer `name` (case-insensitive); UsageError if there is none."""
    try:
        # Keras resolves names to instances only; naming this one keeps Keras's automatic names of the real ones.
        return type(keras.optimizers.get({"class_name": name, "config": {"name": "probe"}}))
    except (ValueError, TypeError):
        raise UsageError(f"unknown optimizer '{name}' (try adam, adamw, rmsprop, sgd, nadam, adagrad)") from None


def takes_epsilon(name: str) -> bool:
    """Whether optimizer `name` has an epsilon (adam, rmsprop, ... do; sgd does not)."""
    return "epsilon" in inspect.signature(optimizer_class(name)).parameters


def make_optimizer(name: str, learning_rate: float | None = None, *, epsilon: float | None = None,
                   global_clipnorm: float | None = None) -> keras.optimizers.Optimizer:
    """Optimizer `name` with the settings given; None keeps the optimizer's default, a clip norm of 0 clips nothing.

    An unknown name, or an `epsilon` for an optimizer that has none, is a UsageError.
    """
    if epsilon is not None and not takes_epsilon(name):
        raise UsageError(f"optimizer '{name}' has no epsilon")
    settings = {"learning_rate": learning_rate, "epsilon": epsilon, "global_clipnorm": global_clipnorm or None}
    return optimizer_class(name)(**{key: value for key, value in settings.items() if value is not None})
