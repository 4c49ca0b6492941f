"""Tests of the `melody` encoding (MusicVAE's 90 classes, 16 steps a bar)."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import NOTTINGHAM_MIDI, needs_shared
from zoo.encodings import encoding_from_config, get_encoding_class
from zoo.families.musicvae.melody_encoding import GAP, NOTE_OFF, NO_EVENT, MelodyEncoding
from zoo.errors import EncodingError, UsageError
from zoo.music.score import Score, TimeSignature, Track, make_notes

Q = 480  # ticks per quarter; a step is 120 ticks


def names(encoding, ids):
    return [encoding.token_name(i) for i in ids]


def test_layout():
    encoding = get_encoding_class("melody")()
    assert encoding.vocab_size == 90
    assert names(encoding, [0, 1, 2, 62, 89]) == ["NO_EVENT", "NOTE_OFF", "NOTE_ON_21", "NOTE_ON_81", "NOTE_ON_108"]


def test_worked_example_highest_pitch_and_cut_notes():
    # C4+E4 struck together (E4 kept), G4 struck while E4 sounds (cuts it), a rest, then A4 to the bar's end.
    notes = make_notes(pitch=[60, 64, 67, 69], start=[0, 0, 2 * 120, 6 * 120], end=[4 * 120, 4 * 120, 4 * 120, 16 * 120])
    drums = make_notes(pitch=[36], start=[0], end=[120])
    score = Score(resolution=Q, tracks=[Track(notes=notes), Track(is_drum=True, notes=drums)])
    encoding = MelodyEncoding()
    piece = encoding.encode(score)
    assert piece["melody"].dtype == np.int32 and piece["segment"].tolist() == [0] * 16
    assert names(encoding, piece["melody"][:8]) == [
        "NOTE_ON_64", "NO_EVENT", "NOTE_ON_67", "NO_EVENT", "NOTE_OFF", "NO_EVENT", "NOTE_ON_69", "NO_EVENT"]
    assert set(piece["melody"][7:].tolist()) == {NO_EVENT}  # A4 lasts to the padded end: no note-off


def test_long_rest_splits_melodies_at_bars():
    # Note in bar 0, a rest of more than a bar, a note starting mid-bar 3.
    notes = make_notes(pitch=[60, 62], start=[0, (3 * 16 + 4) * 120], end=[4 * 120, (3 * 16 + 8) * 120])
    piece = MelodyEncoding().encode(Score(resolution=Q, tracks=[Track(notes=notes)]))
    segment = piece["segment"]
    assert len(segment) == 4 * 16
    assert (segment[:16] == 0).all() and (segment[16:48] == GAP).all() and (segment[48:] == 1).all()
    melodies = MelodyEncoding().segments(piece)
    assert [len(m) for m in melodies] == [16, 16]
    assert melodies[1][4] == 62 - 21 + 2 and melodies[1][8] == NOTE_OFF
    # The rest is exactly 3 bars: with a 4-bar gap the two are one melody.
    assert len(MelodyEncoding(gap_bars=4).segments(MelodyEncoding(gap_bars=4).encode(
        Score(resolution=Q, tracks=[Track(notes=notes)])))) == 1


@pytest.mark.parametrize("name", ["ashover1.mid", "hpps1.mid", "jigs10.mid", "waltzes1.mid", "reelsa-c1.mid"])
def test_round_trip_on_nottingham(name):
    from zoo.music.midi import read_midi

    path = needs_shared(NOTTINGHAM_MIDI / "melody" / name)
    encoding = MelodyEncoding()
    score = read_midi(path)
    piece = encoding.encode(score)
    decoded = encoding.decode(piece)
    for before, after in zip(encoding.monophonic_steps(score), encoding.monophonic_steps(decoded)):
        np.testing.assert_array_equal(before, after)
    assert len(piece["melody"]) % 16 == 0


def test_round_trip_on_music21_corpus(corpus_scores):
    encoding = MelodyEncoding()
    for score in corpus_scores:
        decoded = encoding.decode(encoding.encode(score))
        for before, after in zip(encoding.monophonic_steps(score), encoding.monophonic_steps(decoded)):
            np.testing.assert_array_equal(before, after)


def test_decode_never_raises():
    encoding = MelodyEncoding()
    assert encoding.decode(np.array([5, -3, 999, 1, 0, 40])).num_notes == 2
    assert encoding.decode("not tokens").num_notes == 0


def test_config_round_trip_and_errors():
    encoding = MelodyEncoding(gap_bars=2, require_4_4=True)
    assert encoding_from_config(encoding.to_config()) == encoding
    with pytest.raises(UsageError):
        MelodyEncoding(gap_bars=0)
    waltz = Score(resolution=Q, tracks=[Track(notes=make_notes([60], [0], [Q]))], time_signatures=[TimeSignature(0, 3, 4)])
    with pytest.raises(EncodingError, match="3/4"):
        encoding.encode(waltz)
    assert MelodyEncoding().encode(waltz)["melody"][0] == 60 - 21 + 2
    drums_only = Score(tracks=[Track(is_drum=True, notes=make_notes([36], [0], [Q]))])
    with pytest.raises(EncodingError, match="no melody"):
        MelodyEncoding().encode(drums_only)


def test_prepare_cli_with_options(tmp_path):
    from zoo.cli import run_cli, zoo_main
    from zoo.data.dataset import load_split

    folder = needs_shared(NOTTINGHAM_MIDI / "melody")
    inputs = [str(folder / f"ashover{i}.mid") for i in range(1, 6)]
    assert run_cli(zoo_main, ["prepare", "--input", *inputs, "--encoding", "melody", "--gap_bars", "2",
                              "-o", str(tmp_path), "--workers", "1"]) == 0
    split = load_split(tmp_path / "train.pkl")
    assert split.encoding == {"name": "melody", "gap_bars": 2.0, "require_4_4": False}
    assert set(split.pieces[0]) == {"melody", "segment"}
