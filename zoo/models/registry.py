"""Model types: one class per type, registered by name; the trainer and generator look them up here.

A model type says which encodings it accepts, adds its own flags to the command line, builds a
compiled-ready `keras.Model` from a flat config dict, and makes the token generator that samples
from a trained model. Nothing edits an entry after import.
"""
from __future__ import annotations

import abc
import argparse
from typing import Any, ClassVar

import keras

from zoo.errors import UsageError

_MODEL_TYPES: dict[str, type["ModelType"]] = {}


def register_model_type(cls: type["ModelType"]) -> type["ModelType"]:
    """Class decorator: registers a model type under `cls.name` (lower case)."""
    key = cls.name.lower()
    if key in _MODEL_TYPES:
        raise RuntimeError(f"model type '{key}' is registered twice")
    _MODEL_TYPES[key] = cls
    return cls


def model_type_names() -> list[str]:
    return sorted(_MODEL_TYPES)


def get_model_type(name: str) -> type["ModelType"]:
    """Case-insensitive lookup: 'LSTM' and 'lstm' are the same model type."""
    key = str(name).lower()
    if key not in _MODEL_TYPES:
        raise UsageError(f"unknown model type '{name}' (known: {', '.join(model_type_names())})")
    return _MODEL_TYPES[key]


class ModelType(abc.ABC):
    """What every model type provides to the shared trainer, generator, exporter and evaluator."""

    name: ClassVar[str]
    default_encoding: ClassVar[str]
    encodings: ClassVar[tuple[str, ...]]
    loss_functions: ClassVar[tuple[str, ...]] = ("sparse_categorical_crossentropy",)

    @classmethod
    @abc.abstractmethod
    def add_arguments(cls, parser: argparse._ArgumentGroup) -> None:
        """Adds this type's own flags (and only those) to `parser`."""

    @classmethod
    @abc.abstractmethod
    def build(cls, config: dict[str, Any], vocab_size: int) -> keras.Model:
        """Builds the model from the run's flat config; inputs int32 [B, T], outputs float32 logits [B, T, V]."""

    @classmethod
    @abc.abstractmethod
    def token_generator(cls, model: keras.Model, config: dict[str, Any]):
        """Returns a `zoo.sampling.TokenGenerator` that samples from `model`."""
