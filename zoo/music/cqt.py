"""An invertible constant-Q transform in numpy, on the scale of the cross-modal model's NSGT.

A near equivalent of Grill's `CQ_NSGT(30, 11000, 48, 22050, real=True, matrixform=True)`
(specs/crossmodal.md §3), written here because the `nsgt` package fails with numpy 2:

* 410 bins, geometric from 30 Hz to 11 kHz (48 bins per octave), at 22,050 Hz.
* Each bin is a band of the signal's spectrum cut by a window that rises (sine) from the previous
  bin's centre and falls (cosine) to the next one's, on a log-frequency axis. Neighbouring
  windows' squares add up to one, and two extra bands (below 30 Hz and above 11 kHz) complete
  the sum, so the transform is a tight frame: `inverse(forward(x)) == x` to rounding.
* Every band is brought to baseband and sampled on one time grid of `HOP` = 68 samples
  (324 frames/s; the original's matrix form gives 313): the widest band, 317.6 Hz at 11 kHz,
  fits in 22050 / 68 = 324 Hz, so no band aliases ("painless" frame).
* `magnitude_frames` shrinks the time axis by `POOL` = 10 (mean of 10 frames, where the original
  resized with scikit-image): 32.4 frames/s, 680 samples per frame, where the original had 31.3.

`griffin_lim` rebuilds a signal from pooled magnitudes by alternating projections.
"""
from __future__ import annotations

import functools

import numpy as np

SAMPLE_RATE = 22050
MIN_FREQ = 30.0
MAX_FREQ = 11000.0
BINS_PER_OCTAVE = 48
HOP = 68
POOL = 10
FRAME_SAMPLES = HOP * POOL  # samples per pooled frame
NUM_BINS = int(np.ceil(np.log2(MAX_FREQ / MIN_FREQ) * BINS_PER_OCTAVE)) + 1  # 410


def bin_frequencies() -> np.ndarray:
    """Centre frequencies (Hz) of the 410 bins, float64 [NUM_BINS]."""
    return MIN_FREQ * (MAX_FREQ / MIN_FREQ) ** (np.arange(NUM_BINS) / (NUM_BINS - 1))


