"""Tests of the rnn_piano data: chunking piano-rolls and batching them with a mask."""
from __future__ import annotations

import numpy as np
import pytest

from zoo.errors import DataError, UsageError
from zoo.families.rnn_piano.roll_data import chunk_rolls, roll_dataset


def test_chunks_cover_every_frame_in_order():
    rolls = [np.arange(7 * 88).reshape(7, 88) % 2, np.ones((3, 88), np.uint8)]
    chunks = chunk_rolls(rolls, 3)
    assert [len(c) for c in chunks] == [3, 3, 1, 3]
    np.testing.assert_array_equal(np.concatenate(chunks[:3]), rolls[0])
    with pytest.raises(UsageError, match="seq_len"):
        chunk_rolls(rolls, 0)


def test_batches_are_padded_and_masked():
    rolls = [np.ones((5, 88), np.uint8), np.ones((2, 88), np.uint8)]
    (batch, mask), = list(roll_dataset(rolls, batch_size=2, shuffle=False))
    assert batch.shape == (2, 5, 88) and batch.dtype == "float32"
    np.testing.assert_array_equal(mask.numpy().sum(axis=1), [5, 2])
    assert float(batch.numpy()[1, 2:].sum()) == 0.0
    with pytest.raises(DataError):
        roll_dataset([], 2, shuffle=False)
