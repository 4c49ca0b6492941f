"""The numpy constant-Q transform: scale, perfect reconstruction, magnitudes, Griffin-Lim."""
import numpy as np

from zoo.music import cqt


def test_scale_matches_the_original_nsgt():
    freqs = cqt.bin_frequencies()
    assert cqt.NUM_BINS == len(freqs) == 410
    assert np.isclose(freqs[0], 30.0) and np.isclose(freqs[-1], 11000.0)
    assert np.isclose(np.log2(freqs[48] / freqs[0]), 1.0, atol=0.01)  # 48 bins per octave
    assert abs(cqt.SAMPLE_RATE / cqt.FRAME_SAMPLES - 31.3) < 1.5  # pooled frames per second


def test_forward_then_inverse_gives_the_signal_back():
    signal = np.random.default_rng(0).standard_normal(12345)
    coefficients = cqt.forward(signal)
    assert coefficients.shape == (cqt.padded_length(12345) // cqt.HOP, cqt.NUM_BINS + 2)
    np.testing.assert_allclose(cqt.inverse(coefficients, len(signal)), signal, atol=1e-5)


def test_a_sine_peaks_in_its_bin_with_its_amplitude():
    k = 250
    t = np.arange(cqt.SAMPLE_RATE) / cqt.SAMPLE_RATE
    frames = cqt.magnitude_frames(0.5 * np.sin(2 * np.pi * cqt.bin_frequencies()[k] * t))
    assert frames.shape == (-(-cqt.SAMPLE_RATE // cqt.FRAME_SAMPLES), cqt.NUM_BINS)
    middle = frames[len(frames) // 2]
    assert middle.argmax() == k
    assert np.isclose(middle.max(), 0.5 * cqt.HOP / 2, rtol=0.02)
    assert middle[k + 8] < 0.01 * middle[k]  # two semitones away


def test_griffin_lim_rebuilds_the_magnitudes():
    t = np.arange(cqt.SAMPLE_RATE // 2) / cqt.SAMPLE_RATE
    tone = sum(np.sin(2 * np.pi * 220 * h * t) / h for h in (1, 2, 3)) * np.exp(-2 * t)
    target = cqt.magnitude_frames(tone)

    def error(iterations):
        rebuilt = cqt.magnitude_frames(cqt.griffin_lim(target, iterations=iterations))
        return np.abs(rebuilt - target).sum() / target.sum()

    assert error(20) < error(1) and error(20) < 0.3
