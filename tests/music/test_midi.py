"""Tests of zoo.music.midi and zoo.music.io: round trips, real files, hostile files."""
import mido
import numpy as np
import pytest

from helpers import NOTTINGHAM_MIDI, needs_shared
from zoo.errors import ScoreReadError, UsageError
from zoo.music import SCORE_SUFFIXES, load_score, save_score
from zoo.music.midi import read_midi, write_midi
from zoo.music.score import KeySignature, Score, Tempo, TimeSignature, Track, make_notes



def nottingham_files(count):
    return sorted(needs_shared(NOTTINGHAM_MIDI).glob("*.mid"))[:count]


def sample_score():
    piano = make_notes([60, 64, 67, 60, 72], [0, 0, 480, 480, 960], [480, 960, 960, 1440, 1200], [100, 90, 80, 70, 127])
    bass = make_notes([36, 36, 43], [0, 240, 960], [480, 720, 1920], [64, 65, 66])  # overlapping same pitch
    drums = make_notes([36, 38, 42, 42], [0, 480, 0, 240], [120, 600, 60, 300], [110, 100, 50, 60])
    return Score(
        resolution=480,
        tracks=[
            Track("Piano", 0, False, piano),
            Track("Bass", 33, False, bass),
            Track("Drums", 0, True, drums),
            Track("Strings", 48, False, make_notes([55], [100], [2000], [40])),
        ],
        tempos=[Tempo(0, 100.0), Tempo(960, 140.0)],
        time_signatures=[TimeSignature(0, 4, 4), TimeSignature(1920, 3, 4)],
        key_signatures=[KeySignature(0, "Bb"), KeySignature(1920, "F#m")],
        metadata={"title": "Test piece"},
    )


def assert_same_notes(a: Score, b: Score):
    assert len(a.tracks) == len(b.tracks)
    for x, y in zip(a.tracks, b.tracks):
        np.testing.assert_array_equal(x.notes, y.notes)


def test_round_trip_keeps_everything(tmp_path):
    score = sample_score()
    write_midi(score, tmp_path / "a.mid")
    back = read_midi(tmp_path / "a.mid")
    assert back.resolution == 480
    assert_same_notes(score, back)
    assert [(t.name, t.program, t.is_drum) for t in back.tracks] == [(t.name, t.program, t.is_drum) for t in score.tracks]
    assert [t.time for t in back.tempos] == [0, 960]
    assert np.allclose([t.qpm for t in back.tempos], [100.0, 140.0], atol=1e-3)
    assert back.time_signatures == score.time_signatures
    assert back.key_signatures == score.key_signatures
    assert back.metadata["title"] == "Test piece"


def test_channels_skip_drum_channel_and_offs_come_first(tmp_path):
    tracks = [Track(f"t{i}", i, False, make_notes([60, 60], [0, 480], [480, 960])) for i in range(17)]
    tracks.insert(3, Track("drums", 0, True, make_notes([36], [0], [100])))
    write_midi(Score(tracks=tracks), tmp_path / "c.mid")
    midi = mido.MidiFile(tmp_path / "c.mid")
    channels = [next(m.channel for m in t if m.type == "note_on") for t in midi.tracks[1:]]
    assert channels == [0, 1, 2, 9, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 0, 1]
    events = [m for m in midi.tracks[1] if m.type in ("note_on", "note_off")]
    assert [(m.type, m.time) for m in events] == [("note_on", 0), ("note_off", 480), ("note_on", 0), ("note_off", 480)]


def test_type0_channel_split_and_quirks(tmp_path):
    midi = mido.MidiFile(type=0, ticks_per_beat=96)
    track = mido.MidiTrack(
        [
            mido.MetaMessage("track_name", name="Song", time=0),
            mido.MetaMessage("set_tempo", tempo=600000, time=0),
            mido.Message("program_change", channel=1, program=40, time=0),
            mido.Message("note_on", channel=0, note=60, velocity=90, time=0),
            mido.Message("note_on", channel=1, note=70, velocity=50, time=0),
            mido.Message("note_on", channel=9, note=36, velocity=100, time=0),
            mido.Message("note_on", channel=0, note=60, velocity=80, time=48),  # overlapping same pitch
            mido.Message("note_on", channel=0, note=60, velocity=0, time=48),  # velocity 0 = off (first)
            mido.Message("note_off", channel=9, note=36, time=0),
            mido.Message("note_on", channel=0, note=62, velocity=70, time=0),
            mido.Message("note_off", channel=0, note=62, time=0),  # zero length: dropped
            mido.Message("note_off", channel=0, note=60, time=96),
            mido.Message("note_on", channel=1, note=71, velocity=60, time=0),  # left hanging
            mido.MetaMessage("end_of_track", time=48),
        ]
    )
    midi.tracks.append(track)
    midi.save(tmp_path / "t0.mid")
    score = read_midi(tmp_path / "t0.mid")
    assert score.resolution == 96 and score.metadata["title"] == "Song"
    assert score.qpm_at_start() == pytest.approx(100.0)
    assert [(t.program, t.is_drum, t.name) for t in score.tracks] == [(0, False, "Song"), (40, False, "Song"), (0, True, "Song")]
    assert score.tracks[0].notes.tolist() == [(60, 0, 96, 90), (60, 48, 192, 80)]
    assert score.tracks[1].notes.tolist() == [(70, 0, 240, 50), (71, 192, 240, 60)]
    assert score.tracks[2].notes.tolist() == [(36, 0, 96, 100)]


