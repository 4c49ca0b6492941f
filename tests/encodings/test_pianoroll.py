"""Tests of the `pianoroll` encoding: worked examples, round trips on real scores, options, CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest

from zoo.cli import run_cli, zoo_main
from zoo.data.dataset import load_split
from zoo.encodings import encoding_from_config, get_encoding_class
from zoo.encodings.pianoroll import PianorollEncoding
from zoo.errors import EncodingError, UsageError
from zoo.music.score import Score, TimeSignature, Track, make_notes


def score_of(pitches, starts, ends, velocity=None, resolution=480, **kwargs) -> Score:
    return Score(resolution=resolution, tracks=[Track(notes=make_notes(pitches, starts, ends, velocity))], **kwargs)


def test_encode_worked_example():
    encoding = PianorollEncoding(lowest_pitch=60, num_pitches=12, steps_per_beat=2, beats_per_bar=2)
    melody = make_notes([60, 64, 71, 59, 72], [0, 240, 480, 0, 0], [480, 300, 1300, 480, 480], [80, 80, 80, 80, 80])
    drums = make_notes([62], [0], [960])
    silent = make_notes([65], [0], [960], [0])
    score = Score(tracks=[Track(notes=melody), Track(is_drum=True, notes=drums), Track(notes=silent)])
    roll = encoding.encode(score)
    assert roll.dtype == np.uint8 and roll.shape == (8, 12)  # 1300 ticks = 5.4 -> 5 steps, padded to 2 bars of 4
    expected = np.zeros((8, 12), np.uint8)
    expected[0:2, 0] = 1  # 60 for a quarter
    expected[1, 4] = 1  # 64 from step 1, 60 ticks long -> at least one step
    expected[2:5, 11] = 1  # 71: 480..1300 ticks = steps 2..5.4 -> 2..5
    # 59 and 72 are out of range (dropped), the drum and the velocity-0 note are not notes.
    np.testing.assert_array_equal(roll, expected)


def test_octave_option_moves_notes_into_range():
    encoding = PianorollEncoding(lowest_pitch=60, num_pitches=24, beats_per_bar=1, out_of_range="octave")
    roll = encoding.encode(score_of([47, 60, 84, 95], [0, 0, 0, 0], [480] * 4))
    # 47 -> 71 (the lowest octave of the range), 60 stays, 84 -> 72 and 95 -> 83 (the top octave).
    assert np.flatnonzero(roll[0]).tolist() == [0, 11, 12, 23]
    assert PianorollEncoding(lowest_pitch=60, num_pitches=24, beats_per_bar=1).encode(
        score_of([47, 60, 84, 95], [0, 0, 0, 0], [480] * 4))[0].nonzero()[0].tolist() == [0]  # drop


def test_decode_merges_runs_and_roundtrips_the_roll():
    encoding = PianorollEncoding(lowest_pitch=60, num_pitches=4, steps_per_beat=4, beats_per_bar=1)
    roll = np.zeros((8, 4), np.uint8)
    roll[0:3, 0] = 1
    roll[5:8, 0] = 1
    roll[2, 3] = 1
    score = encoding.decode(roll)
    notes = score.tracks[0].notes
    assert [(n["pitch"], n["start"], n["end"]) for n in notes] == [(60, 0, 360), (63, 240, 360), (60, 600, 960)]
    assert score.time_signatures[0].numerator == 1 and score.resolution == 480
    np.testing.assert_array_equal(encoding.encode(score), roll)
    # Probabilities and a trailing channel axis decode the same way.
    np.testing.assert_array_equal(encoding.encode(encoding.decode(roll[..., None] * 0.9)), roll)


@pytest.mark.parametrize("garbage", [np.zeros((4, 5)), np.zeros(7), "notes", np.full((4, 4), np.nan), [[1, 2], [3]]])
def test_decode_never_raises(garbage):
    score = PianorollEncoding(num_pitches=4).decode(garbage)
    assert score.num_notes == 0


def test_meter_check_and_empty_scores():
    waltz = score_of([60], [0], [480], time_signatures=[TimeSignature(0, 3, 4)])
    with pytest.raises(EncodingError, match="3/4"):
        PianorollEncoding().encode(waltz)
    assert PianorollEncoding(beats_per_bar=3).encode(waltz).shape == (12, 48)
    assert PianorollEncoding(allow_other_meters=True).encode(waltz).shape == (16, 48)
    with pytest.raises(EncodingError, match="no notes"):
        PianorollEncoding().encode(score_of([100], [0], [480]))


@pytest.mark.parametrize("kwargs", [{"num_pitches": 0}, {"lowest_pitch": 100}, {"steps_per_beat": 0},
                                    {"out_of_range": "clip"}, {"out_of_range": "octave", "num_pitches": 8}])
def test_bad_options_are_usage_errors(kwargs):
    with pytest.raises(UsageError):
        PianorollEncoding(**kwargs)


def test_config_roundtrip():
    encoding = PianorollEncoding(lowest_pitch=40, num_pitches=40, steps_per_beat=3, beats_per_bar=3,
                                 bars_per_sample=4, out_of_range="octave", allow_other_meters=True)
    config = json.loads(json.dumps(encoding.to_config()))
    assert encoding_from_config(config) == encoding and get_encoding_class("pianoroll") is PianorollEncoding
    assert (encoding.steps_per_bar, encoding.steps_per_sample, encoding.vocab_size) == (9, 36, 40)


def test_roundtrip_on_real_chorales(corpus_scores):
    """Up to the grid: every quantised note onset still sounds, and re-encoding the decoded score is exact."""
    encoding = PianorollEncoding()
    for score in corpus_scores[:2]:  # the two chorales (the quartet is outside the chorale range)
        roll = encoding.encode(score)
        assert roll.shape[0] % encoding.steps_per_bar == 0 and roll.shape[1] == 48
        decoded = encoding.decode(roll)
        np.testing.assert_array_equal(encoding.encode(decoded), roll)
        notes = score.all_notes()
        step = score.resolution / encoding.steps_per_beat
        onsets = np.floor(notes["start"] / step + 0.5).astype(int)
        assert roll[onsets, notes["pitch"] - 36].all()
        # Decoded notes start on original onsets of their pitch; an onset is lost only where its pitch
        # already sounded on the step before (a repeated or doubled note: the stated merge).
        original = set(zip(notes["pitch"].tolist(), onsets.tolist()))
        got = decoded.tracks[0].notes
        kept = set(zip(got["pitch"].tolist(), (got["start"] // 120).tolist()))
        assert kept <= original and len(kept) > len(original) / 2
        lost = np.array(sorted(original - kept))
        assert (lost[:, 1] > 0).all() and roll[lost[:, 1] - 1, lost[:, 0] - 36].all()


def test_roundtrip_on_nottingham(nottingham_scores):
    encoding = PianorollEncoding(lowest_pitch=36, num_pitches=60, allow_other_meters=True)
    for score in nottingham_scores:
        roll = encoding.encode(score)
        np.testing.assert_array_equal(encoding.encode(encoding.decode(roll)), roll)


def test_prepare_cli_takes_the_encoding_options(tmp_path, chorale_files, capsys):
    out = tmp_path / "data"
    argv = ["prepare", "--input", *chorale_files[:4], "--encoding", "pianoroll", "--lowest_pitch", "38",
            "--num_pitches", "44", "--steps_per_beat", "2", "--bars_per_sample", "1", "--out_of_range", "octave",
            "-o", str(out), "--workers", "1", "--valid_fraction", "0.25", "--test_fraction", "0.25"]
    assert run_cli(zoo_main, argv) == 0
    train = load_split(out / "train.pkl")
    assert train.encoding == {"name": "pianoroll", "lowest_pitch": 38, "num_pitches": 44, "steps_per_beat": 2,
                              "beats_per_bar": 4, "bars_per_sample": 1, "out_of_range": "octave",
                              "allow_other_meters": False}
    assert all(p.shape[1] == 44 and p.shape[0] % 8 == 0 and p.dtype == np.uint8 for p in train.pieces)
    bad = ["prepare", "--input", chorale_files[0], "--encoding", "pianoroll", "--num_pitches", "0", "-o", str(out)]
    assert run_cli(zoo_main, bad) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: pianoroll num_pitches")
