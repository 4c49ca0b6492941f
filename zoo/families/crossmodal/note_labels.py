"""The cross-modal model's label vocabulary: instruments, label heads and their classes, no TensorFlow.

Label conventions (specs/crossmodal.md §2.2, as the original):
    octave      = midi // 12 - 1            9 classes, 0..8 (C4 = MIDI 60 is octave 4)
    pitch class = (midi % 12 + 3) % 12      12 classes, A = 0, C = 3
    dynamics    = min(velocity // 25, 4)    5 classes pp p mf f ff, rendered at velocities 16 40 64 88 112
Frames are the constant-Q magnitude frames of `zoo.music.cqt` (680 samples at 22,050 Hz, 30.8 ms).
The encoding (`notes_encoding`), the data set builder (`notes_dataset`), the training mixtures
(`mixtures`) and generation all read these names from here.
"""
from __future__ import annotations

import numpy as np

from zoo.errors import UsageError
from zoo.music import cqt

# name -> (GM program, 0-based; lowest and highest sounding MIDI pitch of the playable range)
INSTRUMENTS: dict[str, tuple[int, int, int]] = {
    "Flute": (73, 60, 96),        # C4-C7
    "Piano": (0, 21, 108),        # A0-C8
    "Alto-Sax": (65, 49, 80),     # Db3-Ab5 sounding
    "Trumpet-C": (56, 54, 86),    # F#3-D6 (GM's one trumpet, sounding pitch)
    "Violin": (40, 55, 100),      # G3-E7
}
LABELS = ("octave", "pitch", "dynamics")
LABEL_SIZES = {"octave": 9, "pitch": 12, "dynamics": 5}
DYNAMICS = ("pp", "p", "mf", "f", "ff")
VELOCITIES = (16, 40, 64, 88, 112)
SILENT = -1
POLYPHONIC = -2
TRANSFORM = {"sample_rate": cqt.SAMPLE_RATE, "min_freq": cqt.MIN_FREQ, "max_freq": cqt.MAX_FREQ,
             "bins_per_octave": cqt.BINS_PER_OCTAVE, "bins": cqt.NUM_BINS, "hop": cqt.HOP, "pool": cqt.POOL}
FRAME_SECONDS = cqt.FRAME_SAMPLES / cqt.SAMPLE_RATE


def octave_of(midi: np.ndarray) -> np.ndarray:
    return np.asarray(midi) // 12 - 1


def pitch_class_of(midi: np.ndarray) -> np.ndarray:
    return (np.asarray(midi) % 12 + 3) % 12


def dynamics_of(velocity: np.ndarray) -> np.ndarray:
    return np.minimum(np.asarray(velocity) // (127 // len(DYNAMICS)), len(DYNAMICS) - 1)


def midi_of(octave: np.ndarray, pitch_class: np.ndarray) -> np.ndarray:
    """Inverse of (octave_of, pitch_class_of): MIDI pitch from octave and A-based pitch class."""
    return (np.asarray(octave) + 1) * 12 + (np.asarray(pitch_class) - 3) % 12


def check_instruments(names) -> list[str]:
    """Canonical instrument names (case-insensitive match); UsageError naming the known ones."""
    known = {name.lower(): name for name in INSTRUMENTS}
    result = []
    for name in names:
        if str(name).lower() not in known:
            raise UsageError(f"unknown instrument '{name}' (the General MIDI map here knows: {', '.join(INSTRUMENTS)})")
        result.append(known[str(name).lower()])
    if len(set(result)) != len(result):
        raise UsageError(f"an instrument is named twice in {' '.join(names)}")
    return result
