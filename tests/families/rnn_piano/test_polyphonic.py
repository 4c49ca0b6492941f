"""The polyphonic benchmark JSON reader: 88-key rolls, the file's own splits, clear errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

from zoo.families.rnn_piano.polyphonic import BUNDLED_JSB, read_polyphonic_json, write_split_pickles, encoding_config
from zoo.errors import DataError


def test_bundled_jsb_has_the_standard_splits():
    splits = read_polyphonic_json(BUNDLED_JSB)
    counts = {k: (len(v), sum(len(r) for r in v)) for k, v in splits.items()}
    assert counts == {"train": (229, 13807), "valid": (76, 4602), "test": (77, 4725)}  # specs/metrics.md §9
    first = json.loads(BUNDLED_JSB.read_text())["train"][0][0]
    roll = splits["train"][0]
    assert roll.shape[1] == 88 and roll.dtype == np.uint8
    assert sorted(np.nonzero(roll[0])[0] + 21) == sorted(first)


def test_pickles_round_trip(tmp_path):
    from zoo.data.dataset import load_split

    splits = {"train": [np.eye(88, dtype=np.uint8)[:3]], "valid": [np.zeros((2, 88), np.uint8)],
              "test": [np.ones((1, 88), np.uint8)]}
    paths = write_split_pickles(splits, tmp_path, "x.json", encoding_config())
    loaded = load_split(paths["train"])
    np.testing.assert_array_equal(loaded.pieces[0], splits["train"][0])
    assert loaded.encoding["lowest_pitch"] == 21 and loaded.encoding["num_pitches"] == 88


@pytest.mark.parametrize("content, message", [
    ({"train": [[[60]]], "valid": [[[60]]], "test": [[[20]]]}, "pitch 20 is outside the 88 keys"),
    ({"train": [[[60]]], "valid": [[[109, 60]]], "test": [[[60]]]}, "pitch 109 is outside"),
    ({"train": [[[60]]], "valid": [[[60]]]}, "'train', 'valid' and 'test'"),
    ({"train": [[["C4"]]], "valid": [[[60]]], "test": [[[60]]]}, "integer MIDI pitches"),
    ({"train": [], "valid": [[[60]]], "test": [[[60]]]}, "holds no frames"),
])
def test_bad_files_raise_data_errors(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(content))
    with pytest.raises(DataError, match=message):
        read_polyphonic_json(path)


def test_unreadable_json(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(DataError, match="not a readable JSON"):
        read_polyphonic_json(path)
    with pytest.raises(DataError, match="no polyphonic data file"):
        read_polyphonic_json(tmp_path / "missing.json")
