"""The contract every encoding fills in: Score <-> integer token ids, with a JSON config.

Every token encoding reserves the same special ids at the bottom of its vocabulary, so the data
pipeline, the losses and the samplers treat them alike whatever the encoding:

    PAD_ID = 0   padding; never a training target
    EOS_ID = 1   end of a piece; separates pieces when they are concatenated

No TensorFlow here: encodings are pure numpy.
"""
from __future__ import annotations

import abc
import importlib
from typing import Any, ClassVar, Iterable

import numpy as np

from zoo.errors import UsageError
from zoo.music.score import Score

PAD_ID = 0
EOS_ID = 1
NUM_SPECIAL = 2

# encoding name -> the module whose import registers it; an encoding one family alone uses lives in
# that family's folder. None of these modules imports TensorFlow, so `prepare` stays light.
ENCODING_MODULES: dict[str, str] = {
    "event": "zoo.encodings.event",
    "numeric": "zoo.encodings.numeric",
    "pianoroll": "zoo.encodings.pianoroll",
    "melody": "zoo.families.musicvae.melody_encoding",
    "abs": "zoo.families.leadsheet.leadsheet_encoding",
    "cot": "zoo.families.leadsheet.leadsheet_encoding",
    "rel": "zoo.families.leadsheet.leadsheet_encoding",
    "poex": "zoo.families.leadsheet.leadsheet_encoding",
    "notes": "zoo.families.crossmodal.notes_encoding",
    "multitrack": "zoo.families.multinn.multitrack_encoding",
}

_ENCODINGS: dict[str, type["Encoding"]] = {}


def register_encoding(cls: type["Encoding"]) -> type["Encoding"]:
    """Class decorator: makes an encoding known by its `name` to `get_encoding_class`/`encoding_from_config`."""
    if ENCODING_MODULES.get(cls.name) != cls.__module__:
        raise RuntimeError(f"encoding '{cls.name}' is defined in {cls.__module__}, but the table in "
                           f"zoo/encodings/base.py names {ENCODING_MODULES.get(cls.name) or 'no module'} for it")
    _ENCODINGS[cls.name] = cls
    return cls


def encoding_names() -> list[str]:
    """Every encoding name the zoo knows, sorted (imports none of them)."""
    return sorted(ENCODING_MODULES)


def get_encoding_class(name: str) -> type["Encoding"]:
    """Case-insensitive lookup that imports the module of that encoding alone."""
    key = str(name).lower()
    if key not in ENCODING_MODULES:
        raise UsageError(f"unknown encoding '{name}' (known: {', '.join(encoding_names())})")
    if key not in _ENCODINGS:
        importlib.import_module(ENCODING_MODULES[key])
    return _ENCODINGS[key]


def encoding_from_config(config: dict[str, Any]) -> "Encoding":
    """Rebuilds an encoding from `Encoding.to_config()` output (as stored in a run's config.json)."""
    config = dict(config)
    return get_encoding_class(config.pop("name")).from_config(config)


def as_token_ids(tokens: Any) -> np.ndarray:
    """Any array-like of token ids -> a flat int64 array, for decoders that must never raise.

    Floats are truncated; non-finite or huge values become -1 (out of range, so skipped); anything that
    is not numeric gives an empty array.
    """
    try:
        array = np.asarray(tokens)
        if array.dtype.kind == "f":
            array = np.where(np.isfinite(array) & (np.abs(array) < 2.0**62), array, -1)
        return array.astype(np.int64).ravel()
    except (TypeError, ValueError, OverflowError):
        return np.zeros(0, dtype=np.int64)


def piece_length(piece: np.ndarray | dict[str, np.ndarray]) -> int:
    """Time steps of an encoded piece: an array's first axis, or that of a dict piece's first array."""
    first = next(iter(piece.values()), ()) if isinstance(piece, dict) else piece
    return len(first)


class Encoding(abc.ABC):
    """Maps a `Score` to a 1-D int32 array of token ids in [0, vocab_size) and back.

    Subclasses set `name`, implement `encode`, `decode`, `vocab_size` and `to_config`, and may
    override `fit` when their vocabulary is learnt from the training split.
    """

    name: ClassVar[str]
    # True for an encoding that makes its own data set (no --input files): `prepare` then calls
    # `build_dataset(output_dir, valid_fraction, test_fraction, seed) -> manifest` instead.
    synthesises_data: ClassVar[bool] = False

    @property
    @abc.abstractmethod
    def vocab_size(self) -> int:
        """Number of token ids, special ids included."""

    @abc.abstractmethod
    def encode(self, score: Score) -> np.ndarray:
        """Score -> int32 ids (no trailing EOS; the data pipeline adds separators).

        Non-token encodings return the piece their models train on instead: an array with time
        first (a piano-roll) or a dict of such arrays. Raise EncodingError for a score they cannot use.
        """

    @abc.abstractmethod
    def decode(self, tokens: np.ndarray) -> Score:
        """ids -> Score. Must never raise on a generated sequence: bad tokens are skipped."""

    def fit(self, scores: Iterable[Score]) -> "Encoding":
        """Returns an encoding whose vocabulary is learnt from `scores` (the training split).

        Fixed-vocabulary encodings return themselves.
        """
        return self

    def to_config(self) -> dict[str, Any]:
        """JSON-serialisable config; `encoding_from_config` rebuilds an equal encoding from it."""
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Encoding":
        return cls(**config)

    @classmethod
    def add_arguments(cls, parser) -> None:
        """Adds this encoding's options to `python -m zoo prepare` (names = constructor arguments)."""

    def token_name(self, token_id: int) -> str:
        """Human-readable name of one id (for debugging and error messages)."""
        return {PAD_ID: "PAD", EOS_ID: "EOS"}.get(int(token_id), str(int(token_id)))
