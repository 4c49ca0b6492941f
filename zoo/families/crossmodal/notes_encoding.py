"""The cross-modal model's `notes` encoding: (octave, pitch class, dynamics) per instrument and frame.

The label conventions and the instrument map are in `zoo.families.crossmodal.note_labels`.
`encode(score)` gives per-frame labels of each part (non-drum track) of a score, with `SILENT`
where the part is silent and `POLYPHONIC` where it sounds several notes; `decode` turns such
labels back into a Score, one track per part. The data set itself (rendered notes, spectral
frames, labels) is built by `build_dataset` (`zoo.families.crossmodal.notes_dataset`): `python -m zoo
prepare --encoding notes` needs no input files. Nothing here imports TensorFlow, even indirectly.
"""
from __future__ import annotations

import argparse
from typing import Any, ClassVar

import numpy as np

from zoo.encodings.base import Encoding, register_encoding
from zoo.errors import EncodingError, UsageError
from zoo.families.crossmodal.note_labels import (
    DYNAMICS,
    FRAME_SECONDS,
    INSTRUMENTS,
    LABEL_SIZES,
    LABELS,
    POLYPHONIC,
    SILENT,
    TRANSFORM,
    VELOCITIES,
    check_instruments,
    dynamics_of,
    midi_of,
    octave_of,
    pitch_class_of,
)
from zoo.families.crossmodal.notes_dataset import build_notes_dataset
from zoo.music.score import Score, Track, make_notes


