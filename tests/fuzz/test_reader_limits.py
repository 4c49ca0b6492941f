"""Regression tests for what the reader fuzzing found (issue 9, part 1), one per fix.

Each test builds the smallest hostile file of its kind and checks the reader ends in the zoo's own
error (or a sane result), quickly and without allocating in proportion to what the file declares.
"""
from __future__ import annotations

import io
import json
import pickle
import struct
import time
import tracemalloc
import wave

import mido
import numpy as np
import pytest

from helpers import spin_cpu
from zoo.errors import DataError, ScoreReadError, UnsafePickleError
from zoo.music import io as music_io
from zoo.music.io import check_piece_length, load_score, load_tunes
from zoo.music.score import Score, Tempo, Track, make_notes


class Bounded:
    """Context manager: the block must finish within `seconds` of CPU time (robust to a loaded machine) and
    trace less than `peak_mb`."""

    def __init__(self, seconds: float = 3.0, peak_mb: float = 50.0):
        self.seconds, self.peak_mb = seconds, peak_mb

    def __enter__(self):
        tracemalloc.start()
        self.start = time.process_time()
        return self

    def __exit__(self, *exc):
        seconds = time.process_time() - self.start
        peak = tracemalloc.get_traced_memory()[1] / 2 ** 20
        tracemalloc.stop()
        if exc[0] is None:
            assert seconds < self.seconds, f"took {seconds:.1f} s of CPU"
            assert peak < self.peak_mb, f"traced peak {peak:.0f} MB"
        return False


# ---------------------------------------------------------------- MIDI
def midi_bytes(track: bytes, division: int = 96) -> bytes:
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, division) + b"MTrk" + struct.pack(">I", len(track)) + track


NOTE = b"\x00\x90\x3c\x40\x60\x80\x3c\x00"  # one quarter note C4 at 96 ticks a quarter
END = b"\x00\xff\x2f\x00"


def test_midi_tempo_of_zero_is_skipped(tmp_path):
    path = tmp_path / "zero_tempo.mid"
    path.write_bytes(midi_bytes(b"\x00\xff\x51\x03\x00\x00\x00" + NOTE + END))
    score = load_score(path)  # mido's tempo2bpm(0) divided by zero here
    assert score.tempos == [] and score.num_notes == 1


def test_midi_corrupt_time_signatures_are_skipped(tmp_path):
    path = tmp_path / "meters.mid"
    # numerator 0; then denominator 2**255 (mido gives 2**byte); then a good 3/4
    metas = b"\x00\xff\x58\x04\x00\x02\x18\x08" + b"\x00\xff\x58\x04\x04\xff\x18\x08" + b"\x00\xff\x58\x04\x03\x02\x18\x08"
    path.write_bytes(midi_bytes(metas + NOTE + END))
    assert [(t.numerator, t.denominator) for t in load_score(path).time_signatures] == [(3, 4)]


def test_midi_endless_variable_length_number_is_refused_fast(tmp_path):
    path = tmp_path / "varlen.mid"
    path.write_bytes(midi_bytes(b"\xff" * 200_000 + b"\x00" + NOTE + END))  # mido alone: quadratic, minutes
    with Bounded(seconds=2.0), pytest.raises(ScoreReadError, match="high bit"):
        load_score(path)



def test_midi_with_a_long_utf8_lyric_still_loads(tmp_path):
    lyric = ("\u3042" * 3000).encode("utf-8")  # 9,000 bytes with the high bit set, no break
    path = tmp_path / "lyric.mid"
    path.write_bytes(midi_bytes(b"\x00\xff\x05\xc6\x28" + lyric + NOTE + END))  # length 9000 = varlen c6 28
    assert load_score(path).num_notes == 1

def test_midi_larger_than_the_limit_is_refused(tmp_path, monkeypatch):
    from zoo.music import midi

    monkeypatch.setattr(midi, "MAX_FILE_BYTES", 100)
    path = tmp_path / "big.mid"
    path.write_bytes(midi_bytes(NOTE * 20 + END))
    with pytest.raises(ScoreReadError, match="byte limit"):
        load_score(path)


