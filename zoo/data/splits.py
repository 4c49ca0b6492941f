"""Splitting pieces into train / valid / test, and the format tag of the split pickles.

Splits are by piece, never by window, and depend only on the pieces' sources and the seed, so no
piece leaks from train to test and the split does not depend on the encoding.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from zoo.errors import DataError

DATA_FORMAT = "zoo-encoded/1"


SPLITS = ("train", "valid", "test")


def split_indices(count: int, valid_fraction: float, test_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """Splits piece indices with a fixed seed; every split gets at least one piece when count >= 3."""
    order = np.random.default_rng(seed).permutation(count)
    n_valid = int(round(count * valid_fraction))
    n_test = int(round(count * test_fraction))
    if count >= 3:
        n_valid, n_test = max(n_valid, 1 if valid_fraction > 0 else 0), max(n_test, 1 if test_fraction > 0 else 0)
    n_train = count - n_valid - n_test
    if n_train < 1:
        raise DataError(f"only {count} usable pieces: too few to split into train/valid/test")
    return {
        "train": np.sort(order[:n_train]),
        "valid": np.sort(order[n_train:n_train + n_valid]),
        "test": np.sort(order[n_train + n_valid:]),
    }


def piece_key(source: str) -> str:
    """Files with the same name in different folders are one piece (e.g. Nottingham's full, melody/
    and chords/ versions of a tune), so they always land in the same split. Tune N of a multi-tune
    file `name.abc` is piece `nameN`, which is how Nottingham names its MIDI copy of that tune."""
    path, tune = split_source(source)
    return Path(path).stem.lower() + tune


def split_source(source: str) -> tuple[str, str]:
    """'dir/reels.abc#12' -> ('dir/reels.abc', '12'); a '#' that is part of a file name stays ('C#minor.mid', '')."""
    path, mark, tune = source.rpartition("#")
    return (path, tune) if mark and tune.isdigit() else (source, "")


def split_by_piece(paths: Sequence[str], valid_fraction: float, test_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """`split_indices` over pieces (see `piece_key`), mapped back to indices into `paths`."""
    keys = sorted({piece_key(p) for p in paths})
    key_split = {}
    for split, indices in split_indices(len(keys), valid_fraction, test_fraction, seed).items():
        key_split.update({keys[i]: split for i in indices})
    return {split: np.array([i for i, p in enumerate(paths) if key_split[piece_key(p)] == split], dtype=np.int64)
            for split in SPLITS}
