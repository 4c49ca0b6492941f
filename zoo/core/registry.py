"""Model types by name: which module defines each, and the one class it registers there.

The table below is the only place that names the families. `get_model_type` imports the one
module asked for, so `generate.py -n RUN` loads that run's family alone and a family folder can be
deleted with its lines here. Importing a family module registers its types through
`register_model_type`, which also checks that the table and the module agree. A type's flags
(`ModelFlags`) live in a module of their own without TensorFlow, so `get_model_flags` serves the
command line's parsing and --help without loading any model.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from zoo.errors import UsageError

if TYPE_CHECKING:
    from zoo.core.model_flags import ModelFlags
    from zoo.core.model_type import ModelType

_FAMILIES = "zoo.families"
# model-type name -> (the module whose import registers it, its flags class as module.Class: the
# class the model type inherits, in a module that imports no TensorFlow)
MODEL_TYPES: dict[str, tuple[str, str]] = {
    "lstm": (f"{_FAMILIES}.lstm.lstm_composer", f"{_FAMILIES}.lstm.lstm_flags.LSTMFlags"),
    "transformer": (f"{_FAMILIES}.transformer.music_transformer",
                    f"{_FAMILIES}.transformer.transformer_flags.TransformerFlags"),
    "gan": (f"{_FAMILIES}.gan.gan_composer", f"{_FAMILIES}.gan.gan_flags.GANFlags"),
    "simple": (f"{_FAMILIES}.leadsheet.lstmprovisor", f"{_FAMILIES}.leadsheet.leadsheet_flags.SimpleFlags"),
    "poex": (f"{_FAMILIES}.leadsheet.lstmprovisor", f"{_FAMILIES}.leadsheet.leadsheet_flags.ProductOfExpertsFlags"),
    "compae": (f"{_FAMILIES}.leadsheet.compae", f"{_FAMILIES}.leadsheet.leadsheet_flags.CompaeFlags"),
    "musicvae": (f"{_FAMILIES}.musicvae.music_vae", f"{_FAMILIES}.musicvae.musicvae_flags.MusicVAEFlags"),
    "crossmodal": (f"{_FAMILIES}.crossmodal.cross_modal", f"{_FAMILIES}.crossmodal.crossmodal_flags.CrossModalFlags"),
    "rnn_nade": (f"{_FAMILIES}.rnn_piano.rnn_piano", f"{_FAMILIES}.rnn_piano.rnn_piano_flags.RnnNadeFlags"),
    "rnn_rbm": (f"{_FAMILIES}.rnn_piano.rnn_piano", f"{_FAMILIES}.rnn_piano.rnn_piano_flags.RnnRbmFlags"),
    "multinn": (f"{_FAMILIES}.multinn.multinn", f"{_FAMILIES}.multinn.multinn_flags.MultINNFlags"),
}

_MODEL_TYPES: dict[str, type["ModelType"]] = {}


def register_model_type(cls: type["ModelType"]) -> type["ModelType"]:
    """Class decorator: registers a model type under `cls.name` (lower case), from the module the table names."""
    key = cls.name.lower()
    expected, flags = MODEL_TYPES.get(key, (None, None))
    if expected != cls.__module__:
        raise RuntimeError(f"model type '{key}' is defined in {cls.__module__}, but the registry table names "
                           f"{expected or 'no module'} for it (zoo/core/registry.py)")
    if flags not in {f"{base.__module__}.{base.__qualname__}" for base in cls.__mro__}:
        raise RuntimeError(f"model type '{key}' does not inherit {flags}, the flags class the "
                           "registry table names for it (zoo/core/registry.py)")
    if key in _MODEL_TYPES:
        raise RuntimeError(f"model type '{key}' is registered twice")
    _MODEL_TYPES[key] = cls
    return cls


def import_family(family: str) -> None:
    """Imports the modules that register the model types of `zoo/families/<family>/` (nothing for an
    unknown family): what loading a `.keras` file whose classes come from that family needs."""
    for module in sorted({m for m, _ in MODEL_TYPES.values() if m.startswith(f"{_FAMILIES}.{family}.")}):
        importlib.import_module(module)


def model_type_names() -> list[str]:
    """Every model-type name the zoo knows, sorted (imports no family)."""
    return sorted(MODEL_TYPES)


def _known(name: str) -> str:
    key = str(name).lower()
    if key not in MODEL_TYPES:
        raise UsageError(f"unknown model type '{name}' (known: {', '.join(model_type_names())})")
    return key


def get_model_type(name: str) -> type["ModelType"]:
    """Case-insensitive lookup that imports the type's family module alone: 'LSTM' and 'lstm' are the same."""
    key = _known(name)
    if key not in _MODEL_TYPES:
        importlib.import_module(MODEL_TYPES[key][0])
    return _MODEL_TYPES[key]


def get_model_flags(name: str) -> type["ModelFlags"]:
    """Case-insensitive lookup of a type's name and flags (`ModelFlags`, which the model type inherits), importing
    no TensorFlow: what the command line parses and --help lists."""
    module, _, class_name = MODEL_TYPES[_known(name)][1].rpartition(".")
    return getattr(importlib.import_module(module), class_name)