def test_midi_note_at_tick_2_to_31_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "far.mid"
    # delta 0x0fffffff eight times: the note ends past tick 2**31
    far = b"".join(b"\xff\xff\xff\x7f\xff\x01\x00" for _ in range(8))  # text events, each 0x0fffffff later
    path.write_bytes(midi_bytes(b"\x00\x90\x3c\x40" + far + b"\x00\x80\x3c\x00" + END))
    with Bounded(), pytest.raises(ScoreReadError, match=r"far\.mid.*quarter limit"):
        load_score(path)


def test_midi_delta_beyond_int64_is_refused_while_reading(tmp_path):
    path = tmp_path / "overflow.mid"
    # a 1,000-byte delta time (a 7,000-bit number): make_notes' int64 array raised OverflowError
    path.write_bytes(midi_bytes(b"\x00\x90\x3c\x40" + b"\xff" * 1000 + b"\x7f\x80\x3c\x00" + END))
    with Bounded(), pytest.raises(ScoreReadError, match=r"overflow\.mid.*corrupt delta time"):
        load_score(path)


def test_midi_absurdly_slow_tempo_is_refused_by_length_in_seconds(tmp_path):
    path = tmp_path / "slow.mid"
    # 0xffffff microseconds a quarter (3.6 qpm) and a note 1000 quarters long: about 4.7 hours
    long_note = b"\x00\x90\x3c\x40" + b"\x85\xee\x00" + b"\x80\x3c\x00"  # delta 96000
    path.write_bytes(midi_bytes(b"\x00\xff\x51\x03\xff\xff\xff" + long_note + END))
    with pytest.raises(ScoreReadError, match=r"slow\.mid.*hour limit"):
        load_score(path)


def test_prepare_skips_an_absurdly_long_file_with_the_reason(tmp_path):
    from zoo.data.prepare import prepare

    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(6):
        midi = mido.MidiFile(ticks_per_beat=96)
        track = mido.MidiTrack()
        for pitch in (60 + i, 64 + i, 67 + i, 72 + i):
            track += [mido.Message("note_on", note=pitch, velocity=80, time=0),
                      mido.Message("note_off", note=pitch, velocity=0, time=96)]
        midi.tracks.append(track)
        midi.save(folder / f"ok{i}.mid")
    far = b"".join(b"\xff\xff\xff\x7f\xff\x01\x00" for _ in range(8))
    (folder / "far.mid").write_bytes(midi_bytes(b"\x00\x90\x3c\x40" + far + b"\x00\x80\x3c\x00" + END))
    with Bounded(seconds=30.0, peak_mb=100.0):
        manifest = prepare([str(folder)], "pianoroll", tmp_path / "out", progress=False)
    skipped = {entry["file"]: entry["reason"] for entry in manifest["skipped"]}
    assert list(skipped) == [str(folder / "far.mid")]
    assert "quarter limit" in skipped[str(folder / "far.mid")]


def test_piece_length_check_counts_chords_and_lead_sheet_end():
    score = Score(resolution=120, tracks=[Track(notes=make_notes([60], [0], [120]))], metadata={"end_tick": "999999999"})
    with pytest.raises(ScoreReadError, match="x.ls"):
        check_piece_length(score, "x.ls")
    score.metadata["end_tick"] = "480"
    score.tempos = [Tempo(0, float("nan"))]
    with pytest.raises(ScoreReadError, match="tempo nan"):
        check_piece_length(score, "x.ls")
    score.tempos = [Tempo(0, 120.0)]
    assert check_piece_length(score, "x.ls") is score
    assert music_io.MAX_PIECE_QUARTERS * 120 > 480


# ---------------------------------------------------------------- lead sheets
CHART = "(part (type chords))\nC7 | F7 |\n(part (type melody))\n"


