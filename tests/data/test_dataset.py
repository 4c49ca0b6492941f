import numpy as np
import pytest

from zoo.data.dataset import load_split, split_off_validation, token_stream, token_windows, window_dataset
from zoo.encodings import EOS_ID
from zoo.errors import DataError


def test_windows_shift_targets_by_one():
    pieces = [np.arange(10, 30, dtype=np.int32), np.arange(40, 45, dtype=np.int32)]
    stream = token_stream(pieces)
    assert stream[0] == EOS_ID and stream[21] == EOS_ID and stream[-1] == EOS_ID and len(stream) == 28
    windows = token_windows(pieces, seq_len=8)
    assert windows.shape == (3, 9)
    np.testing.assert_array_equal(windows[1], stream[8:17])
    inputs, targets = next(iter(window_dataset(windows, batch_size=2, shuffle=False)))
    np.testing.assert_array_equal(inputs.numpy()[:, 1:], targets.numpy()[:, :-1])


def test_too_little_data_is_a_clear_error():
    with pytest.raises(DataError, match="fewer than one window"):
        token_windows([np.arange(5, dtype=np.int32)], seq_len=50)


def test_validation_split_is_by_piece(event_data):
    split = load_split(event_data / "train.pkl")
    train, valid = split_off_validation(split, 0.25, seed=0)
    assert len(train.pieces) + len(valid.pieces) == len(split.pieces) and len(valid.pieces) == 3
    assert not set(train.sources) & set(valid.sources)


def test_non_zoo_pickle_is_refused(tmp_path):
    import pickle

    (tmp_path / "train.pkl").write_bytes(pickle.dumps(["C4", "E4"]))
    with pytest.raises(DataError, match="not a zoo data file"):
        load_split(tmp_path / "train.pkl")