def test_type2_tracks_are_timed_from_zero(tmp_path):
    midi = mido.MidiFile(type=2, ticks_per_beat=480)
    for pitch in (60, 67):
        midi.tracks.append(
            mido.MidiTrack(
                [
                    mido.Message("note_on", note=pitch, velocity=64, time=480),
                    mido.Message("note_off", note=pitch, time=480),
                ]
            )
        )
    midi.save(tmp_path / "t2.mid")
    score = read_midi(tmp_path / "t2.mid")
    assert [t.notes.tolist() for t in score.tracks] == [[(60, 480, 960, 64)], [(67, 480, 960, 64)]]


def test_nottingham_round_trip(tmp_path):
    for path in nottingham_files(5):
        score = read_midi(path)
        assert score.num_notes > 0
        write_midi(score, tmp_path / "x.mid")
        back = read_midi(tmp_path / "x.mid")
        assert_same_notes(score, back)
        assert back.time_signatures == score.time_signatures and back.key_signatures == score.key_signatures


def test_nottingham_agrees_with_music21():
    from music21 import converter

    path = nottingham_files(1)[0]
    score = read_midi(path)
    parsed = converter.parse(path)
    theirs = [sorted(p.midi for n in part.stripTies().recurse().notes for p in n.pitches) for part in parsed.parts]
    ours = [sorted(t.notes["pitch"].tolist()) for t in score.tracks]
    assert ours == theirs


def test_corrupt_files_raise_score_read_error(tmp_path):
    write_midi(sample_score(), tmp_path / "good.mid")
    data = (tmp_path / "good.mid").read_bytes()
    cases = {
        "truncated.mid": data[: len(data) // 2],
        "header_only.mid": data[:14],
        "tiny.mid": data[:5],
        "random.mid": np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8).tobytes(),
        "empty.mid": b"",
        # chunks that declare 4 GB / 2 GB lengths: nothing that size may be allocated
        "huge_header.mid": b"MThd\xff\xff\xff\xff\x00\x01\x00\x01\x01\xe0",
        "huge_track.mid": b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x7f\xff\xff\xff\x00\x90\x3c\x40",
        "smpte.mid": b"MThd\x00\x00\x00\x06\x00\x01\x00\x00\xe7\x28",
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ScoreReadError, match="cannot read MIDI file"):
            read_midi(tmp_path / name)


def test_load_and_save_dispatch(tmp_path):
    save_score(sample_score(), tmp_path / "a.MIDI")
    assert load_score(tmp_path / "a.MIDI").num_notes == sample_score().num_notes
    assert ".mid" in SCORE_SUFFIXES and ".krn" in SCORE_SUFFIXES
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(ScoreReadError, match=r"'\.txt' \(known: \.mid"):
        load_score(tmp_path / "a.txt")
    with pytest.raises(ScoreReadError, match="no such file"):
        load_score(tmp_path / "missing.mid")
    with pytest.raises(UsageError, match="known"):
        save_score(sample_score(), tmp_path / "a.wav")


def test_write_piece_keeps_dotted_stems_apart(tmp_path):
    from zoo.music.io import write_piece

    score = Score(tracks=[Track(notes=make_notes(pitch=[60], start=[0], end=[480]))])
    first, _ = write_piece(score, tmp_path / "my.run-0")
    second, _ = write_piece(score, tmp_path / "my.run-1")
    assert first["midi"].name == "my.run-0.mid" and second["midi"].name == "my.run-1.mid"
    assert all(path.is_file() for path in [*first.values(), *second.values()])