def test_leadsheet_duration_of_thousands_of_digits_is_a_score_read_error(tmp_path):
    path = tmp_path / "digits.ls"
    path.write_text(CHART + "c" + "9" * 5000)  # int() raised ValueError (the 4300-digit limit)
    with pytest.raises(ScoreReadError, match="bad duration"):
        load_score(path)


def test_leadsheet_huge_meter_is_refused(tmp_path):
    path = tmp_path / "meter.ls"
    path.write_text("(meter 1000000000 4)\n" + CHART + "c4")  # its one chorus would span 10**12 ticks
    with Bounded(), pytest.raises(ScoreReadError, match="unsupported meter"):
        load_score(path)


@pytest.mark.parametrize("tempo", ["0", "-5", "nan", "inf", "1e400"])
def test_leadsheet_absurd_tempo_is_ignored(tmp_path, tempo):
    path = tmp_path / "tempo.ls"
    path.write_text(f"(tempo {tempo})\n" + CHART + "c4 d4")
    assert load_score(path).tempos == []


def test_leadsheet_melody_past_the_piece_limit_is_refused_before_repeating_the_chart(tmp_path):
    path = tmp_path / "long.ls"
    path.write_text(CHART + "c" + "+".join(["1"] * 6000))  # 24,000 quarters under a 2-bar chart
    with Bounded(), pytest.raises(ScoreReadError, match="quarter limit"):
        load_score(path)


def test_leadsheet_deeply_nested_forms_are_read_without_recursion(tmp_path):
    path = tmp_path / "deep.ls"
    depth = 50_000
    path.write_text("(part (type " + "(" * depth + "x" + ")" * depth + "))\n" + CHART + "c4 d4")
    with Bounded(peak_mb=100.0):
        score = load_score(path)
    assert score.num_notes == 2


# ---------------------------------------------------------------- music21 (ABC, MusicXML)
@pytest.fixture(scope="module")
def music21_loaded():
    """music21 takes seconds to import: not inside a timed block."""
    import importlib

    importlib.import_module("music21.converter")


def test_abc_meter_music21_would_spin_on_is_refused_fast(tmp_path, music21_loaded):
    path = tmp_path / "meter.abc"
    path.write_text("X:1\nT:t\nM:99999/1\nL:1/8\nK:C\ncdef|\n")  # music21: hours in the beat hierarchy
    with Bounded(seconds=3.0), pytest.raises(ScoreReadError, match="99999 beats"):
        load_tunes(path)


def test_musicxml_meter_music21_would_spin_on_is_refused_fast(tmp_path, music21_loaded):
    import fuzz_inputs

    path = tmp_path / "meter.xml"
    path.write_text(fuzz_inputs.BUILTIN_MUSICXML.replace("<beats>4<", "<beats>99999<"))
    with Bounded(seconds=3.0), pytest.raises(ScoreReadError, match="99999 beats"):
        load_tunes(path)


def test_musicxml_negative_times_are_refused(tmp_path, music21_loaded):
    import fuzz_inputs

    path = tmp_path / "negative.xml"
    path.write_text(fuzz_inputs.BUILTIN_MUSICXML.replace("<duration>2<", "<duration>-2<", 1))  # the next note starts before 0
    with pytest.raises(ScoreReadError, match="negative time"):  # the event encoding crashed on such notes
        load_tunes(path)


def test_abc_note_of_thousands_of_units_is_refused_fast(tmp_path, music21_loaded):
    path = tmp_path / "long.abc"
    path.write_text('X:1\nT:A22222 in a title is fine\nM:4/4\nL:1/8\nK:G\n"A7000"GA22222Bc|\n')  # music21: > 30 s
    with Bounded(seconds=3.0), pytest.raises(ScoreReadError, match="22222 unit lengths"):
        load_tunes(path)


