"""The `multitrack` encoding: track maps, packing, round trips on real files, bad input."""
from __future__ import annotations

import json

import mido
import numpy as np
import pytest

from helpers import NOTTINGHAM_MIDI, chorale_paths, needs_shared
from zoo.cli import run_cli, zoo_main
from zoo.encodings import encoding_from_config
from zoo.families.multinn.multitrack_encoding import MultitrackEncoding
from zoo.errors import EncodingError, UsageError
from zoo.music.io import load_score


def write_band_midi(path, drums=True) -> None:
    """Five instruments on their own channels: drums (ch 10), piano 0, guitar 25, bass 33, flute 73."""
    midi = mido.MidiFile(ticks_per_beat=480)
    parts = [(9, 0, 36), (0, 0, 60), (1, 25, 64), (2, 33, 40), (3, 73, 72)] if drums else [(0, 0, 60)]
    for channel, program, pitch in parts:
        track = mido.MidiTrack()
        track.append(mido.Message("program_change", channel=channel, program=program, time=0))
        for _ in range(4):  # four quarter notes
            track.append(mido.Message("note_on", channel=channel, note=pitch, velocity=90, time=0))
            track.append(mido.Message("note_off", channel=channel, note=pitch, velocity=0, time=480))
        midi.tracks.append(track)
    midi.save(path)


def test_musegan_map_sorts_instruments_by_program_family(tmp_path):
    write_band_midi(tmp_path / "band.mid")
    encoding = MultitrackEncoding()  # MultINN's defaults: 5 tracks, 84 pitches, 12 frames a beat, 3 a step
    roll = encoding.encode(load_score(tmp_path / "band.mid"))
    assert roll.shape == (16, 252, 5) and roll.dtype == np.uint8  # 4 beats x 12 frames / 3
    frames = encoding.unpack(roll)
    for track, pitch in enumerate([36, 60, 64, 40, 72]):  # drums, piano, guitar, bass, strings (flute)
        active = np.nonzero(frames[:, :, track].any(axis=0))[0] + encoding.lowest_pitch
        assert active.tolist() == [pitch]
    score = encoding.decode(roll)
    assert [(t.name, t.program, t.is_drum) for t in score.tracks] == [
        ("Drums", 0, True), ("Piano", 0, False), ("Guitar", 24, False), ("Bass", 32, False), ("Strings", 48, False)]
    assert [int(t.notes["velocity"][0]) for t in score.tracks] == [100, 80, 100, 120, 90]  # MultINN's write_song
    assert np.array_equal(encoding.encode(score), roll)


def test_packing_is_frame_major_inside_a_model_step():
    encoding = MultitrackEncoding(track_map="parts:1", lowest_pitch=60, highest_pitch=72, steps_per_beat=4,
                                  steps_per_model_step=2, sample_beats=2)
    frames = np.zeros((4, 12, 1), np.uint8)
    frames[1, 5, 0] = 1  # frame 1 of step 0, pitch 65
    packed = encoding.pack(frames)
    assert packed.shape == (2, 24, 1) and packed[0, 12 + 5, 0] == 1 and packed.sum() == 1
    assert np.array_equal(encoding.unpack(packed), frames)
    assert encoding.sample_steps == 4 and encoding.beats_to_steps(3) == 6


@pytest.mark.parametrize("track_map", ["parts:4", "musegan"])
def test_chorales_round_trip(track_map):
    encoding = MultitrackEncoding(track_map=track_map, lowest_pitch=36, highest_pitch=84, steps_per_beat=4,
                                  steps_per_model_step=2)
    encoded = 0
    for path in chorale_paths()[:6]:
        score = load_score(path)
        try:
            roll = encoding.encode(score)
        except EncodingError as error:  # chorales with an extra instrument part do not fit parts:4
            assert "parts" in str(error)
            continue
        encoded += 1
        assert roll.shape[1:] == (96, encoding.num_tracks) and len(roll) > 0
        if track_map == "parts:4":
            assert all(roll[..., k].any() for k in range(4))  # every voice sounds
        decoded = encoding.decode(roll)
        assert len(decoded.tracks) == encoding.num_tracks
        assert np.array_equal(encoding.encode(decoded), roll)
    assert encoded >= 4


def test_nottingham_melody_and_chords_round_trip():
    path = needs_shared(NOTTINGHAM_MIDI / "ashover1.mid")
    encoding = MultitrackEncoding(track_map="parts:2")
    roll = encoding.encode(load_score(path))
    assert roll.shape[1:] == (252, 2) and roll[..., 0].any() and roll[..., 1].any()
    assert np.array_equal(encoding.encode(encoding.decode(roll)), roll)


def test_config_round_trip_and_custom_maps():
    encoding = MultitrackEncoding(track_map=["drums=drums", "keys=0-7,16-23@4", "bass=32-39"], sample_beats=8)
    assert encoding.track_map == "drums=drums@0 keys=0-7,16-23@4 bass=32-39@32"
    assert encoding_from_config(json.loads(json.dumps(encoding.to_config()))) == encoding
    assert [s.program for s in encoding.track_specs()] == [0, 4, 32]


@pytest.mark.parametrize("track_map, message", [
    ("piano=0-200", "not General MIDI programs"), ("piano=x", "not a program"), ("a=1 b=1", "both"),
    ("orchestra", "unknown track map"), ("piano=0@300", "not a GM program")])
def test_bad_track_maps(track_map, message):
    with pytest.raises(UsageError, match=message):
        MultitrackEncoding(track_map=track_map)


def test_prepare_refuses_unknown_programs_and_lists_files_without_mapped_notes(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    write_band_midi(tmp_path / "in" / "band.mid")
    write_band_midi(tmp_path / "in" / "solo.mid", drums=False)  # piano only: nothing for a drums+bass map
    out = tmp_path / "out"
    argv = ["prepare", "--input", str(tmp_path / "in"), "--encoding", "multitrack", "-o", str(out), "--workers", "1"]
    assert run_cli(zoo_main, argv + ["--track_map", "drums=drums", "bass=32-139"]) == 2
    assert "programs 32-139 are not General MIDI programs" in capsys.readouterr().err
    assert run_cli(zoo_main, argv + ["--track_map", "drums=drums", "bass=32-39", "--valid_fraction", "0",
                                     "--test_fraction", "0"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert [(s["file"].endswith("solo.mid"), "no notes of any mapped track" in s["reason"])
            for s in manifest["skipped"]] == [(True, True)]
    assert manifest["splits"]["train"]["pieces"] == 1
