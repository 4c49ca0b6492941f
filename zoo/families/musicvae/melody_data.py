"""MusicVAE's training data: melody windows of `slice_bar` bars, one input file's first window, and the seed's
`train_dir`/`eval_dir` folders of music files encoded with the melody encoding once, into the data cache.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from zoo.data.corpus import cached_files
from zoo.data.dataset import EncodedSplit, load_split
from zoo.encodings.base import Encoding
from zoo.errors import DataError, EncodingError, ScoreReadError, UsageError
from zoo.families.musicvae.melody_encoding import STEPS_PER_BAR
from zoo.music.io import load_score


def melody_windows(pieces: list, encoding: Encoding, slice_bar: int) -> np.ndarray:
    """Windows of `slice_bar` bars, one bar apart, inside each melody; de-duplicated per piece.

    Returns int32 [N, slice_bar * 16] (symusic/Magenta slicing, without the cap of 5 per file).
    """
    length = slice_bar * STEPS_PER_BAR
    windows = []
    for piece in pieces:
        seen = set()
        for melody in encoding.segments(piece):
            for start in range(0, len(melody) - length + 1, STEPS_PER_BAR):
                window = melody[start:start + length]
                key = window.tobytes()
                if key not in seen:
                    seen.add(key)
                    windows.append(window)
    if not windows:
        return np.zeros((0, length), np.int32)
    return np.stack(windows).astype(np.int32)


def first_window(path: str, encoding: Encoding, slice_bar: int) -> np.ndarray:
    """The first `slice_bar`-bar window of the melody of a file, int32 [T]; one-line errors otherwise."""
    try:
        score = load_score(path)
    except ScoreReadError as error:
        raise ScoreReadError(f"--input: {error}") from None
    try:
        piece = encoding.encode(score)
    except EncodingError as error:
        raise EncodingError(f"--input {path} is not melodic: {error}") from None
    windows = melody_windows([piece], encoding, slice_bar)
    if len(windows) == 0:
        longest = max((len(m) for m in encoding.segments(piece)), default=0) // STEPS_PER_BAR
        raise UsageError(f"--input {path}: its longest melody has {longest} bar(s); this model needs {slice_bar}")
    return windows[0]


def encode_folder(folder: str, encoding: Encoding, workers: int) -> EncodedSplit:
    """The seed's `train_dir`/`eval_dir`: every music file under `folder`, melody-encoded once into the data cache
    (keyed by the folder's files and the encoding); unreadable ones are skipped and printed then."""
    if not Path(folder).is_dir():
        raise DataError(f"train_dir/eval_dir {folder} is not a folder")
    return load_split(cached_files(folder, encoding, max(1, workers)) / "train.pkl")
