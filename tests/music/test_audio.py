"""Tests of zoo.music.audio: the built-in synth, WAV output, the fallback notice."""
import wave

import numpy as np
import pytest

from zoo.music import audio
from zoo.music.score import Score, Tempo, Track, make_notes


def small_score():
    melody = make_notes([60, 64, 67, 72], [0, 480, 960, 1440], [480, 960, 1440, 2400], [100, 80, 60, 127])
    drums = make_notes([36, 38], [0, 960], [240, 1200], [100, 90])
    # 120 qpm for 2 quarters, then 60 qpm: 2400 ticks = 1 s + 3 quarters at 1 s = 4 s
    return Score(tracks=[Track("m", 0, False, melody), Track("d", 0, True, drums)], tempos=[Tempo(0, 120.0), Tempo(960, 60.0)])


@pytest.fixture
def builtin_synth(monkeypatch):
    """Forces the fallback path and resets the once-per-process notice."""
    monkeypatch.setattr(audio.shutil, "which", lambda name: None)
    monkeypatch.setattr(audio, "_notice_shown", False)


def test_synthesize_range_and_length():
    samples = audio.synthesize(small_score(), 8000)
    assert samples.dtype == np.float32
    assert np.isfinite(samples).all() and np.abs(samples).max() <= 1.0
    assert np.abs(samples).max() == pytest.approx(audio.PEAK, rel=1e-3)
    assert len(samples) / 8000 == pytest.approx(4.0 + audio.RELEASE_SECONDS, abs=0.01)
    assert audio.synthesize(Score(), 8000).shape == (1,)


def test_render_wav_fallback(tmp_path, capsys, builtin_synth):
    score = small_score()
    samples = audio.render_wav(score, tmp_path / "a.wav", sample_rate=16000)
    audio.render_wav(score, tmp_path / "b.wav", sample_rate=16000)
    err = capsys.readouterr().err
    assert err.count("fluidsynth or a GM SoundFont not found") == 1
    with wave.open(str(tmp_path / "a.wav"), "rb") as file:
        assert file.getnchannels() == 1 and file.getsampwidth() == 2 and file.getframerate() == 16000
        assert file.getnframes() / 16000 == pytest.approx(4.0, abs=0.5)
        pcm = np.frombuffer(file.readframes(file.getnframes()), dtype="<i2")
    assert len(pcm) == len(samples)
    assert np.abs(pcm / 32767 - samples).max() < 1e-3


def test_length_is_capped(builtin_synth, monkeypatch):
    monkeypatch.setattr(audio, "MAX_SECONDS", 2.0)
    score = Score(tracks=[Track(notes=make_notes([60, 62], [0, 10**12], [10**6, 10**12 + 480]))])
    samples = audio.synthesize(score, 8000)
    assert len(samples) <= 2 * 8000


def test_soundfont_lookup(tmp_path, monkeypatch):
    font = tmp_path / "x.sf2"
    font.write_bytes(b"RIFF")
    monkeypatch.setenv("ZOO_SOUNDFONT", str(font))
    assert audio.find_soundfont() == font
    assert audio.find_soundfont(tmp_path / "missing.sf2") == font


def test_fluidsynth_command(tmp_path, monkeypatch):
    """With a (fake) fluidsynth and a SoundFont, render_wav runs it and reads its stereo WAV back."""
    import sys

    font = tmp_path / "gm.sf2"
    font.write_bytes(b"RIFF")
    fake = tmp_path / "fluidsynth"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import sys, wave\n"
        "args = sys.argv[1:]\n"
        "assert args[:3] == ['-ni', '-g', '0.8'] and args[-2].endswith('.sf2') and args[-1].endswith('.mid')\n"
        "out, rate = args[args.index('-F') + 1], int(args[args.index('-r') + 1])\n"
        "w = wave.open(out, 'wb'); w.setnchannels(2); w.setsampwidth(2); w.setframerate(rate)\n"
        "w.writeframes(b'\\x00\\x40\\x00\\x40' * rate); w.close()\n"
    )
    fake.chmod(0o755)
    monkeypatch.setattr(audio.shutil, "which", lambda name: str(fake))
    samples = audio.render_wav(small_score(), tmp_path / "f.wav", sample_rate=8000, soundfont=font)
    assert samples.shape == (8000,) and np.allclose(samples, 0.5)
    with wave.open(str(tmp_path / "f.wav"), "rb") as file:
        assert file.getnframes() == 8000 and file.getnchannels() == 1
