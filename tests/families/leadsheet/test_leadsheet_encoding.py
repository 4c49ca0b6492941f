"""lstmprovisor's encodings against the worked examples of specs/lstmprovisor.md (§2.3, §3.6, §9)."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import SHARED_DATA, needs_shared
from zoo.encodings import get_encoding_class
from zoo.families.leadsheet import leadsheet_encoding as ls
from zoo.errors import EncodingError
from zoo.music.leadsheet import read_leadsheet

GOLDEN = "(part (type chords))\nC7 F7 |\n(part (type melody))\nr8 e8 g4 g+8/3 f+8/3 e+8/3 r4\n"


def expand(runs):
    return [value for value, count in runs for _ in range(count)]


@pytest.fixture
def golden(tmp_path):
    path = tmp_path / "golden.ls"
    path.write_text(GOLDEN)
    return ls.score_to_grid(read_leadsheet(path))


def test_golden_example_of_the_spec(golden):
    target = ls.targets(golden["pitch"], golden["onset"])
    assert target.tolist() == expand([(0, 6), (18, 1), (1, 5), (21, 1), (1, 11), (33, 1), (1, 3), (31, 1), (1, 3),
                                      (30, 1), (1, 3), (0, 12)])
    encoded, pos = ls.interval_encoding(target, ls.start_position(target, 0))
    assert encoded.tolist() == expand([(0, 6), (14, 1), (1, 5), (17, 1), (1, 11), (26, 1), (1, 3), (12, 1), (1, 3),
                                       (13, 1), (1, 3), (0, 12)])
    assert pos.tolist() == expand([(64, 13), (67, 12), (79, 4), (77, 4), (76, 15)])
    assert ls.chord_relative_encoding(target, golden["root"]).tolist() == expand(
        [(0, 6), (6, 1), (1, 5), (9, 1), (1, 11), (4, 1), (1, 3), (2, 1), (1, 3), (13, 1), (1, 3), (0, 12)])
    assert golden["root"].tolist() == [0] * 24 + [5] * 24
    cot = ls.cot_vectors(ls.targets(golden["pitch"], golden["onset"], 48, 84))
    assert cot[6].tolist() == [0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 1, 0]
    assert cot[7].tolist() == [0, 1] + [0] * 11


def test_input_parts_test_vectors():
    b = ls.beat(13)
    assert b[0].tolist() == [1] * 9
    assert b[3].tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 0]
    assert b[4].tolist() == [0, 0, 0, 0, 0, 0, 0, 1, 1]
    assert b[12].tolist() == [0, 0, 1, 1, 1, 0, 0, 1, 1]
    np.testing.assert_allclose(ls.position(np.array([64, 5])), [[0.5676, 0.4324], [0, 0]], atol=1e-4)
    c7 = np.array([[1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0]])
    assert ls.chord_shift(np.array([64]), np.array([0]), c7).tolist() == [[1, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 0]]


def test_fold_and_wrapped_jumps():
    assert ls.fold(np.array([-1, 47, 85, 96, 30, 84])).tolist() == [-1, 59, 73, 84, 54, 84]
    target = np.array([2 + 60 - 48, 2 + 80 - 48, 2 + 60 - 48])  # +20 then -20 semitones
    encoded, _ = ls.interval_encoding(target, 60)
    assert encoded.tolist() == [14, 14 + 8, 14 - 8]


@pytest.mark.parametrize("kind, width", [("abs", 60), ("cot", 34), ("interval", 50), ("chord", 37), ("rhythm", 26)])
def test_feature_widths(golden, kind, width):
    target = ls.targets(golden["pitch"], golden["onset"], 48, 84 if kind == "cot" else 85)
    features, pos = ls.expert_features(kind, target, golden["root"], golden["chord"])
    assert features.shape == (48, width) and pos.shape == (48,)
    assert features[0, -ls.ENCODING_WIDTH[kind]:].argmax() == 0 or kind == "cot"  # last_output at t=0 is a rest


def test_encodings_are_registered_with_their_ranges():
    assert get_encoding_class("poex").experts == ("interval", "chord")
    assert get_encoding_class("cot")().vocab_size == 38 and get_encoding_class("abs")().vocab_size == 39


def test_window_makes_a_cut_note_an_onset(golden):
    part = ls.window(golden, 8, 10)
    assert part["onset"][0] == 1 and part["pitch"][0] == 64


def test_meter_other_than_4_4_is_refused(tmp_path):
    path = tmp_path / "waltz.ls"
    path.write_text("(meter 3 4)\n(part (type chords))\nC | F |\n(part (type melody))\nc2. d2.\n")
    with pytest.raises(EncodingError, match="3/4"):
        get_encoding_class("poex")().encode(read_leadsheet(path))


def test_encode_decode_round_trip_on_real_files():
    files = sorted(needs_shared(SHARED_DATA / "leadsheets" / "combination" / "blues").glob("*.ls"))[:3]
    encoding = get_encoding_class("poex")()
    for path in files:
        score = read_leadsheet(path)
        piece = encoding.encode(score)
        assert len(piece["pitch"]) % 48 == 0
        back = encoding.decode(piece)
        np.testing.assert_array_equal(back.tracks[0].notes["pitch"], score.tracks[0].notes["pitch"])
        np.testing.assert_array_equal(back.tracks[0].notes["start"], score.tracks[0].notes["start"])
        assert [c.pitch_classes for c in back.chords] == [c.pitch_classes for c in score.chords]


def test_any_score_with_chord_symbols_is_a_lead_sheet():
    from music21 import corpus

    from zoo.music.io import load_score

    path = next(p for p in corpus.getComposer("leadSheet") if "fosterBrownHair" in str(p))
    piece = get_encoding_class("poex")().encode(load_score(path))
    assert len(piece["pitch"]) % 48 == 0 and piece["onset"].sum() > 50
    assert piece["chord"].any(axis=1).mean() > 0.5  # chords under most steps
