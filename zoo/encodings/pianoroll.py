"""The `pianoroll` encoding: a binary piano-roll of whole bars, time first.

`encode(score)` -> uint8 [T, P]: row t is the step of 1/`steps_per_beat` quarter notes starting at
t, column p is MIDI pitch `lowest_pitch + p`; 1 where the pitch sounds. Every non-drum track is
merged into one roll. T is padded with silence to whole bars of `beats_per_bar` quarter notes,
counted from the score's tick 0 (a pickup bar therefore shifts the bar grid: the Score keeps no
bar lines to correct it). The GAN cuts training samples of `bars_per_sample` bars from it.

No TensorFlow here: pure numpy.
"""
from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from zoo.encodings.base import Encoding, register_encoding
from zoo.errors import EncodingError, UsageError
from zoo.music.score import DEFAULT_RESOLUTION, Score, Tempo, TimeSignature, Track, make_notes

OUT_OF_RANGE = ("drop", "octave")
MAX_STEPS = 1_000_000  # a longer roll is refused rather than allocated
DECODE_VELOCITY = 80
DECODE_QPM = 100.0  # a moderate chorale tempo for the decoded score


@register_encoding
class PianorollEncoding(Encoding):
    """Binary piano-roll of whole bars (see the module docstring).

    Resolution: onsets and ends are rounded to the nearest step (half up); a note shorter than
    half a step lasts one step. Velocities, tempo and the tracks a note came from are not kept.
    A binary roll cannot tell a held note from a note struck again at the same pitch right after
    another, so `decode` merges consecutive active steps into one note: repeated notes of one pitch
    with no rest between them come back as one long note (the usual piano-roll limitation).
    `encode(decode(roll)) == roll` for any roll of whole bars.

    Args:
        lowest_pitch: int = 36. MIDI pitch of column 0 (C2, below the chorales' lowest bass note).
        num_pitches: int = 48. Columns, so pitches lowest_pitch .. lowest_pitch + 47 (C2..B5, the
            Bach chorales' range).
        steps_per_beat: int = 4. Steps per quarter note (4: sixteenth notes).
        beats_per_bar: int = 4. Quarter notes per bar; one fixed bar length for all pieces, because
            the GAN needs samples of one size.
        bars_per_sample: int = 2. Bars in each training sample the GAN cuts from a piece.
        out_of_range: str = "drop". Notes outside the pitch range: "drop" leaves them out;
            "octave" moves them by whole octaves into the range (keeps the harmony, changes voicing).
        allow_other_meters: bool = False. By default `encode` refuses (EncodingError, so
            `prepare` skips the file with the reason) a score whose time signature gives another
            bar length than `beats_per_bar` quarters, so samples start on bar lines; True encodes
            such scores on the `beats_per_bar` grid anyway. Scores without a time signature are
            taken as 4/4 (the MIDI default).
    """

    name = "pianoroll"

    def __init__(self, lowest_pitch: int = 36, num_pitches: int = 48, steps_per_beat: int = 4,
                 beats_per_bar: int = 4, bars_per_sample: int = 2, out_of_range: str = "drop",
                 allow_other_meters: bool = False):
        for label, value in [("num_pitches", num_pitches), ("steps_per_beat", steps_per_beat),
                             ("beats_per_bar", beats_per_bar), ("bars_per_sample", bars_per_sample)]:
            if int(value) < 1:
                raise UsageError(f"pianoroll {label} must be at least 1 (got {value})")
        if not (0 <= int(lowest_pitch) and int(lowest_pitch) + int(num_pitches) <= 128):
            raise UsageError(
                f"pianoroll pitches {lowest_pitch}..{int(lowest_pitch) + int(num_pitches) - 1} "
                "must lie in MIDI 0..127 (check --lowest_pitch and --num_pitches)"
            )
        if out_of_range not in OUT_OF_RANGE:
            raise UsageError(f"pianoroll out_of_range must be one of {', '.join(OUT_OF_RANGE)} (got '{out_of_range}')")
        if out_of_range == "octave" and int(num_pitches) < 12:
            raise UsageError(f"out_of_range 'octave' needs at least 12 pitches (got num_pitches {num_pitches})")
        self.lowest_pitch = int(lowest_pitch)
        self.num_pitches = int(num_pitches)
        self.steps_per_beat = int(steps_per_beat)
        self.beats_per_bar = int(beats_per_bar)
        self.bars_per_sample = int(bars_per_sample)
        self.out_of_range = out_of_range
        self.allow_other_meters = bool(allow_other_meters)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PianorollEncoding) and self.to_config() == other.to_config()

    def __repr__(self) -> str:
        return f"PianorollEncoding({', '.join(f'{k}={v!r}' for k, v in self.to_config().items() if k != 'name')})"

    @property
    def vocab_size(self) -> int:
        """Width of a frame (pitches); a piano-roll has no token vocabulary."""
        return self.num_pitches

    @property
    def steps_per_bar(self) -> int:
        return self.steps_per_beat * self.beats_per_bar

    @property
    def steps_per_sample(self) -> int:
        return self.steps_per_bar * self.bars_per_sample

    def to_config(self) -> dict[str, Any]:
        return {"name": self.name, "lowest_pitch": self.lowest_pitch, "num_pitches": self.num_pitches,
                "steps_per_beat": self.steps_per_beat, "beats_per_bar": self.beats_per_bar,
                "bars_per_sample": self.bars_per_sample, "out_of_range": self.out_of_range,
                "allow_other_meters": self.allow_other_meters}

    @classmethod
    def add_arguments(cls, parser: argparse._ArgumentGroup) -> None:
        parser.add_argument("--lowest_pitch", type=int, default=36, help="MIDI pitch of the lowest row (default C2)")
        parser.add_argument("--num_pitches", type=int, default=48, help="pitches in the roll (default 48: C2..B5)")
        parser.add_argument("--steps_per_beat", type=int, default=4, help="time steps per quarter note")
        parser.add_argument("--beats_per_bar", type=int, default=4, help="quarter notes per bar")
        parser.add_argument("--bars_per_sample", type=int, default=2, help="bars in each GAN training sample")
        parser.add_argument("--out_of_range", choices=OUT_OF_RANGE, default="drop",
                            help="notes outside the range: drop them, or move them by octaves into it")
        parser.add_argument("--allow_other_meters", action="store_true",
                            help="also encode scores whose bars are not --beats_per_bar quarters long")

    # ------------------------------------------------------------------ encode
    def _check_meter(self, score: Score) -> None:
        if self.allow_other_meters:
            return
        for sig in score.time_signatures:
            quarters = sig.numerator * 4 / sig.denominator
            if quarters != self.beats_per_bar:
                raise EncodingError(
                    f"time signature {sig.numerator}/{sig.denominator} does not make bars of {self.beats_per_bar} "
                    "quarter notes (prepare with --beats_per_bar to match, or --allow_other_meters)"
                )

    def encode(self, score: Score) -> np.ndarray:
        """Score -> uint8 [T, num_pitches], T a whole number of bars (see the class docstring).

        Raises:
            EncodingError: no note left in the pitch range, a bar length that does not match
                (unless `allow_other_meters`), or a roll longer than 1,000,000 steps.
        """
        self._check_meter(score)
        notes = score.all_notes()
        notes = notes[notes["velocity"] > 0]
        pitch = notes["pitch"].astype(np.int64) - self.lowest_pitch
        if self.out_of_range == "octave":
            pitch = np.where(pitch < 0, pitch % 12, pitch)
            top = self.num_pitches - 12 + (pitch - (self.num_pitches - 12)) % 12
            pitch = np.where(pitch >= self.num_pitches, top, pitch)
        keep = (pitch >= 0) & (pitch < self.num_pitches)
        if not keep.any():
            high = self.lowest_pitch + self.num_pitches - 1
            raise EncodingError(f"no notes in the piano-roll range {self.lowest_pitch}..{high}")
        notes, pitch = notes[keep], pitch[keep]
        ticks_per_step = score.resolution / self.steps_per_beat
        on = np.floor(notes["start"] / ticks_per_step + 0.5).astype(np.int64)
        end = np.maximum(np.floor(notes["end"] / ticks_per_step + 0.5).astype(np.int64), on + 1)
        steps = -(-int(end.max()) // self.steps_per_bar) * self.steps_per_bar
        if steps > MAX_STEPS:
            raise EncodingError(f"a piano-roll of {steps} steps is longer than the {MAX_STEPS} step limit")
        # +1 at each onset, -1 at each end; a running sum > 0 is a sounding pitch (overlaps add up).
        change = np.zeros((steps + 1, self.num_pitches), np.int32)
        np.add.at(change, (on, pitch), 1)
        np.add.at(change, (end, pitch), -1)
        return (np.cumsum(change, axis=0)[:steps] > 0).astype(np.uint8)

    # ------------------------------------------------------------------ decode
    def decode(self, roll: np.ndarray) -> Score:
        """[T, P] (or [T, P, 1]) roll -> a one-track piano Score at resolution 480. Never raises.

        A step is active where the value is > 0.5 (so bool, 0/1 integers and probabilities all
        work); each run of consecutive active steps of one pitch is one note, velocity 80. The
        score has a `beats_per_bar`/4 time signature and 100 qpm. Input that is not a 2-D roll
        after dropping a trailing axis of size 1, or whose width is not `num_pitches`, gives an
        empty score.
        """
        # 480 ticks a quarter when a step is a whole number of them, else one tick a step.
        resolution = DEFAULT_RESOLUTION if DEFAULT_RESOLUTION % self.steps_per_beat == 0 else self.steps_per_beat
        ticks_per_step = resolution // self.steps_per_beat
        score = Score(resolution=resolution, tempos=[Tempo(0, DECODE_QPM)],
                      time_signatures=[TimeSignature(0, self.beats_per_bar, 4)])
        try:
            active = np.asarray(roll, dtype=np.float64) > 0.5
        except (TypeError, ValueError):
            active = np.zeros((0, self.num_pitches), bool)
        if active.ndim == 3 and active.shape[-1] == 1:
            active = active[..., 0]
        if active.ndim != 2 or active.shape[1] != self.num_pitches:
            active = np.zeros((0, self.num_pitches), bool)
        # Transitions along time per pitch: +1 starts a note, -1 ends it. nonzero() walks pitch-major,
        # so the k-th start and the k-th end of one pitch pair up.
        padded = np.zeros((self.num_pitches, active.shape[0] + 2), np.int8)
        padded[:, 1:-1] = active.T
        change = np.diff(padded, axis=1)
        on_pitch, on_step = np.nonzero(change == 1)
        _, end_step = np.nonzero(change == -1)
        notes = make_notes(on_pitch + self.lowest_pitch, on_step * ticks_per_step, end_step * ticks_per_step,
                           np.full(len(on_pitch), DECODE_VELOCITY))
        score.tracks.append(Track(name="Piano", program=0, notes=notes))
        return score