def padded_length(num_samples: int) -> int:
    """Signals are zero-padded to a whole number of pooled frames (at least one)."""
    return max(1, -(-int(num_samples) // FRAME_SAMPLES)) * FRAME_SAMPLES


@functools.lru_cache(maxsize=8)
def _bands(length: int):
    """Per band (DC, 410 bins, Nyquist): FFT bin indices, window values and positions in an M-point buffer."""
    num_fft = length // 2 + 1
    freqs = np.arange(num_fft) * SAMPLE_RATE / length
    centres = bin_frequencies()
    log_step = np.log(centres[1] / centres[0])
    position = np.log(np.maximum(freqs, 1e-9) / centres[0]) / log_step  # fractional bin index
    windows = np.zeros((NUM_BINS, num_fft))
    for k in range(NUM_BINS):
        t = position - k
        rising = (t > -1) & (t <= 0)
        falling = (t > 0) & (t < 1)
        windows[k, rising] = np.sin(np.pi / 2 * (t[rising] + 1))
        windows[k, falling] = np.cos(np.pi / 2 * t[falling])
    rest = np.sqrt(np.clip(1.0 - (windows ** 2).sum(0), 0.0, 1.0))
    low = np.where(freqs < centres[0], rest, 0.0)
    high = np.where(freqs > centres[-1], rest, 0.0)
    all_windows = np.vstack([low, windows, high])
    frames = length // HOP
    bands = []
    for window in all_windows:
        index = np.flatnonzero(window > 0)
        centre = index[len(index) // 2] if len(index) else 0
        if len(index) > frames:
            raise ValueError(f"band of {len(index)} FFT bins does not fit {frames} frames")
        bands.append((index, window[index], (index - centre) % frames))
    return bands


def forward(signal: np.ndarray) -> np.ndarray:
    """Complex constant-Q coefficients of a mono signal, padded to whole pooled frames.

    Args:
        signal: float array [num_samples] at `SAMPLE_RATE`.

    Returns:
        complex64 [padded_length / HOP, NUM_BINS + 2]: time first; column 0 is the band below 30 Hz,
        columns 1..410 the bins, column 411 the band above 11 kHz. A sine of amplitude A at a bin's
        centre gives |c| close to A * HOP / 2.
    """
    signal = np.asarray(signal, dtype=np.float64)
    length = padded_length(len(signal))
    spectrum = np.fft.rfft(signal, n=length)
    frames = length // HOP
    buffer = np.zeros((NUM_BINS + 2, frames), dtype=np.complex128)
    for k, (index, window, slot) in enumerate(_bands(length)):
        buffer[k, slot] = spectrum[index] * window
    return np.fft.ifft(buffer, axis=1).T.astype(np.complex64)


def inverse(coefficients: np.ndarray, num_samples: int | None = None) -> np.ndarray:
    """The signal whose `forward` is closest to `coefficients` (exact for coefficients of a signal).

    Args:
        coefficients: complex [frames, NUM_BINS + 2] as `forward` returns.
        num_samples: int or None, length to cut the result to (default: frames * HOP).

    Returns:
        float32 [num_samples].
    """
    coefficients = np.asarray(coefficients, dtype=np.complex128)
    frames = coefficients.shape[0]
    length = frames * HOP
    spectra = np.fft.fft(coefficients.T, axis=1)
    spectrum = np.zeros(length // 2 + 1, dtype=np.complex128)
    for k, (index, window, slot) in enumerate(_bands(length)):
        np.add.at(spectrum, index, spectra[k, slot] * window)
    signal = np.fft.irfft(spectrum, n=length)
    return signal[: num_samples or length].astype(np.float32)


def pool_magnitudes(coefficients: np.ndarray) -> np.ndarray:
    """|coefficients| of the 410 bins, averaged over blocks of `POOL` frames: float32 [frames / POOL, 410]."""
    magnitude = np.abs(coefficients[:, 1:-1])
    return magnitude.reshape(-1, POOL, NUM_BINS).mean(axis=1).astype(np.float32)


def magnitude_frames(signal: np.ndarray) -> np.ndarray:
    """The model's view of audio: pooled CQT magnitudes, float32 [ceil(len / 680), 410] (32.4 frames/s)."""
    return pool_magnitudes(forward(signal))


def griffin_lim(magnitudes: np.ndarray, iterations: int = 30, seed: int = 0) -> np.ndarray:
    """A signal whose pooled CQT magnitudes approach `magnitudes` (Griffin-Lim on the constant-Q frame).

    Pooled magnitudes are spread back over their `POOL` frames by linear interpolation; then,
    from a random phase, each iteration goes to audio and back and keeps only the new phase.

    Args:
        magnitudes: float [frames, 410], as `magnitude_frames` returns.
        iterations: int, projections (default 30, as the original's scripts).
        seed: int, seed of the initial phase.

    Returns:
        float32 [frames * 680] samples at 22,050 Hz.
    """
    magnitudes = np.maximum(np.asarray(magnitudes, dtype=np.float64), 0.0)
    pooled_frames = magnitudes.shape[0]
    centres = (np.arange(pooled_frames) + 0.5) * POOL - 0.5
    fine = np.arange(pooled_frames * POOL)
    target = np.stack([np.interp(fine, centres, magnitudes[:, k]) for k in range(NUM_BINS)], axis=1)
    target[target < 1e-4 * max(target.max(), 1e-12)] = 0.0
    rng = np.random.default_rng(seed)
    phase = np.exp(2j * np.pi * rng.random(target.shape))
    coefficients = np.zeros((len(fine), NUM_BINS + 2), dtype=np.complex128)
    for _ in range(max(1, iterations)):
        coefficients[:, 1:-1] = target * phase
        rebuilt = forward(inverse(coefficients))[:, 1:-1]
        phase = np.exp(1j * np.angle(rebuilt))
    coefficients[:, 1:-1] = target * phase
    return inverse(coefficients)
