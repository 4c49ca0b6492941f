"""What the play modes read: a WAV recording (mono, not silent, at 22,050 Hz), `--sequence` points, quiet frames."""
import numpy as np
import pytest

from zoo.errors import ScoreReadError, UsageError
from zoo.families.crossmodal.play_inputs import load_audio_input, parse_sequence, quiet_frames
from zoo.music import cqt
from zoo.music.audio import write_wav


def test_a_recording_at_another_rate_is_resampled_with_a_notice(tmp_path, capsys):
    t = np.arange(44100) / 44100
    write_wav(0.3 * np.sin(2 * np.pi * 440 * t), tmp_path / "a4.wav", 44100)
    samples = load_audio_input(str(tmp_path / "a4.wav"))
    assert samples.dtype == np.float32 and len(samples) == cqt.SAMPLE_RATE
    assert "resampling" in capsys.readouterr().err
    spectrum = np.abs(np.fft.rfft(samples))
    assert abs(spectrum.argmax() * cqt.SAMPLE_RATE / len(samples) - 440) < 2


def test_stereo_silent_and_missing_recordings_are_refused(tmp_path):
    import wave

    with wave.open(str(tmp_path / "stereo.wav"), "wb") as file:
        file.setnchannels(2)
        file.setsampwidth(2)
        file.setframerate(22050)
        file.writeframes(np.full((100, 2), 3000, "<i2").tobytes())
    write_wav(np.zeros(100), tmp_path / "silent.wav", 22050)
    with pytest.raises(UsageError, match="2 channels"):
        load_audio_input(str(tmp_path / "stereo.wav"))
    with pytest.raises(UsageError, match="silent"):
        load_audio_input(str(tmp_path / "silent.wav"))
    with pytest.raises(ScoreReadError, match="no such file"):
        load_audio_input(str(tmp_path / "missing.wav"))


def test_sequence_points_name_every_instrument():
    classes, present = parse_sequence(["4:3:2+-", "5:0:4+4:3:1"], ["Flute", "Violin"])
    assert classes.shape == (2, 2, 3) and present.tolist() == [[True, False], [True, True]]
    assert classes[1].tolist() == [[5, 0, 4], [4, 3, 1]]
    with pytest.raises(UsageError, match="joined by '\\+'"):
        parse_sequence(["4:3:2"], ["Flute", "Violin"])
    with pytest.raises(UsageError, match="OCTAVE:PITCH:DYNAMICS"):
        parse_sequence(["4:12:2"], ["Flute"])


def test_quiet_frames_are_measured_on_the_waveform():
    frames = 8
    samples = np.zeros(frames * cqt.FRAME_SAMPLES)
    samples[: 4 * cqt.FRAME_SAMPLES] = 0.5 * np.sin(np.arange(4 * cqt.FRAME_SAMPLES) / 5.0)
    quiet = quiet_frames(samples, 60.0)
    assert not quiet[:4].any() and quiet[4:frames].all()
