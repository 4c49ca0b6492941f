"""The data of rnn_nade and rnn_rbm: piano-rolls cut into chunks, batched with a mask, and intros for generation."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from zoo.core.run_folder import RunConfig
from zoo.data.dataset import load_split
from zoo.errors import DataError, UsageError
from zoo.families.rnn_piano.polyphonic import NUM_KEYS


def chunk_rolls(rolls: list[np.ndarray], length: int) -> list[np.ndarray]:
    """Every roll cut into consecutive chunks of at most `length` frames."""
    if length < 1:
        raise UsageError(f"-s/--seq_len must be at least 1 (got {length})")
    return [roll[start:start + length] for roll in rolls for start in range(0, len(roll), length)]


def roll_dataset(rolls: list[np.ndarray], batch_size: int, shuffle: bool, seed: int = 0) -> tf.data.Dataset:
    """(rolls [B, T, 88] float32, mask [B, T] bool) batches, padded to the longest roll of each batch."""
    if not rolls:
        raise DataError("no piano-roll frames to batch")
    lengths = np.array([len(r) for r in rolls])
    order = np.arange(len(rolls))

    def generator():
        for i in order:
            yield rolls[i].astype(np.float32), np.ones(lengths[i], bool)

    dataset = tf.data.Dataset.from_generator(generator, output_signature=(
        tf.TensorSpec([None, NUM_KEYS], tf.float32), tf.TensorSpec([None], tf.bool)))
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(len(rolls)))  # Keras knows the epoch length
    if shuffle:
        dataset = dataset.shuffle(len(rolls), seed=seed, reshuffle_each_iteration=True)
    return dataset.padded_batch(batch_size).prefetch(tf.data.AUTOTUNE)


def intro_rolls(args: dict[str, Any], run, config: RunConfig, count: int) -> np.ndarray:
    """[count, P, 88] intros from the run's test split (P = --intro_frames; P = 0, the default: no intro, so
    generating needs no data). DataError when --intro_frames asks for a test split that is not here (a preset's
    config.json names the data of the machine that trained it)."""
    frames = args.get("intro_frames") or 0
    if frames == 0:
        return np.zeros((count, 0, NUM_KEYS), np.float32)
    test_path = config.data.get("test")
    if not test_path or not Path(test_path).is_file():
        where = f"({test_path})" if test_path else "(the run records none)"
        raise DataError(f"--intro_frames {frames}: the test split of run '{run.name}' is not here {where}; use "
                        "--intro_frames 0 to sample from nothing")
    pieces = load_split(test_path).pieces
    intros = []
    for i in range(count):
        index = args["intro_index"] + i
        if not 0 <= index < len(pieces):
            raise UsageError(f"--intro_index {index} is outside the {len(pieces)} test sequences")
        if len(pieces[index]) < frames:
            raise UsageError(f"test sequence {index} has {len(pieces[index])} frames, fewer than --intro_frames "
                             f"{frames}")
        intros.append(pieces[index][:frames])
    return np.stack(intros).astype(np.float32)