def test_music21_parse_stops_at_its_cpu_time_budget(tmp_path, monkeypatch):
    from zoo.music import music21_io

    monkeypatch.setattr(music21_io, "MAX_METER_BEATS", 10 ** 6)  # let a slow meter through the pre-check
    monkeypatch.setattr(music21_io, "PARSE_CPU_SECONDS", 0.5)
    monkeypatch.setattr(music21_io, "PARSE_CPU_SECONDS_PER_KB", 0.0)
    path = tmp_path / "slow.abc"
    path.write_text("X:1\nT:t\nM:999/4\nL:1/8\nK:C\ncdef|\n")  # ~10 s of CPU in music21
    start = time.process_time()
    with pytest.raises(ScoreReadError, match="still parsing it after"):
        load_tunes(path)
    assert time.process_time() - start < 5.0


def _alarm_is_off(handler_before):
    import signal

    return signal.getitimer(signal.ITIMER_VIRTUAL) == (0.0, 0.0) and signal.getsignal(signal.SIGVTALRM) is handler_before


def test_cpu_time_alarm_fires_again_when_its_first_raise_is_swallowed():
    # CI once lost the alarm: it fired inside Hypothesis's gc callback, where Python drops exceptions.
    import signal

    from zoo.music.limits import CpuTimeout, FileLimit, LimitExceeded

    handler_before = signal.getsignal(signal.SIGVTALRM)
    alarms = 0
    with pytest.raises(LimitExceeded, match="CPU time"):
        with FileLimit(0.05):
            try:
                spin_cpu(2.0)
            except CpuTimeout:
                alarms += 1  # swallowed, as a gc callback would
            spin_cpu(2.0)
    assert alarms == 1
    assert _alarm_is_off(handler_before)


def test_cpu_time_alarm_left_without_exit_disarms_itself():
    # A raise at the edge of the with block skips __exit__: the repeating alarm must not go on raising.
    import signal

    from zoo.music.limits import FileLimit

    handler_before = signal.getsignal(signal.SIGVTALRM)

    def enter_and_return():
        FileLimit(0.01).__enter__()

    enter_and_return()
    spin_cpu(0.3)  # no CpuTimeout here: this frame never entered the block
    assert _alarm_is_off(handler_before)


# ---------------------------------------------------------------- piano-roll JSON
@pytest.mark.parametrize("text, match", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"train": [[[' + "9" * 5000 + ']]], "valid": [], "test": []}', "not a readable JSON"),
    ('{"train": [[[1180591620717411303424]]], "valid": [[[60]]], "test": [[[60]]]}', "outside the 88 keys"),
    ('{"train": [[[1e400]]], "valid": [[[60]]], "test": [[[60]]]}', "integer MIDI pitches"),
    ('{"train": [[[true]]], "valid": [[[60]]], "test": [[[60]]]}', "integer MIDI pitches"),
])
def test_polyphonic_json_hostile_values_are_data_errors(tmp_path, text, match):
    from zoo.families.rnn_piano.polyphonic import read_polyphonic_json

    path = tmp_path / "rolls.json"
    path.write_text(text)
    with pytest.raises(DataError, match=match):
        read_polyphonic_json(path)


def test_polyphonic_json_error_shows_a_bounded_repr(tmp_path):
    from zoo.families.rnn_piano.polyphonic import read_polyphonic_json

    path = tmp_path / "rolls.json"
    path.write_text(json.dumps({"train": [[["x" * 10_000] * 1000]], "valid": [], "test": []}))
    with pytest.raises(DataError) as error:
        read_polyphonic_json(path)
    assert len(str(error.value)) < 400


