"""Tests of zoo.music.audio: the built-in synth, WAV output and input, the fallback notice."""
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


def test_read_wav_gives_samples_per_channel_and_the_rate(tmp_path):
    t = np.arange(800) / 8000
    mono = (0.25 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    audio.write_wav(mono, tmp_path / "m.wav", 8000)
    samples, rate = audio.read_wav(tmp_path / "m.wav")
    assert rate == 8000 and samples.shape == (800, 1) and samples.dtype == np.float64
    np.testing.assert_allclose(samples[:, 0], mono, atol=1 / 32767)
    from scipy.io import wavfile

    wavfile.write(tmp_path / "f.wav", 48000, np.stack([mono, -mono], axis=1))  # 32-bit float, stereo
    samples, rate = audio.read_wav(tmp_path / "f.wav")
    assert rate == 48000 and samples.shape == (800, 2)
    np.testing.assert_array_equal(samples, np.stack([mono, -mono], axis=1).astype(np.float64))
    wavfile.write(tmp_path / "u8.wav", 8000, np.array([0, 128, 255], np.uint8))  # 8-bit PCM is unsigned
    np.testing.assert_allclose(audio.read_wav(tmp_path / "u8.wav")[0][:, 0], [-1.0, 0.0, 127 / 128])


def test_read_wav_limits(tmp_path, monkeypatch):
    from zoo.errors import ScoreReadError

    audio.write_wav(np.zeros(8000), tmp_path / "slow.wav", 500)
    with pytest.raises(ScoreReadError, match="sample rate 500 Hz is outside"):
        audio.read_wav(tmp_path / "slow.wav")
    audio.write_wav(np.zeros(8000), tmp_path / "two.wav", 4000)
    monkeypatch.setattr(audio, "MAX_WAV_SECONDS", 1.0)
    with pytest.raises(ScoreReadError, match="2 s of sound is longer than the 1 s limit"):
        audio.read_wav(tmp_path / "two.wav")
    monkeypatch.setattr(audio, "MAX_WAV_BYTES", 100)
    with pytest.raises(ScoreReadError, match="byte limit"):
        audio.read_wav(tmp_path / "two.wav")
    with pytest.raises(ScoreReadError, match="no such file"):
        audio.read_wav(tmp_path / "missing.wav")


def test_resample_keeps_the_pitch():
    t = np.arange(44100) / 44100
    samples = audio.resample(np.sin(2 * np.pi * 440 * t), 44100, 22050)
    assert len(samples) == 22050
    assert abs(np.abs(np.fft.rfft(samples)).argmax() - 440) <= 1  # 1 s long: bin k is k Hz


def test_write_limited_wav_scales_loud_sound_down_and_leaves_the_rest(tmp_path):
    loud = np.array([0.0, 1.8, -0.9])
    path = audio.write_limited_wav(loud, tmp_path / "sub" / "loud.wav", 8000)
    assert path == tmp_path / "sub" / "loud.wav"
    np.testing.assert_allclose(audio.read_wav(path)[0][:, 0], [0.0, 0.9, -0.45], atol=1e-4)
    audio.write_limited_wav(np.array([0.5, -0.5]), tmp_path / "soft.wav", 8000)
    np.testing.assert_allclose(audio.read_wav(tmp_path / "soft.wav")[0][:, 0], [0.5, -0.5], atol=1e-4)
