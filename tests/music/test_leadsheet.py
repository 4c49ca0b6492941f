"""Impro-Visor lead sheets: chord symbols, the .ls reader and writer, on the spec's examples and the real files."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from helpers import SHARED_DATA, needs_shared
from zoo.errors import ScoreReadError
from zoo.music.chords import CHORD_INTERVALS, chord_name, chord_root_and_type, parse_chord
from zoo.music.io import load_score, save_score
from zoo.music.leadsheet import (
    LeadSheetWarning,
    chord_track,
    duration_text,
    leadsheet_text,
    parse_note,
    read_leadsheet,
)

LEADSHEETS = SHARED_DATA / "leadsheets"
II_V_I = """(title lick) (meter 4 4) (key 0)
(part (type chords) (title ) (instrument 0))
(section (style swing))
Dm9 | G13 | CM7 | / |
(part (type melody) (title Chorus 1) (instrument 11) (stave treble))
 r8 f8 e8 a-8 d8 e8 f8 c#8
 e8 d8 r1+1+2+4
"""


def write(tmp_path: Path, text: str, name: str = "x.ls") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ---------------------------------------------------------------- chords
def test_chord_golden_values_of_the_spec():
    root, pcs, bass = parse_chord("C7")
    assert (root, pcs.tolist(), bass) == (0, [1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0], None)
    assert chord_root_and_type(*parse_chord("F7"))[0] == 5
    assert chord_root_and_type(*parse_chord("F7"))[1].tolist() == [1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0]
    base, vector = chord_root_and_type(*parse_chord("Dm7/G"))
    assert (base, vector.tolist()) == (7, [1, 0, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0])
    for quality, vector in [("m7", [1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0]), ("h7", [1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0]),
                            ("7alt", [1, 0, 0, 1, 1, 0, 0, 0, 1, 0, 1, 0])]:
        assert chord_root_and_type(*parse_chord("C" + quality))[1].tolist() == vector
    assert parse_chord("NC")[1].sum() == 0


def test_chord_vocabulary_is_the_original_one_with_the_7b5b9_typo_fixed():
    assert len(CHORD_INTERVALS) == 110  # the 110 names of the spec's list ('' included)
    assert CHORD_INTERVALS["7b5b9"] == (0, 1, 4, 6, 10)
    for quality in ("", "M7", "m7b5", "7b9b13sus4", "Bass", "NC"):
        assert quality in CHORD_INTERVALS
    assert parse_chord("Cmaj7")[1].tolist() == parse_chord("CM7")[1].tolist()  # alias


def test_chord_names_round_trip_for_every_quality():
    for quality, intervals in CHORD_INTERVALS.items():
        if quality == "NC":
            continue
        root, pcs, bass = parse_chord("Eb" + quality)
        again = parse_chord(chord_name(root, np.flatnonzero(pcs), bass))
        assert again[1].tolist() == pcs.tolist()
    assert chord_name(2, [0, 2, 5, 7, 9], 7) == "Dm7/G"


# ---------------------------------------------------------------- notes and durations
@pytest.mark.parametrize("token, expected", [
    ("c", (60, 60)), ("c+4", (72, 120)), ("a-8", (57, 60)), ("bb-8", (58, 60)), ("c+2+4", (72, 360)),
    ("r2+8", (None, 300)), ("f+8/3", (77, 40)), ("g4.", (67, 180)), ("c32", (60, 15)), ("d16/5", (62, 24)),
    ("e32/3", (64, 10)),
])
def test_note_tokens(token, expected):
    assert parse_note(token) == expected


def test_durations_write_back_shortest():
    assert [duration_text(t) for t in (10, 20, 30, 40, 60, 120, 240, 360, 480, 600)] == [
        "32/3", "16/3", "16", "8/3", "8", "4", "2", "2.", "1", "1+4"]
    assert duration_text(15) == "32" and duration_text(24) == "16/5"


# ---------------------------------------------------------------- reading
def test_reads_the_minimal_ii_v_i_lick(tmp_path):
    score = read_leadsheet(write(tmp_path, II_V_I))
    notes = score.tracks[0].notes
    assert notes["pitch"].tolist() == [65, 64, 57, 62, 64, 65, 61, 64, 62]
    assert notes["start"][0] == 60 and notes["end"][-1] == 600  # ticks at 120 per quarter
    assert score.metadata["end_tick"] == str(4 * 480)
    assert [(c.time, c.text) for c in score.chords] == [(0, "Dm9"), (480, "G13"), (960, "CM7")]


def test_chart_corrections_of_the_original(tmp_path):
    text = "(part (type chords))\nC C C C C | | F G\n(part (type melody))\nc1 c1 c1\n"
    with pytest.warns(LeadSheetWarning, match="bar 2 is empty"):
        score = read_leadsheet(write(tmp_path, text))
    # 5 chords in one bar still fill 48 steps (first 3 get 10 steps, then 9); the empty bar repeats C;
    # the chords after the last '|' form bar 3.
    assert [(c.time, c.text) for c in score.chords] == [(0, "C"), (960, "F"), (1200, "G")]
    assert score.metadata["end_tick"] == str(3 * 480)


def test_unknown_chord_is_a_warning_naming_file_and_bar(tmp_path):
    path = write(tmp_path, "(part (type chords))\nC7 | Xq7 |\n(part (type melody))\nc1 c1\n")
    with pytest.warns(LeadSheetWarning, match=r"x\.ls: bar 2: .*read as NC"):
        score = read_leadsheet(path)
    assert score.chords[-1].text == "NC" and score.metadata["chord_warnings"] == "1"


def test_several_choruses_repeat_the_chart(tmp_path):
    text = "(part (type chords))\nC7 | F7 |\n(part (type melody))\nc1 d1\n(part (type melody))\ne2\n"
    score = read_leadsheet(write(tmp_path, text))
    assert score.tracks[0].notes["start"].tolist() == [0, 480, 960]
    assert [c.time for c in score.chords] == [0, 480, 960, 1440]  # the short second chorus is padded
    assert score.metadata["end_tick"] == str(4 * 480)


def test_meter_is_read(tmp_path):
    score = read_leadsheet(write(tmp_path, "(meter 3 4)\n(part (type chords))\nC | F |\n(part (type melody))\nc2.\n"))
    assert (score.time_signatures[0].numerator, score.time_signatures[0].denominator) == (3, 4)
    assert [c.time for c in score.chords] == [0, 360]


@pytest.mark.parametrize("text, message", [
    ("", "empty"), ("(part (type melody))\nc4 d4\n", "no chord chart"), ("(part (type chords)\nC |", "never closed"),
    ("(part (type chords))\nC |\n(part (type melody))\nc4x\n", "bad duration"),
])
def test_bad_files_are_refused_with_a_reason(tmp_path, text, message):
    with pytest.raises(ScoreReadError, match=message):
        load_score(write(tmp_path, text))


def test_chords_only_file_reads_with_no_notes(tmp_path):
    score = load_score(write(tmp_path, "(part (type chords))\nC7 | F7 | G7 | C7 |\n"))
    assert score.num_notes == 0 and len(score.chords) == 4 and score.metadata["end_tick"] == "1920"


# ---------------------------------------------------------------- writing
def test_writer_layout_matches_the_spec(tmp_path):
    score = read_leadsheet(write(tmp_path, "(part (type chords))\nC7 C7 C7 F7 |\n(part (type melody))\n"
                                           "r8 e8 g4 g+8/3 f+8/3 e+8/3 r4\n"))
    text = leadsheet_text(score)
    assert "C7 C7 C7 F7 |" in text
    assert "r8 e8 g4 g+8/3 f+8/3 e+8/3 r4" in text


def test_write_read_round_trip_and_chord_track(tmp_path):
    score = read_leadsheet(write(tmp_path, II_V_I))
    save_score(score, tmp_path / "out.ls")
    again = load_score(tmp_path / "out.ls")
    assert np.array_equal(again.tracks[0].notes, score.tracks[0].notes)
    assert [(c.time, c.root, c.pitch_classes) for c in again.chords] == [
        (c.time, c.root, c.pitch_classes) for c in score.chords]
    track = chord_track(score)
    assert len(track.notes) and set(track.notes["pitch"] % 12) <= {0, 2, 4, 5, 7, 9, 11}


def test_every_shared_leadsheet_reads_and_round_trips(tmp_path):
    files = sorted(needs_shared(LEADSHEETS).rglob("*.ls"))
    assert len(files) == 373
    for path in files:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LeadSheetWarning)  # one known bad slash chord (Fm6/E6)
            score = read_leadsheet(path)
        save_score(score, tmp_path / "rt.ls")
        again = read_leadsheet(tmp_path / "rt.ls")
        assert np.array_equal(again.tracks[0].notes, score.tracks[0].notes), path
        assert [(c.time, c.root, c.pitch_classes, c.bass) for c in again.chords] == [
            (c.time, c.root, c.pitch_classes, c.bass) for c in score.chords], path
        assert again.metadata["end_tick"] == score.metadata["end_tick"], path