# ---------------------------------------------------------------- WAV
def wav_bytes(channels=1, rate=22050, bits=16, fmt_tag=1, data=b"\x01\x02" * 50, data_size=None) -> bytes:
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, (rate * block) & 0xFFFFFFFF, block, bits)
    size = len(data) if data_size is None else data_size
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", size) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize("data", [
    wav_bytes(channels=0),                       # reshape(-1, 0) raised ValueError
    wav_bytes(data=b"\x01\x02\x03"),             # odd byte count
    wav_bytes(bits=8),                           # not 16-bit
    b"RIFF\x10\x00\x00\x00WAVEjunk\xff\xff\xff\xff",  # chunk skip past the end: RuntimeError in wave
    b"not a wav file at all",
])
def test_wav_reader_raises_score_read_errors(tmp_path, data):
    from zoo.music.audio import read_wav

    path = tmp_path / "x.wav"
    path.write_bytes(data)
    try:
        samples, _ = read_wav(path)
    except ScoreReadError:
        return
    assert samples.dtype == np.float64 and samples.ndim == 2  # 8-bit samples read, centred and scaled


def test_wav_data_size_lie_does_not_allocate_it(tmp_path):
    from zoo.families.crossmodal.play_inputs import load_audio_input
    from zoo.music.audio import read_wav

    path = tmp_path / "lie.wav"
    rng = np.random.default_rng(0)
    path.write_bytes(wav_bytes(data=(rng.normal(0, 3000, 400)).astype("<i2").tobytes(), data_size=0xFFFFFFF0))
    with Bounded(peak_mb=20.0):  # scipy.io.wavfile on the file itself allocated the declared 4 GB
        assert len(load_audio_input(str(path))) == 400
        assert len(read_wav(path)[0]) == 400


@pytest.mark.parametrize("rate", [0, 7, 0xFFFFFFFF])
def test_wav_absurd_sample_rate_is_refused(tmp_path, rate):
    from zoo.families.crossmodal.play_inputs import load_audio_input

    path = tmp_path / "rate.wav"
    path.write_bytes(wav_bytes(rate=rate))
    with Bounded(), pytest.raises(ScoreReadError, match="sample rate|not a WAV"):
        load_audio_input(str(path))  # rate 7 resampled x3150; rate 0 divided by zero


def test_wav_non_finite_float_samples_are_refused(tmp_path):
    from zoo.music.audio import read_wav

    path = tmp_path / "nan.wav"
    path.write_bytes(wav_bytes(fmt_tag=3, bits=32, data=np.array([0.5, np.nan, 0.1], "<f4").tobytes()))
    with pytest.raises(ScoreReadError, match="not finite"):
        read_wav(path)


def test_wav_written_by_the_zoo_still_reads(tmp_path):
    from zoo.families.crossmodal.play_inputs import load_audio_input
    from zoo.music.audio import read_wav, write_wav

    samples = np.sin(np.arange(2205) / 10.0).astype(np.float32) * 0.5
    write_wav(samples, tmp_path / "ok.wav", 22050)
    read, rate = read_wav(tmp_path / "ok.wav")
    assert rate == 22050 and read.shape == (2205, 1)
    np.testing.assert_allclose(read[:, 0], samples, atol=1e-4)
    np.testing.assert_allclose(load_audio_input(str(tmp_path / "ok.wav")), samples, atol=1e-4)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as file:  # stereo: both channels come back (the render path mixes them down)
        file.setnchannels(2)
        file.setsampwidth(2)
        file.setframerate(22050)
        file.writeframes(np.array([[1000, 3000]] * 10, "<i2").tobytes())
    (tmp_path / "st.wav").write_bytes(buffer.getvalue())
    np.testing.assert_array_equal(read_wav(tmp_path / "st.wav")[0], np.tile([[1000 / 32768, 3000 / 32768]], (10, 1)))


# ---------------------------------------------------------------- pickles
def test_pickle_huge_memo_index_allocates_nothing():
    from zoo.data.safe_pickle import loads_pickle

    with Bounded(peak_mb=20.0):  # the C unpickler grew its memo to 2**28 entries: 4 GB, 13 s
        assert loads_pickle(b"\x80\x04N" + b"r" + struct.pack("<I", 0x0FFFFFFF) + b".") is None


def text(value: str) -> bytes:
    """SHORT_BINUNICODE of `value` (protocol 4)."""
    return b"\x8c" + bytes([len(value)]) + value.encode()