@register_encoding
class NotesEncoding(Encoding):
    """Per-frame note labels of monophonic parts, plus the recipe of the rendered note data set.

    Args:
        instruments: list of str, instruments of the data set (keys of `INSTRUMENTS`).
        pitch_step: int, render every n-th pitch of each range (1: all; more for a quick, small set).
        dynamics: list of str, subset of pp p mf f ff to render (class indices stay those of all five).
        note_seconds: float, how long each note is held (>= 0.9 s so frames 10-25 are inside it).
        soundfont: list of str or None, GM SoundFont(s) to render with (None: pretty_midi's TimGM6mb.sf2).
        renderer: dict or None, what rendered the data set (`zoo.music.soundfont.renderer_info` plus each
            SoundFont's file name and sha256), recorded when it is built.
        log_mean, log_scale: float or None, normalisation of log magnitudes, x = (log|X| - mean) / scale,
            measured on the training split when the data set is built.
        transform: dict or None, the constant-Q parameters the data was made with (checked).
    """

    name: ClassVar[str] = "notes"
    synthesises_data: ClassVar[bool] = True
    # Which notes were rendered, how, and what was measured on them: not how a frame is represented. A warm start
    # (--init_from) onto notes data that differ in these goes ahead, with a note (zoo/engine/warm_start.py).
    data_options: ClassVar[tuple[str, ...]] = ("instruments", "pitch_step", "dynamics", "note_seconds", "soundfont",
                                               "renderer", "log_mean", "log_scale")

    def __init__(self, instruments=tuple(INSTRUMENTS), pitch_step: int = 1, dynamics=DYNAMICS,
                 note_seconds: float = 1.0, soundfont=None, log_mean: float | None = None,
                 log_scale: float | None = None, transform: dict | None = None, renderer: dict | None = None):
        self.instruments = check_instruments(instruments)
        if int(pitch_step) < 1:
            raise UsageError(f"--pitch_step must be at least 1 (got {pitch_step})")
        self.pitch_step = int(pitch_step)
        unknown = [d for d in dynamics if d not in DYNAMICS]
        if unknown or not dynamics:
            raise UsageError(f"unknown dynamics {' '.join(unknown)} (known: {' '.join(DYNAMICS)})")
        self.dynamics = [d for d in DYNAMICS if d in dynamics]
        if not 0.9 <= float(note_seconds) <= 10:
            raise UsageError(f"--note_seconds must be between 0.9 and 10 (got {note_seconds})")
        self.note_seconds = float(note_seconds)
        self.soundfont = list(soundfont) if soundfont else None
        self.renderer = dict(renderer) if renderer else None
        self.log_mean = None if log_mean is None else float(log_mean)
        self.log_scale = None if log_scale is None else float(log_scale)
        if transform is not None and dict(transform) != TRANSFORM:
            raise EncodingError(f"the data was made with another constant-Q transform ({transform}; this zoo: {TRANSFORM})")

    @property
    def vocab_size(self) -> int:
        """Number of label classes of one instrument (9 + 12 + 5), without silent classes."""
        return sum(LABEL_SIZES.values())

    @classmethod
    def add_arguments(cls, parser: argparse._ArgumentGroup) -> None:
        parser.add_argument("--instruments", nargs="+", default=list(INSTRUMENTS),
                            help=f"instruments to render (default: all of {' '.join(INSTRUMENTS)})")
        parser.add_argument("--pitch_step", type=int, default=1,
                            help="render every n-th pitch of each range (1: all; e.g. 4 for a small set)")
        parser.add_argument("--dynamics", nargs="+", default=list(DYNAMICS),
                            help="dynamics to render (default: pp p mf f ff at velocities 16 40 64 88 112)")
        parser.add_argument("--note_seconds", type=float, default=1.0, help="how long each note is held")
        parser.add_argument("--soundfont", nargs="+", default=None,
                            help="GM SoundFont file(s); several give several renderings of each note "
                                 "(default: pretty_midi's TimGM6mb.sf2, the same on every machine)")

    def to_config(self) -> dict[str, Any]:
        return {"name": self.name, "instruments": self.instruments, "pitch_step": self.pitch_step,
                "dynamics": self.dynamics, "note_seconds": self.note_seconds, "soundfont": self.soundfont,
                "log_mean": self.log_mean, "log_scale": self.log_scale, "transform": dict(TRANSFORM),
                "renderer": self.renderer}

    def build_dataset(self, output_dir, valid_fraction: float, test_fraction: float, seed: int) -> dict:
        """Renders, analyses and splits (by note) the data set into `output_dir`; returns the manifest."""
        return build_notes_dataset(self, output_dir, valid_fraction, test_fraction, seed)

    # ------------------------------------------------------------ normalisation
    def normalise(self, magnitudes: np.ndarray) -> np.ndarray:
        """Linear CQT magnitudes -> the model's input, (log(max(|X|, 1e-6)) - mean) / scale, float32."""
        self._need_stats()
        return ((np.log(np.maximum(magnitudes, 1e-6)) - self.log_mean) / self.log_scale).astype(np.float32)

    def denormalise(self, values: np.ndarray) -> np.ndarray:
        """The model's output -> linear CQT magnitudes (inverse of `normalise`)."""
        self._need_stats()
        return np.exp(np.asarray(values, np.float64) * self.log_scale + self.log_mean).astype(np.float32)

    def _need_stats(self) -> None:
        if self.log_mean is None or self.log_scale is None:
            raise EncodingError("this notes encoding has no normalisation statistics (they come with a prepared data set)")

    # ------------------------------------------------------------ Score <-> labels
    def encode(self, score: Score) -> dict[str, np.ndarray]:
        """Per-frame labels of each part (non-drum track with notes) of `score`.

        Returns:
            dict of int16 arrays [frames, parts]: "octave", "pitch", "dynamics" (class indices, or
            SILENT = -1 where the part is silent, POLYPHONIC = -2 where it sounds several notes) and
            "midi" (the sounding MIDI pitch, or the same marks). Frames are sampled at their centres.
        Raises:
            EncodingError: a score without notes, or with notes outside octaves 0..8.
        """
        parts = [t for t in score.tracks if not t.is_drum and len(t.notes)]
        if not parts:
            raise EncodingError("the score has no pitched notes")
        end = float(max(score.seconds(t.notes["end"]).max() for t in parts))
        frames = max(1, int(np.ceil(end / FRAME_SECONDS)))
        times = (np.arange(frames) + 0.5) * FRAME_SECONDS
        midi = np.full((frames, len(parts)), SILENT, np.int16)
        velocity = np.zeros((frames, len(parts)), np.int16)
        for p, track in enumerate(parts):
            notes = track.notes
            if notes["pitch"].min() < 12 or notes["pitch"].max() > 119:
                raise EncodingError(f"part {p + 1} ({track.name or 'unnamed'}) has notes outside octaves 0-8 (MIDI 12-119)")
            starts, ends = score.seconds(notes["start"]), score.seconds(notes["end"])
            sounding = (times[:, None] >= starts[None, :]) & (times[:, None] < ends[None, :])
            count = sounding.sum(1)
            first = sounding.argmax(1)
            midi[count == 1, p] = notes["pitch"][first[count == 1]]
            velocity[count == 1, p] = notes["velocity"][first[count == 1]]
            midi[count > 1, p] = POLYPHONIC
        sounding = midi >= 0
        return {
            "octave": np.where(sounding, octave_of(midi), midi).astype(np.int16),
            "pitch": np.where(sounding, pitch_class_of(midi), midi).astype(np.int16),
            "dynamics": np.where(sounding, dynamics_of(velocity), midi).astype(np.int16),
            "midi": midi,
        }

    def decode(self, labels: dict[str, np.ndarray], instruments: list[str] | None = None) -> Score:
        """Per-frame labels -> Score with one track per part; runs of equal labels become one note.

        Args:
            labels: dict with "octave", "pitch", "dynamics": int arrays [frames] or [frames, parts];
                negative values (silent, polyphonic) and out-of-range classes are rests. A data-set
                piece's "instrument" (index into `self.instruments`) names its one part.
            instruments: the instrument of each part (a model's `--instruments`, often a subset of
                the data set's). Default: the piece's own instrument, else the data set's in order.
        """
        arrays = [np.asarray(labels.get(key, ()), np.int64) for key in LABELS]
        arrays = [a[:, None] if a.ndim == 1 else a for a in arrays]
        if not arrays[0].size or any(a.shape != arrays[0].shape for a in arrays):
            return Score()
        octave, pitch, dynamics = arrays
        if instruments is None:
            index = np.asarray(labels.get("instrument", ()), np.int64).reshape(-1)
            instruments = [self.instruments[index[0]]] if index.size and octave.shape[1] == 1 else self.instruments
        valid = ((octave >= 0) & (octave < 9) & (pitch >= 0) & (pitch < 12) & (dynamics >= 0) & (dynamics < 5))
        midi = np.where(valid, midi_of(octave, pitch), -1)
        velocity = np.asarray(VELOCITIES)[np.clip(dynamics, 0, 4)]
        resolution, ticks_per_frame = 480, FRAME_SECONDS * 960  # 120 qpm: 960 ticks a second
        tracks = []
        for p in range(midi.shape[1]):
            name = instruments[p] if p < len(instruments) else f"part {p + 1}"
            program = INSTRUMENTS[name][0] if name in INSTRUMENTS else 0
            column = midi[:, p]
            change = np.flatnonzero(np.diff(np.concatenate([[-9], column, [-9]])) != 0)
            starts, ends = change[:-1], change[1:]
            keep = column[starts] >= 0
            starts, ends = starts[keep], ends[keep]
            notes = make_notes(column[starts], np.round(starts * ticks_per_frame), np.round(ends * ticks_per_frame),
                               velocity[starts, p])
            tracks.append(Track(name=name, program=program, notes=notes))
        return Score(resolution=resolution, tracks=tracks)
