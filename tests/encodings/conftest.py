"""Real scores for the encoding round-trip tests: the music21 corpus and Nottingham MIDI files."""
from __future__ import annotations

from pathlib import Path

import pytest

from zoo.music.score import DEFAULT_RESOLUTION, Score, Tempo, Track, make_notes

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
NOTTINGHAM_MIDI = SHARED_DATA / "nottingham" / "MIDI"
NOTTINGHAM_FILES = ["ashover1.mid", "ashover2.mid", "hpps1.mid", "jigs10.mid", "waltzes1.mid"]
CORPUS_PIECES = ["bach/bwv66.6", "bach/bwv1.6", "beethoven/opus18no1"]


def score_from_music21_stream(stream, resolution: int = DEFAULT_RESOLUTION) -> Score:
    """Test helper: one track from `stream.flatten().notes` (chords give one note per pitch)."""
    pitch, start, end, velocity = [], [], [], []
    for element in stream.flatten().notes:
        onset = int(round(float(element.offset) * resolution))
        length = max(1, int(round(float(element.quarterLength) * resolution)))
        for p in getattr(element, "pitches", ()):
            pitch.append(p.midi)
            start.append(onset)
            end.append(onset + length)
            velocity.append(element.volume.velocity or 80)
    marks = stream.flatten().getElementsByClass("MetronomeMark")
    qpm = marks[0].getQuarterBPM() if len(marks) else None
    return Score(
        resolution=resolution,
        tracks=[Track(notes=make_notes(pitch, start, end, velocity))],
        tempos=[Tempo(0, float(qpm))] if qpm else [],
    )


def _read_midi_with_mido(path: Path) -> Score:
    """Fallback reader (mido) used only when `zoo.music.midi.read_midi` is not importable."""
    import mido

    midi = mido.MidiFile(path)
    score = Score(resolution=midi.ticks_per_beat)
    for mtrack in midi.tracks:
        tick, sounding, rows, drum = 0, {}, [], False
        for msg in mtrack:
            tick += msg.time
            if msg.type == "set_tempo":
                score.tempos.append(Tempo(tick, mido.tempo2bpm(msg.tempo)))
            elif msg.type == "note_on" and msg.velocity > 0:
                sounding.setdefault((msg.channel, msg.note), []).append((tick, msg.velocity))
                drum = drum or msg.channel == 9
            elif msg.type in ("note_on", "note_off") and sounding.get((msg.channel, msg.note)):
                on, vel = sounding[(msg.channel, msg.note)].pop(0)
                if tick > on:
                    rows.append((msg.note, on, tick, vel))
        if rows:
            p, s, e, v = zip(*rows)
            score.tracks.append(Track(is_drum=drum, notes=make_notes(p, s, e, v)))
    return score


@pytest.fixture(scope="session")
def corpus_scores() -> list[Score]:
    music21 = pytest.importorskip("music21")
    return [score_from_music21_stream(music21.corpus.parse(name)) for name in CORPUS_PIECES]


@pytest.fixture(scope="session")
def nottingham_scores() -> list[Score]:
    if not NOTTINGHAM_MIDI.is_dir():
        pytest.skip(f"real-data test: {NOTTINGHAM_MIDI} is missing (../shared/data is not on this machine)")
    try:
        from zoo.music.midi import read_midi
    except ImportError:
        read_midi = _read_midi_with_mido
    files = [NOTTINGHAM_MIDI / name for name in NOTTINGHAM_FILES]
    return [read_midi(path) for path in files if path.is_file()]


@pytest.fixture(scope="session", params=["music21-corpus", "nottingham"])
def real_scores(request) -> list[Score]:
    """Real scores, one parameter per source: the music21 corpus, then Nottingham MIDI files."""
    name = "corpus_scores" if request.param == "music21-corpus" else "nottingham_scores"
    return request.getfixturevalue(name)
