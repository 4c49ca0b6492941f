"""What generate.py's cross-modal modes read: a MIDI file's labels, `--sequence` points, a WAV recording.

Each check names the value received and the fix in one line: `ScoreReadError` for a file that
cannot be read, `UsageError` or `EncodingError` for one the run cannot use.
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo.errors import EncodingError, UsageError
from zoo.families.crossmodal.note_labels import INSTRUMENTS, LABEL_SIZES, LABELS, POLYPHONIC
from zoo.music import cqt

if TYPE_CHECKING:
    from zoo.families.crossmodal.notes_encoding import NotesEncoding


def load_audio_input(path: str) -> np.ndarray:
    """`--mode audio`'s input: a mono WAV file as float32 at 22,050 Hz (resampled, with a notice, from another rate).

    Read by `zoo.music.audio.read_wav` (ScoreReadError for a missing, corrupt or out-of-limits file);
    UsageError for stereo or silent audio.
    """
    from zoo.music.audio import read_wav, resample

    data, rate = read_wav(path)
    if data.shape[1] > 1:
        raise UsageError(f"{path} has {data.shape[1]} channels: the model analyses mono audio (mix it down first)")
    data = data[:, 0]
    if len(data) == 0 or np.abs(data).max() < 1e-4:
        raise UsageError(f"{path} is silent: nothing to transcribe")
    if rate != cqt.SAMPLE_RATE:
        print(f"resampling {path} from {rate} Hz to {cqt.SAMPLE_RATE} Hz", file=sys.stderr)
        data = resample(data, rate, cqt.SAMPLE_RATE)
    return data.astype(np.float32)


def quiet_frames(samples: np.ndarray, silence_db: float) -> np.ndarray:
    """Frames (of `cqt.magnitude_frames`) whose samples' energy is more than `silence_db` below the
    loudest frame's: bool [T].

    Measured on the waveform, frame by frame: the constant-Q frames of silence are not silent, since
    the low bins' long windows smear (and wrap around) energy from the notes around them.
    """
    padded = np.zeros(cqt.padded_length(len(samples)))
    padded[:len(samples)] = samples
    energy = np.square(padded).reshape(-1, cqt.FRAME_SAMPLES).sum(axis=1)
    energy_db = 10 * np.log10(np.maximum(energy, 1e-30))
    return energy_db < energy_db.max() - silence_db


def midi_labels(path: str, config: dict[str, Any], encoding: NotesEncoding, transpose: int, dynamics: int | None):
    """A MIDI file's parts -> (classes [T, instruments, 3], present [T, instruments]); part i plays instrument i."""
    from zoo.music.io import load_score

    score = load_score(path)
    for track in score.tracks:
        if len(track.notes):
            track.notes["pitch"] = track.notes["pitch"] + transpose
    labels = encoding.encode(score)
    parts, instruments = labels["midi"].shape[1], config["instruments"]
    if parts > len(instruments):
        raise UsageError(f"{path} has {parts} parts but the run knows {len(instruments)} instrument(s) "
                         f"({' '.join(instruments)}): part i is played by instrument i")
    pitched = [t for t in score.tracks if not t.is_drum and len(t.notes)]
    for track, name in zip(pitched, instruments):
        _, low, high = INSTRUMENTS[name]
        outside = track.notes["pitch"][(track.notes["pitch"] < low) | (track.notes["pitch"] > high)]
        if len(outside):
            raise EncodingError(f"{path}: MIDI note {int(outside[0])} is outside the {name}'s range {low}-{high}"
                                f"{' after transposing by ' + str(transpose) if transpose else ''} (try -t)")
    frames = len(labels["midi"])
    classes = np.zeros((frames, len(instruments), 3), np.int64)
    present = np.zeros((frames, len(instruments)), bool)
    for j, label in enumerate(LABELS):
        classes[:, :parts, j] = np.maximum(labels[label], 0)
    if dynamics is not None:
        classes[:, :, 2] = dynamics
    present[:, :parts] = labels["midi"] >= 0
    polyphonic = int((labels["midi"] == POLYPHONIC).any(axis=1).sum())
    if polyphonic:
        print(f"{polyphonic} frame(s) with several notes in one part are left silent", file=sys.stderr)
    return classes, present


def parse_sequence(items: list[str], instruments: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """`--sequence` points -> (classes [P, instruments, 3], present [P, instruments])."""
    classes = np.zeros((len(items), len(instruments), 3), np.int64)
    present = np.zeros((len(items), len(instruments)), bool)
    for p, item in enumerate(items):
        parts = item.split("+")
        if len(parts) != len(instruments):
            raise UsageError(f"--sequence point '{item}' names {len(parts)} instrument(s); the run has "
                             f"{len(instruments)} ({' '.join(instruments)}), joined by '+'")
        for i, part in enumerate(parts):
            if part == "-":
                continue
            try:
                values = [int(v) for v in part.split(":")]
            except ValueError:
                values = []
            limits = [LABEL_SIZES[label] for label in LABELS]
            if len(values) != 3 or not all(0 <= v < n for v, n in zip(values, limits)):
                raise UsageError(f"--sequence point '{part}' is not OCTAVE:PITCH:DYNAMICS with octave 0-8, "
                                 "pitch class 0-11 (A=0, C=3), dynamics 0-4")
            classes[p, i], present[p, i] = values, True
    return classes, present
