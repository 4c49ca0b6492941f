"""Tests of zoo.music.audio: the renderers' order, the built-in synth, WAV output and input, the fallback notice."""
import wave

import numpy as np
import pytest

from zoo.music import audio
from zoo.music.score import Score, Tempo, Track, make_notes


def small_score():
    melody = make_notes([60, 64, 67, 72], [0, 480, 960, 1440], [480, 960, 1440, 2400], [100, 80, 60, 127])
    drums = make_notes([36, 38], [0, 960], [240, 1200], [100, 90])
    # 120 qpm for 2 quarters, then 60 qpm: 2400 ticks = 1 s + 3 quarters at 1 s = 4 s
    return Score(tracks=[Track("m", 0, False, melody), Track("d", 0, True, drums)],
                 tempos=[Tempo(0, 120.0), Tempo(960, 60.0)])


needs_pip_renderer = pytest.mark.skipif(
    not audio.pip_renderer.available() or audio.pip_renderer.pip_soundfont() is None,
    reason="midirenderer and pretty_midi (requirements.txt) are not installed")


def one_note(program: int, pitch: int, is_drum: bool = False) -> Score:
    """One note held 2 s (1920 ticks at 120 qpm), velocity 100."""
    return Score(tracks=[Track("x", program, is_drum, make_notes([pitch], [0], [1920], [100]))])


def spectrum_shares(samples, f0, rate=22050):
    """(share of the energy above 4.5 f0, share more than 3% of f0 away from every harmonic) of the first 2 s."""
    x = samples[: 2 * rate]
    power = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    harmonic = np.fft.rfftfreq(len(x), 1 / rate) / f0
    off = (np.abs(harmonic - np.round(harmonic)) > 0.03) | (np.round(harmonic) == 0)
    return power[harmonic > 4.5].sum() / power.sum(), power[off].sum() / power.sum()


@pytest.fixture
def builtin_synth(monkeypatch):
    """Forces the fallback path (no fluidsynth, no pip renderer) and resets the once-per-process notice."""
    monkeypatch.setattr(audio.shutil, "which", lambda name: None)
    monkeypatch.setattr(audio.pip_renderer, "available", lambda: False)
    monkeypatch.setattr(audio, "_notice_shown", False)


@pytest.fixture
def no_fluidsynth(monkeypatch):
    """A machine after `pip install -r requirements.txt` alone: no fluidsynth, system SoundFont or $ZOO_SOUNDFONT."""
    monkeypatch.setattr(audio.shutil, "which", lambda name: None)
    monkeypatch.setattr(audio, "SOUNDFONT_PATHS", ())
    monkeypatch.delenv("ZOO_SOUNDFONT", raising=False)
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
    assert err.count("rendering WAV with the built-in synth") == 1 and "midirenderer is not installed" in err
    with wave.open(str(tmp_path / "a.wav"), "rb") as file:
        assert file.getnchannels() == 1 and file.getsampwidth() == 2 and file.getframerate() == 16000
        assert file.getnframes() / 16000 == pytest.approx(4.0, abs=0.5)
        pcm = np.frombuffer(file.readframes(file.getnframes()), dtype="<i2")
    assert len(pcm) == len(samples)
    assert np.abs(pcm / 32767 - samples).max() < 1e-3


@needs_pip_renderer
def test_render_wav_uses_the_pip_soundfont_without_fluidsynth(tmp_path, capsys, no_fluidsynth):
    """The default path renders a sampled piano, not the additive synth: energy above the 4th harmonic."""
    score = one_note(0, 60)
    samples = audio.render_wav(score, tmp_path / "a.wav")
    assert capsys.readouterr().err == ""
    with wave.open(str(tmp_path / "a.wav"), "rb") as file:
        assert file.getnchannels() == 1 and file.getsampwidth() == 2 and file.getframerate() == 22050
        assert file.getnframes() == len(samples) and 2.0 <= len(samples) / 22050 <= 4.5
    assert np.abs(samples).max() > 0.02 and np.isfinite(samples).all()
    high, _ = spectrum_shares(samples, 261.63)
    assert high > 0.01 and spectrum_shares(audio.synthesize(score, 22050), 261.63)[0] < 1e-4
    np.testing.assert_array_equal(samples, audio.render_wav(score, tmp_path / "b.wav"))  # deterministic


@needs_pip_renderer
def test_pip_soundfont_honours_programs_and_drums(tmp_path, no_fluidsynth):
    def render(score):
        return audio.render_wav(score, tmp_path / "x.wav")

    def held(samples):  # loudness of the note's second half-second over its first
        rms = [np.sqrt(np.mean(samples[i * 11025:(i + 1) * 11025] ** 2)) for i in (0, 1)]
        return rms[1] / rms[0]

    violin, piano = held(render(one_note(40, 69))), held(render(one_note(0, 69)))
    assert violin > 0.8 and piano < 0.5  # a bowed violin holds its level, a piano decays
    snare, low_piano = render(one_note(0, 38, is_drum=True)), render(one_note(0, 38))  # channel 10: GM snare
    assert spectrum_shares(snare, 73.4)[1] > 0.5 and spectrum_shares(low_piano, 73.4)[1] < 0.2  # noise vs harmonics


def test_render_wav_falls_back_to_the_synth_when_the_soundfont_fails(tmp_path, capsys, no_fluidsynth, monkeypatch):
    bad = tmp_path / "bad.sf2"
    bad.write_bytes(b"RIFF")
    monkeypatch.setenv("ZOO_SOUNDFONT", str(bad))
    samples = audio.render_wav(small_score(), tmp_path / "a.wav", sample_rate=8000)
    np.testing.assert_array_equal(samples, audio.synthesize(small_score(), 8000))
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "renderers failed on this score with bad.sf2" in err


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
    monkeypatch.delenv("ZOO_SOUNDFONT")
    monkeypatch.setattr(audio, "SOUNDFONT_PATHS", ())
    assert audio.find_soundfont() == audio.pip_renderer.pip_soundfont()
    assert audio.find_soundfont().name == "TimGM6mb.sf2"


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