def global_(module: str, name: str) -> bytes:
    return text(module) + text(name) + b"\x93"  # STACK_GLOBAL


HUGE = b"\x8a\x05\x00\x00\x00\x10\x00"  # LONG1 2**36


@pytest.mark.parametrize("payload", [
    b"\x80\x04" + global_("builtins", "bytearray") + b"\x8a\x05\x00\x00\x00\x00\x01\x85R.",  # bytearray(2**32)
    b"\x80\x04" + global_("builtins", "bytes") + b"\x8a\x05\x00\x00\x00\x00\x01\x85R.",  # bytes(2**32)
    # numpy _reconstruct(ndarray, (2**36, 2**36), b'b')
    b"\x80\x04" + global_("numpy._core.multiarray", "_reconstruct") + global_("numpy", "ndarray")
    + b"(" + HUGE * 2 + b"tC\x01b\x87R.",
    # ndarray((2**36, 2**36)) called directly
    b"\x80\x04" + global_("numpy", "ndarray") + HUGE * 2 + b"\x86\x85R.",
    # numpy scalar of a 2 GB void dtype with no data
    b"\x80\x04" + global_("numpy._core.multiarray", "scalar") + global_("numpy", "dtype") + text("V2000000000")
    + b"\x85R\x85R.",
    # _codecs.encode through zlib
    b"\x80\x04" + global_("_codecs", "encode") + text("abc") + text("zlib") + b"\x86R.",
])
def test_pickle_allowed_callables_with_hostile_arguments_are_refused(payload):
    from zoo.data.safe_pickle import loads_pickle

    with Bounded(peak_mb=20.0), pytest.raises(UnsafePickleError):
        loads_pickle(payload)


def test_pickle_object_array_with_a_huge_shape_is_refused():
    from zoo.data.safe_pickle import loads_pickle

    data = bytearray(pickle.dumps(np.array(["a", "b"], dtype=object), protocol=2))
    # the pickled shape (2,) is a BININT1 2 inside a tuple: make it 10**6 x 10**6 (numpy allocates 8 TB)
    at = data.index(b"K\x02\x85")
    data[at:at + 3] = b"J\x40\x42\x0f\x00J\x40\x42\x0f\x00\x86"
    with Bounded(peak_mb=20.0), pytest.raises(UnsafePickleError, match="does not match"):
        loads_pickle(bytes(data))


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_pickle_plain_data_still_loads_at_every_protocol(protocol):
    from zoo.data.safe_pickle import loads_pickle

    data = {"pieces": [np.arange(6, dtype=np.int32).reshape(2, 3), np.zeros((0, 88), np.uint8),
                       np.array(["a", None], dtype=object)],
            "b": bytearray(b"xy"), "s": {1, 2}, "c": 1 + 2j, "scalar": np.float64(1.5), "t": ("x", b"\xff")}
    loaded = loads_pickle(pickle.dumps(data, protocol=protocol))
    for got, want in zip(loaded["pieces"], data["pieces"]):
        assert got.dtype == want.dtype and got.shape == want.shape and (got == want).all()
    assert {k: v for k, v in loaded.items() if k != "pieces"} == {k: v for k, v in data.items() if k != "pieces"}


@pytest.mark.parametrize("layout", [{"encoding": 5}, {"sources": 7}, {}])
def test_load_split_malformed_layout_is_a_data_error(tmp_path, layout):
    from zoo.data.dataset import load_split
    from zoo.data.safe_pickle import dump_pickle
    from zoo.data.splits import DATA_FORMAT

    data = {"format": DATA_FORMAT, "pieces": [np.arange(3, dtype=np.int32)]}
    if "encoding" not in layout and layout:
        data["encoding"] = {"name": "event"}
    data.update(layout)
    dump_pickle(data, tmp_path / "train.pkl")
    with pytest.raises(DataError):
        load_split(tmp_path / "train.pkl")
