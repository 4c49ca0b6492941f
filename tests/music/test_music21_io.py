"""Tests of zoo.music.music21_io: the music21 corpus, ABC, Humdrum, MusicXML round trips."""
import numpy as np
import pytest

from zoo.errors import ScoreReadError
from zoo.music import load_score, save_score
from zoo.music.midi import read_midi, write_midi
from zoo.music.music21_io import read_music21, score_from_music21, write_musicxml
from zoo.music.score import KeySignature, Score, Tempo, TimeSignature, Track, make_notes

ABC = """X:1
T:First Tune
M:3/4
L:1/8
Q:1/4=90
K:D
"D"d2 f2 a2|"G"b2 g2 e2|"A7"c2 e2 a2|"D"d6|]

X:2
T:Second Tune
M:4/4
K:G
G4 B4|d8|]
"""

KERN = """**kern\t**kern
*M4/4\t*M4/4
4C\t4e
4D\t4f
2E\t2g
*-\t*-
"""


@pytest.fixture(scope="module")
def bach():
    from music21 import corpus

    return score_from_music21(corpus.parse("bach/bwv66.6"))


def test_bach_chorale(bach, tmp_path):
    assert len(bach.tracks) == 4 and bach.num_notes > 100
    assert [t.name for t in bach.tracks] == ["Soprano", "Alto", "Tenor", "Bass"]
    assert bach.resolution == 480
    assert bach.time_signatures == [TimeSignature(0, 4, 4)]
    assert bach.key_signatures == [KeySignature(0, "F#m")]
    write_midi(bach, tmp_path / "bach.mid")
    back = read_midi(tmp_path / "bach.mid")
    for a, b in zip(bach.tracks, back.tracks):
        np.testing.assert_array_equal(a.notes, b.notes)


def test_musicxml_round_trip(bach, tmp_path):
    save_score(bach, tmp_path / "bach.musicxml")
    back = load_score(tmp_path / "bach.musicxml")
    assert len(back.tracks) == 4
    for a, b in zip(bach.tracks, back.tracks):
        np.testing.assert_array_equal(a.notes[["pitch", "start", "end"]], b.notes[["pitch", "start", "end"]])
    assert back.key_signatures == bach.key_signatures and back.time_signatures == bach.time_signatures


def test_musicxml_overlaps_chords_and_triplets(tmp_path):
    # overlapping notes (separate voices), a chord, a note tied over a 3/4 bar line, triplets
    notes = make_notes([60, 64, 67, 60, 64, 72, 74], [0, 480, 720, 2880, 2880, 160, 320], [1920, 960, 2160, 3040, 3040, 320, 480])
    score = Score(
        tracks=[Track("lead", 0, False, notes), Track("", 0, False, make_notes([40], [0], [4000]))],
        tempos=[Tempo(0, 100.0)],
        time_signatures=[TimeSignature(0, 3, 4)],
        key_signatures=[KeySignature(0, "Bb")],
        metadata={"title": "Voices"},
    )
    write_musicxml(score, tmp_path / "v.xml")
    back = read_music21(tmp_path / "v.xml")
    for a, b in zip(score.tracks, back.tracks):
        np.testing.assert_array_equal(a.notes[["pitch", "start", "end"]], b.notes[["pitch", "start", "end"]])
    assert back.tempos == [Tempo(0, 100.0)]
    assert back.key_signatures == [KeySignature(0, "Bb")]
    assert back.metadata["title"] == "Voices"


def test_abc_first_tune_with_chords(tmp_path):
    (tmp_path / "tunes.abc").write_text(ABC)
    score = load_score(tmp_path / "tunes.abc")
    assert score.metadata["title"] == "First Tune"
    assert score.tracks[0].notes["pitch"].tolist() == [74, 78, 81, 83, 79, 76, 73, 76, 81, 74]
    assert score.tracks[0].notes["end"][-1] == 12 * 480
    assert score.tempos == [Tempo(0, 90.0)]
    assert score.time_signatures == [TimeSignature(0, 3, 4)]
    assert score.key_signatures == [KeySignature(0, "D")]
    assert [(c.time, c.root, c.pitch_classes, c.text) for c in score.chords] == [
        (0, 2, (2, 6, 9), "D"),
        (1440, 7, (2, 7, 11), "G"),
        (2880, 9, (1, 4, 7, 9), "A7"),
        (4320, 2, (2, 6, 9), "D"),
    ]


def test_humdrum(tmp_path):
    (tmp_path / "a.krn").write_text(KERN)
    score = load_score(tmp_path / "a.krn")
    pitches = sorted(p for t in score.tracks for p in t.notes["pitch"].tolist())
    assert pitches == [48, 50, 52, 64, 65, 67]
    assert score.end == 4 * 480


def test_bad_files(tmp_path):
    (tmp_path / "bad.xml").write_text("<score-partwise><part id='P1'><measure")
    with pytest.raises(ScoreReadError, match="bad.xml"):
        read_music21(tmp_path / "bad.xml")
    (tmp_path / "bad.mxl").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ScoreReadError, match="bad.mxl"):
        load_score(tmp_path / "bad.mxl")
    with pytest.raises(ScoreReadError, match="no such file"):
        read_music21(tmp_path / "missing.abc")
