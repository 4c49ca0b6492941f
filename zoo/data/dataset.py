"""Pickled encodings -> training splits -> `tf.data` pipelines (here: those of next-token windows).

A split is a list of pieces: one array per piece (int32 tokens for token encodings; a frame array
such as a piano-roll, time first, for others) or a dict of such arrays (e.g. melody and chords).
For token encodings Pieces are joined with `EOS_ID` between them,
cut into windows of `seq_len + 1` tokens, and each window gives (inputs = w[:-1], targets = w[1:]):
the model learns every next token of the window, the seed's single target being the last one.
Splits are by piece (see prepare.py), so no piece leaks between train, valid and test.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from zoo.data.corpus import ensure_default_dataset
from zoo.data.safe_pickle import load_pickle
from zoo.data.splits import DATA_FORMAT
from zoo.encodings.base import EOS_ID, piece_length
from zoo.errors import DataError, UsageError


@dataclasses.dataclass
class EncodedSplit:
    """One split as prepare.py wrote it: token arrays, the files they came from, the encoding config."""

    pieces: list[np.ndarray]
    sources: list[str]
    encoding: dict
    path: str = ""

    @property
    def num_tokens(self) -> int:
        """Time steps in all pieces (tokens, frames, ...)."""
        return int(sum(piece_length(p) for p in self.pieces))


def _valid_piece(piece: Any) -> bool:
    if isinstance(piece, dict):
        return bool(piece) and all(isinstance(k, str) and isinstance(v, np.ndarray) for k, v in piece.items())
    return isinstance(piece, np.ndarray) and piece.ndim >= 1


def _as_piece(piece):
    """Token arrays as int32; other pieces as stored."""
    if isinstance(piece, np.ndarray) and piece.ndim == 1 and np.issubdtype(piece.dtype, np.integer):
        return piece.astype(np.int32)
    return piece


def load_split(path: str | os.PathLike) -> EncodedSplit:
    """Loads one `{train,valid,test}.pkl` through the restricted unpickler and checks its layout."""
    data = load_pickle(path)
    if not isinstance(data, dict) or data.get("format") != DATA_FORMAT:
        raise DataError(f"{path} is not a zoo data file (make one with: python -m zoo prepare --input ... -o DIR)")
    pieces = data.get("pieces")
    if not isinstance(pieces, list) or not all(_valid_piece(p) for p in pieces):
        raise DataError(f"{path}: 'pieces' must be a list of arrays (or of dicts of named arrays)")
    encoding, sources = data.get("encoding"), data.get("sources", [])
    if not isinstance(encoding, dict) or not isinstance(encoding.get("name"), str):
        raise DataError(f"{path}: 'encoding' must be the encoding's config (a dict with its 'name')")
    if not isinstance(sources, list) or not all(isinstance(source, str) for source in sources):
        raise DataError(f"{path}: 'sources' must be a list of file names")
    return EncodedSplit(
        pieces=[_as_piece(p) for p in pieces],
        sources=list(sources),
        encoding=dict(encoding),
        path=str(path),
    )


def split_off_validation(split: EncodedSplit, fraction: float, seed: int) -> tuple[EncodedSplit, EncodedSplit]:
    """Moves `fraction` of the pieces (at least one) into a validation split, chosen with `seed`."""
    if len(split.pieces) < 2:
        raise DataError(f"{split.path}: {len(split.pieces)} piece(s) is too few to split off validation data")
    order = np.random.default_rng(seed).permutation(len(split.pieces))
    n_valid = min(max(1, int(round(len(order) * fraction))), len(order) - 1)
    valid_idx, train_idx = sorted(order[:n_valid]), sorted(order[n_valid:])

    def subset(indices):
        return dataclasses.replace(
            split,
            pieces=[split.pieces[i] for i in indices],
            sources=[split.sources[i] for i in indices] if split.sources else [],
        )

    return subset(train_idx), subset(valid_idx)


def token_stream(pieces: list[np.ndarray]) -> np.ndarray:
    """Joins pieces into one int32 stream: EOS, piece, EOS, piece, ..., EOS."""
    parts = [np.array([EOS_ID], np.int32)]
    for piece in pieces:
        parts.extend([piece.astype(np.int32), np.array([EOS_ID], np.int32)])
    return np.concatenate(parts)


def token_windows(pieces: list[np.ndarray], seq_len: int, stride: int | None = None) -> np.ndarray:
    """All windows of `seq_len + 1` tokens from the joined stream, `stride` apart (default `seq_len`).

    Returns int32 [num_windows, seq_len + 1]; raises DataError when the data is shorter than one window.
    """
    stream = token_stream(pieces)
    stride = stride or seq_len
    if len(stream) < seq_len + 1:
        raise DataError(
            f"the data holds {len(stream)} tokens, fewer than one window of seq_len + 1 = {seq_len + 1}; "
            "use a smaller -s/--seq_len or more data"
        )
    starts = np.arange(0, len(stream) - seq_len, stride)
    return stream[starts[:, None] + np.arange(seq_len + 1)[None, :]]


def window_dataset(
    windows: np.ndarray, batch_size: int, shuffle: bool, seed: int = 0, drop_remainder: bool = False
) -> tf.data.Dataset:
    """(inputs [B, L], targets [B, L]) batches from `token_windows` output, reshuffled every epoch."""
    dataset = tf.data.Dataset.from_tensor_slices(windows)
    if shuffle:
        dataset = dataset.shuffle(len(windows), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    return dataset.map(lambda w: (w[:, :-1], w[:, 1:]), num_parallel_calls=tf.data.AUTOTUNE).prefetch(
        tf.data.AUTOTUNE
    )


def split_paths(data_path: str | os.PathLike) -> dict[str, Path]:
    """Given a train pickle (or a prepared folder), the paths of its sibling splits that exist."""
    data_path = Path(data_path)
    folder = data_path if data_path.is_dir() else data_path.parent
    train = data_path if data_path.is_file() else folder / "train.pkl"
    paths = {"train": train}
    for split in ("valid", "test"):
        candidates = [folder / f"{split}.pkl"] + ([folder / "val.pkl"] if split == "valid" else [])
        found = next((p for p in candidates if p.is_file()), None)
        if found is not None:
            paths[split] = found
    return paths


SEED_DEFAULT_DATA_PATH = Path("data/train.pkl")  # MechanicalBach's -p default


@dataclasses.dataclass
class TrainingData:
    """The splits a run trains and validates on, the paths they came from, and their encoding."""

    train: EncodedSplit
    valid: EncodedSplit
    paths: dict[str, str]
    encoding_config: dict


def resolve_training_data(args: dict[str, Any], model_type) -> TrainingData:
    """Finds the training pickle (-p, the seed's ./data/train.pkl, or the embedded default) and its splits."""
    data_path = args.get("data_path")
    if data_path is None:
        if SEED_DEFAULT_DATA_PATH.is_file():
            data_path = SEED_DEFAULT_DATA_PATH
        else:
            data_path = ensure_default_dataset(args["data_mode"] or model_type.default_encoding)
    paths = split_paths(data_path)
    if not paths["train"].is_file():
        raise DataError(f"no training data at {data_path} (prepare some with: python -m zoo prepare --input DIR -o data/NAME)")
    train = load_split(paths["train"])
    if not train.pieces or train.num_tokens == 0:
        raise DataError(f"{paths['train']} holds no pieces")
    encoding_name = train.encoding.get("name")
    if args["data_mode"] and args["data_mode"] != encoding_name:
        raise UsageError(
            f"-d/--data_mode {args['data_mode']} does not match {paths['train']}, which holds the "
            f"'{encoding_name}' encoding (drop -d, or prepare the data with --encoding {args['data_mode']})"
        )
    if encoding_name not in model_type.encodings:
        raise UsageError(
            f"model type '{model_type.name}' does not train on the '{encoding_name}' encoding "
            f"(it takes: {', '.join(model_type.encodings)})"
        )
    if args.get("validation_split") is not None or "valid" not in paths:
        fraction = 0.1 if args.get("validation_split") is None else args["validation_split"]
        train, valid = split_off_validation(train, fraction, args["seed"])
    else:
        valid = load_split(paths["valid"])
        if valid.encoding != train.encoding:
            raise DataError(f"{paths['valid']} was encoded differently from {paths['train']}: prepare them together")
    return TrainingData(train, valid, {k: str(v) for k, v in paths.items()}, train.encoding)
