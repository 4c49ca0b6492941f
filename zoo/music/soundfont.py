"""`Score` -> audio through a General MIDI SoundFont with pip packages alone (no FluidSynth, no apt package).

The engine is `midirenderer` (MIT; Python bindings of rustysynth, a Rust SoundFont synthesiser), whose
wheels need nothing else on Linux x86_64, macOS and Windows. The SoundFont is `TimGM6mb.sf2` (Tim
Brechbill, 2004; MuseScore 1's default font; GPL-2 as Debian records it), which the `pretty_midi` wheel
ships in its package folder: `pip_soundfont` finds it with `importlib.util.find_spec`, without
importing pretty_midi. tinysoundfont was measured too and not taken: it requires `pyaudio`, which
pip can only build from source with PortAudio's headers (an apt package) on Linux.

`render_soundfont` writes the score with `zoo.music.midi.write_midi` (so the same channels, programs and
drums on channel 10 as the zoo's MIDI files), flattens it to one track timed in seconds, cut at
`max_seconds`, and renders it; the result is deterministic. It is `zoo.music.audio.render_wav`'s
renderer when FluidSynth is not installed, and the one renderer of the cross-modal notes data set.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import io
import os
import tempfile
from pathlib import Path

import numpy as np

ENGINE = "midirenderer"
PIP_SOUNDFONT = ("pretty_midi", "TimGM6mb.sf2")  # (package, file in its folder)
# Bump when the way a score is rendered changes (gain, tail, effects): it is part of `renderer_info`,
# which the cross-modal data cache keys and manifests record.
RECIPE = 1
GAIN = 2.0  # rustysynth plays at about half the loudness of `fluidsynth -g 0.8` (the FluidSynth path)
TAIL_SECONDS = 2.0  # rendered after the last event: releases and reverb die away
SILENCE = 1e-4  # trailing samples below this (after GAIN) are cut
_TICKS_PER_BEAT = 24_000  # at 120 qpm: 48,000 ticks a second, one per sample of the engine's 48 kHz
_TICKS_PER_SECOND = 2 * _TICKS_PER_BEAT
_EFFECT_SENDS = (91, 93)  # reverb and chorus send controllers, set to 0 for a dry render
_CHANNEL_MESSAGES = ("note_on", "note_off", "control_change", "program_change", "pitchwheel", "aftertouch",
                     "polytouch")


class SoundFontRenderError(RuntimeError):
    """The engine refused or failed on a SoundFont or a score (the caller falls back or reports it)."""


def pip_soundfont() -> Path | None:
    """The General MIDI SoundFont a pip package ships (pretty_midi's TimGM6mb.sf2); None if not installed."""
    package, name = PIP_SOUNDFONT
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        if (Path(folder) / name).is_file():
            return Path(folder) / name
    return None


def available() -> bool:
    """Whether the engine is installed (it is not imported here)."""
    return importlib.util.find_spec(ENGINE) is not None


def renderer_info() -> dict:
    """What renders: {"name", "version" (of the installed package, None if missing), "recipe"}."""
    try:
        version = importlib.metadata.version(ENGINE)
    except importlib.metadata.PackageNotFoundError:
        version = None
    return {"name": ENGINE, "version": version, "recipe": RECIPE}


def soundfont_info(path: str | os.PathLike) -> dict:
    """{"file": the SoundFont's file name, "sha256": of its bytes}."""
    with open(path, "rb") as file:
        return {"file": Path(path).name, "sha256": hashlib.file_digest(file, "sha256").hexdigest()}


def render_soundfont(score, soundfont: str | os.PathLike, sample_rate: int = 22050, effects: bool = True,
                     max_seconds: float = 600.0) -> np.ndarray:
    """Renders `score` with `soundfont` through the engine; mono samples at `sample_rate`.

    Args:
        score: `Score`.
        soundfont: str or PathLike, a `.sf2` file.
        sample_rate: int, samples per second of the result (default 22050; the engine runs at 48 kHz).
        effects: bool, the engine's reverb and chorus at General MIDI's default sends (False: dry, every
            channel's sends set to 0).
        max_seconds: float, events after this are left out and notes still sounding stop here.

    Returns:
        float32 array [num_samples] in [-1, 1]: the score plus the decay of its last notes (trailing
        silence cut), at most `max_seconds` long; [1] zeros for a score without notes.

    Raises:
        SoundFontRenderError: the engine is missing or fails (an unreadable SoundFont, say).
    """
    midi, seconds = _flat_midi(score, effects, max_seconds)
    if seconds is None:
        return np.zeros(1, np.float32)
    try:
        import midirenderer
        from scipy.io import wavfile

        wav = midirenderer.render_wave_from(Path(soundfont).read_bytes(), midi)
        rate, data = wavfile.read(io.BytesIO(wav))
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:  # noqa: BLE001  (a Rust panic is a BaseException)
        raise SoundFontRenderError(f"{ENGINE} could not render with {soundfont}: {type(error).__name__}: {error}"
                                   ) from None
    data = data.astype(np.float64) / (32768.0 if data.dtype.kind == "i" else 1.0)
    samples = (data.mean(axis=1) if data.ndim == 2 else data) * GAIN
    if rate != sample_rate:
        from math import gcd

        from scipy.signal import resample_poly

        g = gcd(int(rate), int(sample_rate))
        samples = resample_poly(samples, int(sample_rate) // g, int(rate) // g)
    samples = samples[: int(max_seconds * sample_rate)]
    loud = np.flatnonzero(np.abs(samples) >= SILENCE)
    end = max(int(np.ceil(seconds * sample_rate)), int(loud[-1]) + 1 if len(loud) else 1)
    return np.clip(samples[:end], -1.0, 1.0).astype(np.float32)


def _flat_midi(score, effects: bool, max_seconds: float) -> tuple[bytes, float | None]:
    """`score` as one MIDI track at 48,000 ticks a second, cut at `max_seconds`, ending `TAIL_SECONDS` after
    its last event; and the time of that event (None when the score has no notes)."""
    import mido

    from zoo.music.midi import write_midi

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "score.mid"
        write_midi(score, path)
        source = mido.MidiFile(path)
    events, now, channels, notes = [], 0.0, set(), 0
    for message in source:  # merged tracks; .time is the delta in seconds, following the tempo map
        now += message.time
        if message.type not in _CHANNEL_MESSAGES:
            continue
        sounding = message.type == "note_on" and message.velocity > 0
        if now >= max_seconds:
            if sounding or message.type not in ("note_on", "note_off"):
                continue  # only the note-offs of notes still sounding are kept, at the cut
        events.append((min(now, max_seconds), message))
        channels.add(message.channel)
        notes += sounding
    if not notes:
        return b"", None
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500_000, time=0)])
    if not effects:
        track.extend(mido.Message("control_change", channel=c, control=control, value=0)
                     for c in sorted(channels) for control in _EFFECT_SENDS)
    tick = 0
    for seconds, message in events:
        at = int(round(seconds * _TICKS_PER_SECOND))
        track.append(message.copy(time=at - tick))
        tick = at
    last = events[-1][0]
    end = int(round(min(last + TAIL_SECONDS, max_seconds) * _TICKS_PER_SECOND))
    track.append(mido.MetaMessage("end_of_track", time=max(end - tick, 0)))
    midi = mido.MidiFile(type=0, ticks_per_beat=_TICKS_PER_BEAT)
    midi.tracks.append(track)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue(), last
