"""`Score` -> audio: FluidSynth, else a pip SoundFont renderer, else a numpy synth; WAV files.

`render_wav` writes a WAV file and returns the samples. It renders with General MIDI SoundFonts:
FluidSynth when its binary is installed, else `zoo.music.soundfont` (midirenderer with the SoundFont
that the pretty_midi wheel ships, both in requirements.txt); `synthesize` is the built-in synth alone
(additive harmonics with an exponential decay, noise bursts for drums), which needs nothing but numpy
and follows the score's tempo map, for machines with neither. `read_wav` is the one WAV reader
(FluidSynth's output and users' recordings alike, within size, rate and length limits); `write_wav`
and `write_limited_wav` write mono 16-bit files.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

from zoo.atomic import atomic_path
from zoo.errors import ScoreReadError
from zoo.music import soundfont as pip_renderer
from zoo.music.score import Score

MAX_SECONDS = 600.0  # longer scores are cut here, so a bogus score cannot take unbounded memory
MAX_NOTE_SECONDS = 8.0  # a held note is synthesised at most this long (it has decayed by then)
RELEASE_SECONDS = 0.05
DRUM_SECONDS = 0.15
PEAK = 0.9
SOUNDFONT_PATHS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/soundfonts/default.sf2",
)
FALLBACK_NOTICE = ("{reason}: rendering WAV with the built-in synth, which sounds crude "
                   "(pip install -r requirements.txt for realistic General MIDI sound)")
_HARMONICS = np.array([1.0, 0.5, 0.25, 0.125])
_CHUNK_SAMPLES = 1 << 20
_notice_shown = False


def find_soundfont(soundfont: str | os.PathLike | None = None) -> Path | None:
    """The SoundFont to use: `soundfont`, else $ZOO_SOUNDFONT, else a usual system path, else the one the
    pretty_midi package ships (`zoo.music.soundfont.pip_soundfont`); None if none exists."""
    for candidate in (soundfont, os.environ.get("ZOO_SOUNDFONT"), *SOUNDFONT_PATHS, pip_renderer.pip_soundfont()):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def render_wav(score: Score, path: str | os.PathLike, sample_rate: int = 22050, soundfont=None,
               effects: bool = True) -> np.ndarray:
    """Renders `score` to a mono 16-bit WAV file and returns the samples.

    With a GM SoundFont (see `find_soundfont`), renders through `fluidsynth` when that binary is
    installed, else through `zoo.music.soundfont` (pip packages alone); with neither, or when both fail,
    uses the built-in synth (printing a one-line notice on stderr once per process). Every path is
    deterministic and stops at `MAX_SECONDS`.

    Args:
        score: `Score`.
        path: str or PathLike, the `.wav` file to write.
        sample_rate: int, samples per second (default 22050).
        soundfont: str or PathLike or None, a `.sf2` file to prefer.
        effects: bool, the renderer's reverb and chorus (off for dry data sets of single notes).

    Returns:
        float32 array [num_samples], values in [-1, 1].
    """
    font = find_soundfont(soundfont)
    samples = None
    program = shutil.which("fluidsynth")
    if program and font:
        samples = _render_fluidsynth(score, program, font, sample_rate, effects)
    if samples is None and font and pip_renderer.available():
        try:
            samples = pip_renderer.render_soundfont(score, font, sample_rate, effects, MAX_SECONDS)
        except pip_renderer.SoundFontRenderError:
            samples = None
    if samples is None:
        if font is None:
            _notice_fallback("no General MIDI SoundFont found (pretty_midi, which ships one, is not installed)")
        elif not pip_renderer.available():
            _notice_fallback("midirenderer is not installed (and fluidsynth is not either)")
        else:
            _notice_fallback(f"the SoundFont renderers failed on this score with {font.name}")
        samples = synthesize(score, sample_rate)
    write_wav(samples, path, sample_rate)
    return samples


def _notice_fallback(reason: str) -> None:
    global _notice_shown
    if not _notice_shown:
        _notice_shown = True
        print(FALLBACK_NOTICE.format(reason=reason), file=sys.stderr)


def _render_fluidsynth(score: Score, program: str, font: Path, sample_rate: int, effects: bool = True
                       ) -> np.ndarray | None:
    """Renders through a temporary MIDI file; None when fluidsynth fails."""
    from zoo.music.midi import write_midi

    seconds = float(score.seconds(score.end)) if score.num_notes else 0.0
    with tempfile.TemporaryDirectory() as folder:
        midi_path, wav_path = Path(folder) / "score.mid", Path(folder) / "score.wav"
        write_midi(score, midi_path)
        command = [program, "-ni", "-g", "0.8", "-F", str(wav_path), "-r", str(int(sample_rate))]
        if not effects:
            command += ["-R", "0", "-C", "0"]
        command += [str(font), str(midi_path)]
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=60 + min(seconds, MAX_SECONDS))
            samples, _ = read_wav(wav_path)
        except (OSError, subprocess.SubprocessError, ScoreReadError):
            return None
    # FluidSynth writes stereo: mixed down to mono
    return np.clip(samples[: int(MAX_SECONDS * sample_rate)].mean(axis=1), -1.0, 1.0).astype(np.float32)


# What read_wav accepts: the rates of real recordings, at most an hour of sound, a file of at most 1 GiB.
WAV_RATES = (1000, 384_000)
MAX_WAV_SECONDS = 3600.0
MAX_WAV_BYTES = 1 << 30


def read_wav(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """A WAV file's samples and rate, within the limits above.

    Integer PCM of any width is centred and scaled to [-1, 1) (16-bit: / 32768), float PCM is kept as
    it is. The file is parsed from memory, so a header declaring more data than the file holds reads
    only what is there (scipy would allocate the declared size from a real file).

    Args:
        path: str or PathLike, the `.wav` file.

    Returns:
        (float64 array [frames, channels], sample rate in Hz).

    Raises:
        ScoreReadError: a missing, unreadable or corrupt file (scipy raises ValueError, struct.error,
            EOFError, ... on bad headers), one larger than `MAX_WAV_BYTES`, without channels, at a rate
            outside `WAV_RATES`, with more than `MAX_WAV_SECONDS` of sound, or with samples that are
            not finite numbers.
    """
    import io

    from scipy.io import wavfile

    if not Path(path).is_file():
        raise ScoreReadError(f"cannot read {path}: no such file")
    try:
        size = Path(path).stat().st_size
        if size > MAX_WAV_BYTES:
            raise ValueError(f"{size} bytes is larger than the {MAX_WAV_BYTES} byte limit")
        rate, data = wavfile.read(io.BytesIO(Path(path).read_bytes()))
    except Exception as error:  # noqa: BLE001  (see Raises)
        raise ScoreReadError(f"cannot read {path}: not a WAV file it understands "
                             f"({type(error).__name__}: {error})") from None
    if data.dtype.kind not in "iuf":
        raise ScoreReadError(f"cannot read {path}: samples of type {data.dtype} (expected integer or float PCM)")
    if not WAV_RATES[0] <= rate <= WAV_RATES[1]:
        raise ScoreReadError(f"cannot read {path}: sample rate {rate} Hz is outside {WAV_RATES[0]}..{WAV_RATES[1]} Hz")
    data = data if data.ndim == 2 else data[:, None]
    if data.shape[1] < 1:
        raise ScoreReadError(f"cannot read {path}: {data.shape[1]} channels")
    if len(data) / rate > MAX_WAV_SECONDS:
        raise ScoreReadError(f"cannot read {path}: {len(data) / rate:.0f} s of sound is longer than "
                             f"the {MAX_WAV_SECONDS:.0f} s limit")
    if data.dtype.kind in "iu":
        info = np.iinfo(data.dtype)
        data = (data.astype(np.float64) - (info.max + info.min + 1) / 2) / (2.0 ** (info.bits - 1))
    data = data.astype(np.float64)
    if not np.isfinite(data).all():
        raise ScoreReadError(f"cannot read {path}: it holds samples that are not finite numbers (NaN or infinity)")
    return data, int(rate)


def resample(samples: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
    """Samples [frames, ...] at `rate` -> the same sound at `target_rate` (polyphase filter, scipy), float64."""
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(int(rate), int(target_rate))
    return resample_poly(samples, int(target_rate) // g, int(rate) // g, axis=0)


def write_wav(samples: np.ndarray, path, sample_rate: int) -> None:
    """Writes mono float samples in [-1, 1] as a 16-bit PCM WAV file."""
    pcm = np.round(np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(os.fspath(path), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(int(sample_rate))
        file.writeframes(pcm.tobytes())


def write_limited_wav(samples: np.ndarray, path: str | os.PathLike, sample_rate: int) -> Path:
    """Writes mono samples like `write_wav`, scaled down to a peak of 0.9 when louder (instead of clipped),
    creating the folder, atomically; returns the path. For synthesised sound of no set level (Griffin-Lim output)."""
    path = Path(path)
    peak = np.abs(samples).max()
    with atomic_path(path) as tmp:
        write_wav(samples / peak * 0.9 if peak > 0.9 else samples, tmp, sample_rate)
    return path


def synthesize(score: Score, sample_rate: int = 22050) -> np.ndarray:
    """The built-in synth: every note of `score` as float32 mono samples, peak-normalised to 0.9.

    Pitched notes: four harmonics, 5 ms attack, exponential decay (faster for higher pitches),
    50 ms release after the note ends. Drums: 150 ms decaying noise bursts. Amplitude follows
    velocity / 127. Times follow the tempo map (`Score.seconds`); output stops at 10 minutes.

    Args:
        score: `Score`.
        sample_rate: int, samples per second (default 22050).

    Returns:
        float32 array [num_samples] in [-1, 1]: the score's length plus the release (at least 1 sample).
    """
    sr = int(sample_rate)
    parts = [(t.notes, t.is_drum) for t in score.tracks if len(t.notes)]
    if not parts:
        return np.zeros(1, dtype=np.float32)
    notes = np.concatenate([n for n, _ in parts])
    drum = np.concatenate([np.full(len(n), d) for n, d in parts])
    start = np.round(score.seconds(notes["start"]) * sr).astype(np.int64)
    hold = np.round(score.seconds(notes["end"]) * sr).astype(np.int64) - start
    limit = int(MAX_SECONDS * sr)
    keep = (start < limit) & (hold > 0)
    notes, drum, start, hold = notes[keep], drum[keep], start[keep], hold[keep]
    hold = np.minimum(hold, int(MAX_NOTE_SECONDS * sr))
    hold[drum] = int(DRUM_SECONDS * sr)
    release = int(RELEASE_SECONDS * sr)
    length = np.minimum(hold + release, limit - start)
    total = int(min(limit, (start + length).max(initial=1)))
    out = np.zeros(total, dtype=np.float64)
    order = np.argsort(start, kind="stable")
    rng = np.random.default_rng(0)
    for chunk in _chunks(order, start, length):
        _add_notes(out, notes[chunk], drum[chunk], start[chunk], hold[chunk], length[chunk], sr, release, rng)
    peak = np.abs(out).max()
    if peak > 0:
        out *= PEAK / peak
    return out.astype(np.float32)


def _chunks(order, start, length):
    """Splits note indices (sorted by start) into groups of at most ~1M samples and a bounded span."""
    begin, total = 0, 0
    for i, index in enumerate(order):
        total += int(length[index])
        span = int(start[index] + length[index] - start[order[begin]])
        if i > begin and (total > _CHUNK_SAMPLES or span > 4 * _CHUNK_SAMPLES):
            yield order[begin:i]
            begin, total = i, int(length[index])
    if begin < len(order):
        yield order[begin:]


def _add_notes(out, notes, drum, start, hold, length, sr, release, rng) -> None:
    """Synthesises a group of notes at once and mixes them into `out`."""
    ids = np.repeat(np.arange(len(notes)), length)
    offsets = np.cumsum(length) - length
    k = np.arange(int(length.sum())) - offsets[ids]  # sample index inside its note
    t = k / sr
    freq = 440.0 * 2.0 ** ((notes["pitch"].astype(np.float64) - 69.0) / 12.0)
    phase = 2 * np.pi * freq[ids] * t
    tone = sum(a * np.sin((h + 1) * phase) for h, a in enumerate(_HARMONICS)) / _HARMONICS.sum()
    decay_rate = np.clip(1.0 + (notes["pitch"] - 48) / 24.0, 0.5, 4.0)
    envelope = np.minimum(t / 0.005, 1.0) * np.exp(-decay_rate[ids] * t)
    noise = rng.uniform(-1.0, 1.0, len(k)) * np.exp(-30.0 * t)
    signal = np.where(drum[ids], noise, tone * envelope)
    tail = np.clip(1.0 - (k - hold[ids]) / max(release, 1), 0.0, 1.0)
    signal *= tail * (np.clip(notes["velocity"], 0, 127)[ids] / 127.0)
    position = start[ids] + k
    low = int(start.min())
    mixed = np.bincount(position - low, weights=signal)
    out[low : low + len(mixed)] += mixed[: len(out) - low]
