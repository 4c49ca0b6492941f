"""Tests of the `numeric` encoding (MechanicalBach's note/chord strings)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from zoo.encodings import EOS_ID, PAD_ID, NumericEncoding, encoding_from_config, get_encoding_class
from zoo.encodings.numeric import UNK_ID, normal_order, parse_pitch_name, pitch_name
from zoo.errors import EncodingError, UsageError
from zoo.music.score import Score, Track, make_notes


def tiny_score() -> Score:
    """C major triad doubled at the octave, then C#4, a drum hit, E-4 doubled, then G7."""
    melody = make_notes(
        pitch=[60, 64, 67, 72, 61, 63, 75, 67, 71, 74, 77],
        start=[0, 0, 0, 0, 480, 960, 960, 1440, 1440, 1440, 1440],
        end=[480, 480, 480, 480, 960, 1440, 1440, 1920, 1920, 1920, 1920],
    )
    drums = make_notes(pitch=[36], start=[240], end=[300])
    return Score(tracks=[Track(notes=melody), Track(is_drum=True, notes=drums)])


TINY_TOKENS = ["0.4.7", "C#4", "E-4", "11.2.5.7"]


def test_tokens_worked_example():
    assert NumericEncoding().tokens(tiny_score()) == TINY_TOKENS


def test_chords_across_tracks_are_merged():
    score = Score(tracks=[Track(notes=make_notes([60], [0], [480])), Track(notes=make_notes([64], [0], [480]))])
    assert NumericEncoding().tokens(score) == ["0.4"]
    fifth = Score(tracks=[Track(notes=make_notes([60, 67], [0, 0], [480, 480]))])
    assert NumericEncoding().tokens(fifth) == ["7.0"]  # normal order: the smaller span (G to C)


def test_encode_ids_worked_example():
    encoding = NumericEncoding().fit([tiny_score()])
    assert encoding.vocabulary == sorted(TINY_TOKENS) == ["0.4.7", "11.2.5.7", "C#4", "E-4"]
    assert encoding.vocab_size == 7
    ids = encoding.encode(tiny_score())
    assert ids.dtype == np.int32
    assert ids.tolist() == [3, 5, 6, 4]
    assert [encoding.token_name(i) for i in (PAD_ID, EOS_ID, UNK_ID, 3)] == ["PAD", "EOS", "UNK", "0.4.7"]


def test_decode_worked_example():
    encoding = NumericEncoding(["0.4.7", "C#4"])
    score = encoding.decode(np.array([3, PAD_ID, UNK_ID, 4, 4, EOS_ID, 3]))
    assert score.resolution == 480 and score.qpm_at_start() == 120.0
    assert len(score.tracks) == 1 and score.tracks[0].program == 0
    notes = score.tracks[0].notes
    # events at 0, (UNK rest at 240), 480, 720; each one quarter long, C#4 cut at its re-strike
    assert notes["pitch"].tolist() == [60, 64, 67, 61, 61]
    assert notes["start"].tolist() == [0, 0, 0, 480, 720]
    assert notes["end"].tolist() == [480, 480, 480, 720, 1200]
    assert set(notes["velocity"].tolist()) == {80}


def test_pitch_names_match_music21():
    pitch = pytest.importorskip("music21.pitch")
    for midi in range(128):
        assert pitch_name(midi) == str(pitch.Pitch(midi=midi)), midi
    assert parse_pitch_name("C#4") == 61 and parse_pitch_name("E-4") == 63 and parse_pitch_name("C-1") == 0
    assert parse_pitch_name("B--1") == 10 and parse_pitch_name("nonsense") is None
    for midi in range(12, 128):
        assert parse_pitch_name(pitch_name(midi)) == midi


def test_normal_order_examples():
    assert normal_order([0, 4, 7]) == [0, 4, 7]
    assert normal_order([7, 11, 2, 5]) == [11, 2, 5, 7]
    assert normal_order([10, 2, 5]) == [10, 2, 5]
    assert normal_order([]) == []


def test_normal_order_agrees_with_music21_on_random_sets():
    chord = pytest.importorskip("music21.chord")
    rng = np.random.default_rng(0)
    for _ in range(300):
        size = int(rng.integers(2, 13))
        pcs = rng.choice(12, size=size, replace=False).tolist()
        assert normal_order(pcs) == chord.Chord(pcs).normalOrder, pcs


def test_unfitted_encode_raises():
    with pytest.raises(EncodingError, match="fit"):
        NumericEncoding().encode(tiny_score())


def test_duplicate_vocabulary_rejected():
    with pytest.raises(UsageError, match="duplicate"):
        NumericEncoding(["C4", "C4"])


def test_fit_uses_training_scores_only():
    train = Score(tracks=[Track(notes=make_notes([62, 60], [0, 480], [480, 960]))])
    encoding = NumericEncoding().fit([train])
    assert encoding.vocabulary == ["C4", "D4"]
    unseen = Score(tracks=[Track(notes=make_notes([60, 61, 64, 67], [0, 480, 960, 960], [480] * 4))])
    assert encoding.encode(unseen).tolist() == [3, UNK_ID, UNK_ID]


def test_config_json_round_trip(corpus_scores):
    encoding = NumericEncoding().fit(corpus_scores[:1])
    config = json.loads(json.dumps(encoding.to_config()))
    rebuilt = encoding_from_config(config)
    assert isinstance(rebuilt, NumericEncoding) and rebuilt == encoding
    for score in corpus_scores:
        np.testing.assert_array_equal(rebuilt.encode(score), encoding.encode(score))
    assert get_encoding_class("NUMERIC") is NumericEncoding
    assert encoding_from_config(json.loads(json.dumps(NumericEncoding().to_config()))) == NumericEncoding()


@pytest.mark.parametrize("vocabulary", [None, ["0.4.7", "C4", "junk", "4", "99.3"]])
def test_decode_never_raises(vocabulary):
    encoding = NumericEncoding(vocabulary)
    ids = np.random.default_rng(0).integers(-5, encoding.vocab_size + 5, 500)
    score = encoding.decode(ids)
    notes = score.tracks[0].notes
    assert np.all(notes["end"] > notes["start"])
    assert np.all((notes["pitch"] >= 0) & (notes["pitch"] <= 127))
    assert encoding.decode(np.zeros(0, dtype=np.int64)).num_notes == 0
    assert encoding.decode(np.array([np.nan, 3.0, 1e30])).num_notes <= 3


def test_round_trip_real_files(real_scores):
    """Stated resolution: the sequence of onset tokens survives decode(encode(x))."""
    assert real_scores
    encoding = NumericEncoding().fit(real_scores)
    for score in real_scores:
        ids = encoding.encode(score)
        assert len(ids) > 10 and UNK_ID not in ids
        decoded = encoding.decode(ids)
        assert encoding.tokens(decoded) == encoding.tokens(score)
        np.testing.assert_array_equal(encoding.encode(decoded), ids)
