"""Tests of the `event` encoding (Performance RNN style)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from zoo.encodings import EOS_ID, PAD_ID, EventEncoding, encoding_from_config, get_encoding_class
from zoo.errors import UsageError
from zoo.music.score import Score, Tempo, Track, make_notes

CONFIGS = [
    {},
    {"time_step_ms": 20, "max_shift_steps": 50, "velocity_bins": 16, "pitch_range": [48, 84]},
]


def tiny_score() -> Score:
    melody = make_notes(pitch=[60, 64, 60], start=[0, 240, 480], end=[480, 2880, 490], velocity=[100, 100, 40])
    drums = make_notes(pitch=[36], start=[100], end=[200])
    return Score(tracks=[Track(notes=melody), Track(is_drum=True, notes=drums)])


def names(encoding, ids):
    return [encoding.token_name(i) for i in ids]


def test_layout_defaults():
    encoding = EventEncoding()
    assert (encoding.note_on_offset, encoding.note_off_offset) == (2, 130)
    assert (encoding.time_shift_offset, encoding.velocity_offset, encoding.vocab_size) == (258, 358, 390)
    assert names(encoding, [0, 1, 62, 190, 258, 357, 358, 389, 390]) == [
        "PAD", "EOS", "NOTE_ON_60", "NOTE_OFF_60", "TIME_SHIFT_1", "TIME_SHIFT_100", "VELOCITY_0", "VELOCITY_31", "390",
    ]


def test_encode_worked_example():
    encoding = EventEncoding()
    ids = encoding.encode(tiny_score())
    assert ids.dtype == np.int32
    # 60 on 0-50 steps (velocity bin 25), 64 on 25-300, 60 re-struck 50-51 (10 ms = 9.6 ticks: 0.104 steps
    # round to 51), drums dropped, 249 steps written as 100 + 100 + 49.
    assert names(encoding, ids) == [
        "VELOCITY_25", "NOTE_ON_60", "TIME_SHIFT_25", "NOTE_ON_64", "TIME_SHIFT_25", "NOTE_OFF_60",
        "VELOCITY_10", "NOTE_ON_60", "TIME_SHIFT_1", "NOTE_OFF_60",
        "TIME_SHIFT_100", "TIME_SHIFT_100", "TIME_SHIFT_49", "NOTE_OFF_64",
    ]
    assert ids[:3].tolist() == [383, 62, 282]


def test_encode_follows_tempo_map_and_pitch_range():
    score = Score(
        tracks=[Track(notes=make_notes([60, 30, 60], [960, 960, 1440], [1440, 1440, 1441]))],
        tempos=[Tempo(0, 120.0), Tempo(960, 60.0)],
    )
    encoding = EventEncoding(pitch_range=(48, 72))
    # 960 ticks at 120 qpm = 1 s; then 480 ticks at 60 qpm = 1 s; the 1-tick note rounds to 0 -> 1 step
    assert names(encoding, encoding.encode(score)) == [
        "TIME_SHIFT_100", "VELOCITY_20", "NOTE_ON_60", "TIME_SHIFT_100", "NOTE_OFF_60", "NOTE_ON_60",
        "TIME_SHIFT_1", "NOTE_OFF_60",
    ]
    assert encoding.encode(score)[2] == 2 + 60 - 48


def test_same_pitch_same_onset_merged_and_restrike_closed():
    notes = make_notes([60, 60, 60], [0, 0, 480], [240, 960, 1440], [80, 80, 80])
    encoding = EventEncoding()
    assert names(encoding, encoding.encode(Score(tracks=[Track(notes=notes)]))) == [
        "VELOCITY_20", "NOTE_ON_60", "TIME_SHIFT_50", "NOTE_OFF_60", "NOTE_ON_60", "TIME_SHIFT_100", "NOTE_OFF_60",
    ]


def test_decode_worked_example():
    encoding = EventEncoding()
    score = encoding.decode(encoding.encode(tiny_score()))
    assert score.resolution == 480 and score.qpm_at_start() == 120.0
    assert len(score.tracks) == 1 and score.tracks[0].program == 0 and not score.tracks[0].is_drum
    notes = score.tracks[0].notes
    assert notes["pitch"].tolist() == [60, 64, 60]
    assert notes["start"].tolist() == [0, 240, 480]
    assert notes["end"].tolist() == [480, 2880, 490]
    assert notes["velocity"].tolist() == [102, 102, 42]  # bin centres: (25.5 * 4), (10.5 * 4)


def test_decode_rules():
    encoding = EventEncoding()
    on, off, shift, vel = encoding.note_on_offset, encoding.note_off_offset, encoding.time_shift_offset, encoding.velocity_offset
    ids = [
        off + 62,  # note-off of a silent pitch: ignored
        on + 60, PAD_ID, shift + 9,  # 10 steps
        on + 60,  # re-struck: closes the first 60 at 10 steps
        vel + 0, on + 64, on + 64,  # re-struck at the same step: replaced
        shift + 0, off + 64,
        on + 67,  # zero length at the end: one step
        EOS_ID, on + 70,  # after EOS: ignored
    ]
    notes = encoding.decode(np.array(ids)).tracks[0].notes
    rows = sorted(zip(*(notes[k].tolist() for k in ("pitch", "start", "end", "velocity"))))
    step = 9.6
    assert rows == [
        (60, 0, round(10 * step), 80),
        (60, round(10 * step), round(11 * step), 80),
        (64, round(10 * step), round(11 * step), 2),
        (67, round(11 * step), round(12 * step), 2),
    ]


@pytest.mark.parametrize("config", CONFIGS)
def test_decode_never_raises(config):
    encoding = EventEncoding(**config)
    ids = np.random.default_rng(0).integers(-5, encoding.vocab_size + 5, 500)
    notes = encoding.decode(ids).tracks[0].notes
    assert np.all(notes["end"] > notes["start"])
    low, high = encoding.pitch_range
    assert np.all((notes["pitch"] >= low) & (notes["pitch"] <= high))
    assert np.all((notes["velocity"] >= 1) & (notes["velocity"] <= 127))
    assert encoding.decode(np.zeros(0, dtype=np.int32)).num_notes == 0
    encoding.decode(np.array([[np.inf, 3.0], [1e30, -2.5]]))


@pytest.mark.parametrize("config", CONFIGS)
def test_config_json_round_trip(config):
    encoding = EventEncoding(**config)
    rebuilt = encoding_from_config(json.loads(json.dumps(encoding.to_config())))
    assert isinstance(rebuilt, EventEncoding) and rebuilt == encoding
    assert rebuilt.pitch_range == encoding.pitch_range and isinstance(rebuilt.pitch_range, tuple)
    np.testing.assert_array_equal(rebuilt.encode(tiny_score()), encoding.encode(tiny_score()))
    assert get_encoding_class("Event") is EventEncoding


@pytest.mark.parametrize(
    "bad", [{"time_step_ms": 0}, {"max_shift_steps": 0}, {"velocity_bins": 129}, {"pitch_range": (60, 40)}, {"pitch_range": 5}]
)
def test_bad_config_rejected(bad):
    with pytest.raises(UsageError):
        EventEncoding(**bad)


def expected_notes(score: Score, low: int, high: int) -> np.ndarray:
    """Independent reference: (pitch, start_s, end_s, velocity) rows, sorted by pitch and onset.

    Same-pitch notes with the same onset collapse to the longest; a re-struck note ends where the
    next one of its pitch starts.
    """
    notes = score.all_notes()
    notes = notes[(notes["pitch"] >= low) & (notes["pitch"] <= high)]
    rows = {}
    for n, start, end in zip(notes, score.seconds(notes["start"]), score.seconds(notes["end"])):
        key = (int(n["pitch"]), float(start))
        if key not in rows or end > rows[key][2]:
            rows[key] = [key[0], key[1], float(end), int(n["velocity"])]
    ordered = sorted(rows.values())
    for this, following in zip(ordered, ordered[1:]):
        if this[0] == following[0]:
            this[2] = min(this[2], following[1])
    return np.array(ordered, dtype=np.float64).reshape(-1, 4)


@pytest.mark.parametrize("config", CONFIGS)
def test_round_trip_real_files(real_scores, config):
    """Stated resolution: times within time_step_ms / 2 (+ tick rounding), velocity within a bin."""
    assert real_scores
    encoding = EventEncoding(**config)
    step_s = encoding.time_step_ms / 1000.0
    tolerance = step_s / 2 + 1 / 960 + 1e-9
    for score in real_scores:
        ids = encoding.encode(score)
        assert ids.min() >= 2 and ids.max() < encoding.vocab_size
        decoded = encoding.decode(ids)
        expected = expected_notes(score, *encoding.pitch_range)
        got = expected_notes(decoded, *encoding.pitch_range)
        assert len(expected) > 10 and got.shape == expected.shape
        np.testing.assert_array_equal(got[:, 0], expected[:, 0])  # pitches exact
        assert np.abs(got[:, 1] - expected[:, 1]).max() <= tolerance
        short = (got[:, 2] - got[:, 1]) <= step_s + 1 / 960  # zero-length notes stretched to one step
        assert np.abs(got[~short, 2] - expected[~short, 2]).max() <= tolerance
        assert np.abs(got[:, 3] - expected[:, 3]).max() <= 128 / encoding.velocity_bins
        np.testing.assert_array_equal(encoding.encode(decoded), ids)  # stable after one pass


def test_score_without_notes_in_range_encodes_to_nothing():
    high = Score(tracks=[Track(notes=make_notes(pitch=[120], start=[0], end=[480]))])
    for score in (Score(tracks=[Track(notes=make_notes(pitch=[], start=[], end=[]))]), high):
        assert EventEncoding(pitch_range=[21, 108]).encode(score).size == 0
