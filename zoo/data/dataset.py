"""Pickled encodings -> `tf.data` pipelines of next-token windows.

A split is a list of pieces (int32 token arrays). Pieces are joined with `EOS_ID` between them,
cut into windows of `seq_len + 1` tokens, and each window gives (inputs = w[:-1], targets = w[1:]):
the model learns every next token of the window, the seed's single target being the last one.
Splits are by piece (see prepare.py), so no piece leaks between train, valid and test.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from zoo.data.prepare import DATA_FORMAT
from zoo.data.safe_pickle import load_pickle
from zoo.encodings.base import EOS_ID
from zoo.errors import DataError


@dataclasses.dataclass
class EncodedSplit:
    """One split as prepare.py wrote it: token arrays, the files they came from, the encoding config."""

    pieces: list[np.ndarray]
    sources: list[str]
    encoding: dict
    path: str = ""

    @property
    def num_tokens(self) -> int:
        return int(sum(len(p) for p in self.pieces))


def load_split(path: str | os.PathLike) -> EncodedSplit:
    """Loads one `{train,valid,test}.pkl` through the restricted unpickler and checks its layout."""
    data = load_pickle(path)
    if not isinstance(data, dict) or data.get("format") != DATA_FORMAT:
        raise DataError(f"{path} is not a zoo data file (make one with: python -m zoo prepare --input ... -o DIR)")
    pieces = data.get("pieces")
    if not isinstance(pieces, list) or not all(isinstance(p, np.ndarray) and p.ndim == 1 for p in pieces):
        raise DataError(f"{path}: 'pieces' must be a list of 1-D integer arrays")
    return EncodedSplit(
        pieces=[p.astype(np.int32) for p in pieces],
        sources=list(data.get("sources", [])),
        encoding=dict(data["encoding"]),
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
