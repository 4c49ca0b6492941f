"""The `multitrack` encoding: MultINN's multi-track binary piano-roll, packed into model steps.

`encode(score)` -> uint8 [T, S·P, K]: K tracks chosen by a track map, P pitches
`lowest_pitch .. highest_pitch - 1`, frames of 1/`steps_per_beat` quarter notes, and S =
`steps_per_model_step` consecutive frames packed into one model step, frame-major inside the step
(column `q = f·P + p` for frame f of the step and pitch p; specs/multinn.md §1.2). T is padded with
silence to whole model steps. MultINN's defaults: five tracks (drums, piano, guitar, bass, strings)
by General MIDI program family, pitches 24..107, 12 frames a beat, 3 frames a model step (252 dims a
track), 16-beat training sequences.

Track maps (`track_map`):
    musegan   drums (every drum track), piano (programs 0-23: piano, chromatic percussion, organ),
              guitar (24-31), bass (32-39), strings (40-127: strings, ensembles and every other
              pitched family, so no pitched note is lost); decoded with MultINN's programs 0, 0,
              24, 32, 48.
    parts:N   one track per part, the score's first N tracks in order (Bach's four voices:
              parts:4; Nottingham's melody and chords: parts:2). A score with another number of
              non-empty parts is refused (prepare lists it as skipped).
    custom    space- or ';'-separated `NAME=RANGES[@PROGRAM]` entries, RANGES a comma list of
              programs `a` or `a-b` (0-127), or the word `drums`; e.g.
              `drums=drums piano=0-7 bass=32-39@33`. Tracks of programs no entry names are dropped.

No TensorFlow here: pure numpy.
"""
from __future__ import annotations

import argparse
import dataclasses
import re
from typing import Any, Sequence

import numpy as np

from zoo.encodings.base import Encoding, register_encoding
from zoo.errors import EncodingError, UsageError
from zoo.music.score import DEFAULT_RESOLUTION, Score, Tempo, TimeSignature, Track, make_notes

MAX_STEPS = 1_000_000  # a longer roll is refused rather than allocated
DECODE_VELOCITY = 100
DECODE_QPM = 120.0  # MultINN writes its samples at 120 qpm
DRUMS = "drums"


@dataclasses.dataclass(frozen=True)
class TrackSpec:
    """One output track: its name, the GM programs (or drum tracks) it collects, the program and velocity it decodes to."""

    name: str
    programs: tuple[int, ...] = ()
    drums: bool = False
    program: int = 0
    velocity: int = DECODE_VELOCITY


# Velocities as MultINN writes its samples: 100, scaled x0.8 for piano, x0.9 strings, x1.2 bass.
MUSEGAN_TRACKS = (
    TrackSpec("Drums", drums=True, program=0),
    TrackSpec("Piano", tuple(range(0, 24)), program=0, velocity=80),
    TrackSpec("Guitar", tuple(range(24, 32)), program=24),
    TrackSpec("Bass", tuple(range(32, 40)), program=32, velocity=120),
    TrackSpec("Strings", tuple(range(40, 128)), program=48, velocity=90),
)


def _parse_programs(text: str, entry: str) -> tuple[int, ...]:
    programs: list[int] = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not match:
            raise UsageError(f"track map entry '{entry}': '{part}' is not a program or a range a-b (programs 0-127)")
        low, high = int(match.group(1)), int(match.group(2) or match.group(1))
        if not 0 <= low <= high <= 127:
            raise UsageError(f"track map entry '{entry}': programs {low}-{high} are not General MIDI programs 0-127")
        programs.extend(range(low, high + 1))
    return tuple(sorted(set(programs)))


def parse_track_map(track_map: str | Sequence[str]) -> tuple[str, tuple[TrackSpec, ...] | int]:
    """The canonical text of a track map and either its track specs or, for `parts:N`, N.

    Raises:
        UsageError: an unknown preset, a malformed entry, or a program outside 0-127.
    """
    text = " ".join(track_map) if not isinstance(track_map, str) else track_map
    text = " ".join(text.replace(";", " ").split())
    if text.lower() == "musegan":
        return "musegan", MUSEGAN_TRACKS
    parts = re.fullmatch(r"parts(?::(\d+))?", text.lower())
    if parts:
        count = int(parts.group(1) or 4)
        if count < 1:
            raise UsageError(f"track map '{text}': at least one part")
        return f"parts:{count}", count
    if not text or "=" not in text:
        raise UsageError(f"unknown track map '{text}' (use musegan, parts:N, or NAME=PROGRAMS[@PROGRAM] entries)")
    specs: list[TrackSpec] = []
    for entry in text.split():
        name, _, rest = entry.partition("=")
        ranges, _, program = rest.partition("@")
        if not name or not ranges:
            raise UsageError(f"track map entry '{entry}' is not NAME=PROGRAMS[@PROGRAM]")
        if name in [spec.name for spec in specs]:
            raise UsageError(f"track map names track '{name}' twice")
        if program and not (program.isdigit() and int(program) <= 127):
            raise UsageError(f"track map entry '{entry}': output program '{program}' is not a GM program 0-127")
        if ranges.lower() == DRUMS:
            specs.append(TrackSpec(name, drums=True, program=int(program or 0)))
        else:
            programs = _parse_programs(ranges, entry)
            specs.append(TrackSpec(name, programs, program=int(program) if program else programs[0]))
    taken: dict[int, str] = {}
    for spec in specs:
        for program in spec.programs:
            if program in taken:
                raise UsageError(f"track map gives program {program} to both '{taken[program]}' and '{spec.name}'")
            taken[program] = spec.name
    if sum(spec.drums for spec in specs) > 1:
        raise UsageError("track map has more than one drums track")
    return " ".join(f"{s.name}={DRUMS if s.drums else _ranges_text(s.programs)}@{s.program}" for s in specs), tuple(specs)


def _ranges_text(programs: tuple[int, ...]) -> str:
    """(0, 1, 2, 5) -> "0-2,5"."""
    runs: list[list[int]] = []
    for program in programs:
        if runs and program == runs[-1][1] + 1:
            runs[-1][1] = program
        else:
            runs.append([program, program])
    return ",".join(f"{low}" if low == high else f"{low}-{high}" for low, high in runs)


@register_encoding
class MultitrackEncoding(Encoding):
    """Multi-track binary piano-roll packed into model steps (see the module docstring).

    Resolution: onsets and ends round to the nearest frame (half up); a note shorter than half a
    frame lasts one frame; velocities and tempo are not kept; notes of one track that overlap on one
    pitch merge, and `decode` turns each run of active frames into one note (repeated notes that touch
    come back as one). `encode(decode(roll)) == roll` for any roll of whole model steps.

    Args:
        track_map: str = "musegan". Which tracks (module docstring).
        lowest_pitch: int = 24. MIDI pitch of column 0 (C1, MultINN's).
        highest_pitch: int = 108. One above the top pitch (MultINN's range 24..107, 84 pitches).
        steps_per_beat: int = 12. Frames per quarter note (MultINN's beat resolution).
        steps_per_model_step: int = 3. Frames packed into one model step (MultINN's num_pixels).
        sample_beats: int = 16. Beats in each training sequence the model cuts (MultINN's piece_size).
    """

    name = "multitrack"

    def __init__(self, track_map: str | Sequence[str] = "musegan", lowest_pitch: int = 24, highest_pitch: int = 108,
                 steps_per_beat: int = 12, steps_per_model_step: int = 3, sample_beats: int = 16):
        for label, value in [("steps_per_beat", steps_per_beat), ("steps_per_model_step", steps_per_model_step),
                             ("sample_beats", sample_beats)]:
            if int(value) < 1:
                raise UsageError(f"multitrack {label} must be at least 1 (got {value})")
        if not 0 <= int(lowest_pitch) < int(highest_pitch) <= 128:
            raise UsageError(f"multitrack pitches {lowest_pitch}..{int(highest_pitch) - 1} must lie in MIDI 0..127 "
                             "(check --lowest_pitch < --highest_pitch <= 128)")
        if (int(sample_beats) * int(steps_per_beat)) % int(steps_per_model_step):
            raise UsageError(f"--sample_beats {sample_beats} x --steps_per_beat {steps_per_beat} frames must be a "
                             f"whole number of model steps of {steps_per_model_step} frames")
        self.track_map, self._tracks = parse_track_map(track_map)
        self.lowest_pitch, self.highest_pitch = int(lowest_pitch), int(highest_pitch)
        self.steps_per_beat, self.steps_per_model_step = int(steps_per_beat), int(steps_per_model_step)
        self.sample_beats = int(sample_beats)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MultitrackEncoding) and self.to_config() == other.to_config()

    def __repr__(self) -> str:
        return f"MultitrackEncoding({', '.join(f'{k}={v!r}' for k, v in self.to_config().items() if k != 'name')})"

    # ------------------------------------------------------------------ shape
    @property
    def num_pitches(self) -> int:
        return self.highest_pitch - self.lowest_pitch

    @property
    def num_dims(self) -> int:
        """Columns of one track's model step: steps_per_model_step · num_pitches."""
        return self.steps_per_model_step * self.num_pitches

    @property
    def num_tracks(self) -> int:
        return self._tracks if isinstance(self._tracks, int) else len(self._tracks)

    @property
    def vocab_size(self) -> int:
        """Width of one track's model step; a piano-roll has no token vocabulary."""
        return self.num_dims

    def beats_to_steps(self, beats: int) -> int:
        """Model steps in `beats` quarter notes, rounded up."""
        return -(-int(beats) * self.steps_per_beat // self.steps_per_model_step)

    @property
    def sample_steps(self) -> int:
        """Model steps of one training sequence."""
        return self.beats_to_steps(self.sample_beats)

    def track_specs(self) -> tuple[TrackSpec, ...]:
        """Name, drum flag and output program of each track (parts: Part 1..N, piano)."""
        if isinstance(self._tracks, int):
            return tuple(TrackSpec(f"Part {i + 1}", program=0) for i in range(self._tracks))
        return self._tracks

    def to_config(self) -> dict[str, Any]:
        return {"name": self.name, "track_map": self.track_map, "lowest_pitch": self.lowest_pitch,
                "highest_pitch": self.highest_pitch, "steps_per_beat": self.steps_per_beat,
                "steps_per_model_step": self.steps_per_model_step, "sample_beats": self.sample_beats}

    @classmethod
    def add_arguments(cls, parser: argparse._ArgumentGroup) -> None:
        parser.add_argument("--track_map", nargs="+", default="musegan",
                            help="musegan (drums, piano, guitar, bass, strings by GM program family), parts:N "
                                 "(one track per part), or NAME=PROGRAMS[@PROGRAM] entries, e.g. "
                                 "drums=drums piano=0-7 bass=32-39")
        parser.add_argument("--lowest_pitch", type=int, default=24, help="MIDI pitch of the lowest row (default C1)")
        parser.add_argument("--highest_pitch", type=int, default=108,
                            help="one above the highest pitch (default 108: 84 pitches)")
        parser.add_argument("--steps_per_beat", type=int, default=12, help="frames per quarter note")
        parser.add_argument("--steps_per_model_step", type=int, default=3,
                            help="frames packed into one model step (MultINN's num_pixels)")
        parser.add_argument("--sample_beats", type=int, default=16, help="beats in each training sequence")

    # ------------------------------------------------------------------ encode
    def _assign(self, score: Score) -> list[list[Track]]:
        """The score's tracks grouped by output track."""
        if isinstance(self._tracks, int):
            parts = [track for track in score.tracks if len(track.notes)]
            if len(parts) != self._tracks:
                raise EncodingError(f"{len(parts)} non-empty parts, the track map 'parts:{self._tracks}' needs "
                                    f"{self._tracks} (prepare with --track_map parts:{len(parts)})")
            return [[track] for track in parts]
        groups: list[list[Track]] = [[] for _ in self._tracks]
        for track in score.tracks:
            for index, spec in enumerate(self._tracks):
                if (track.is_drum and spec.drums) or (not track.is_drum and track.program in spec.programs):
                    groups[index].append(track)
                    break
        return groups

    def encode(self, score: Score) -> np.ndarray:
        """Score -> uint8 [T, num_dims, num_tracks], T whole model steps (see the class docstring).

        Raises:
            EncodingError: no note of any mapped track in the pitch range, a part count that does
                not match `parts:N`, or a roll longer than 1,000,000 frames.
        """
        groups = self._assign(score)
        ticks_per_frame = score.resolution / self.steps_per_beat
        per_track = []
        for tracks in groups:
            notes = np.concatenate([t.notes for t in tracks]) if tracks else make_notes()
            notes = notes[(notes["velocity"] > 0) & (notes["pitch"] >= self.lowest_pitch)
                          & (notes["pitch"] < self.highest_pitch)]
            on = np.floor(notes["start"] / ticks_per_frame + 0.5).astype(np.int64)
            end = np.maximum(np.floor(notes["end"] / ticks_per_frame + 0.5).astype(np.int64), on + 1)
            per_track.append((notes["pitch"].astype(np.int64) - self.lowest_pitch, on, end))
        ends = [int(end.max()) for _, _, end in per_track if len(end)]
        if not ends:
            raise EncodingError(f"no notes of any mapped track (track map '{self.track_map}') in the pitch range "
                                f"{self.lowest_pitch}..{self.highest_pitch - 1}")
        frames = -(-max(ends) // self.steps_per_model_step) * self.steps_per_model_step
        if frames > MAX_STEPS:
            raise EncodingError(f"a piano-roll of {frames} frames is longer than the {MAX_STEPS} frame limit")
        # +1 at each onset, -1 at each end; a running sum > 0 is a sounding pitch (overlaps add up).
        change = np.zeros((frames + 1, self.num_pitches, len(groups)), np.int32)
        for track, (pitch, on, end) in enumerate(per_track):
            np.add.at(change, (on, pitch, track), 1)
            np.add.at(change, (end, pitch, track), -1)
        roll = np.cumsum(change, axis=0)[:frames] > 0
        return self.pack(roll.astype(np.uint8))

    def pack(self, roll: np.ndarray) -> np.ndarray:
        """Frames [F, P, K] (F a multiple of steps_per_model_step) -> model steps [F/S, S·P, K], frame-major."""
        frames, pitches, tracks = roll.shape
        return roll.reshape(frames // self.steps_per_model_step, self.steps_per_model_step * pitches, tracks)

    def unpack(self, steps: np.ndarray) -> np.ndarray:
        """Model steps [T, S·P, K] -> frames [T·S, P, K] (the inverse of `pack`)."""
        count, _, tracks = steps.shape
        return steps.reshape(count * self.steps_per_model_step, self.num_pitches, tracks)

    # ------------------------------------------------------------------ decode
    def decode(self, roll: np.ndarray) -> Score:
        """[T, num_dims, num_tracks] model steps -> a Score with one Track per track. Never raises.

        A cell is active where the value is > 0.5; each run of active frames of one pitch of one
        track is one note, velocity 100 (musegan map: MultINN's 100, 80, 100, 120, 90 by track).
        Each track keeps its name, output program and drum flag
        (empty tracks included, so the track count is always `num_tracks`); 120 qpm, 4/4. Input of
        another shape gives a score of empty tracks.
        """
        resolution = DEFAULT_RESOLUTION if DEFAULT_RESOLUTION % self.steps_per_beat == 0 else self.steps_per_beat
        ticks_per_frame = resolution // self.steps_per_beat
        score = Score(resolution=resolution, tempos=[Tempo(0, DECODE_QPM)], time_signatures=[TimeSignature(0, 4, 4)])
        try:
            active = np.asarray(roll, dtype=np.float64) > 0.5
        except (TypeError, ValueError):
            active = np.zeros((0, self.num_dims, self.num_tracks), bool)
        if active.ndim == 2 and self.num_tracks == 1:
            active = active[..., None]
        if active.ndim != 3 or active.shape[1:] != (self.num_dims, self.num_tracks):
            active = np.zeros((0, self.num_dims, self.num_tracks), bool)
        frames = self.unpack(active)
        for index, spec in enumerate(self.track_specs()):
            # Transitions along time per pitch: +1 starts a note, -1 ends it; nonzero() walks pitch-major,
            # so the k-th start and the k-th end of one pitch pair up.
            padded = np.zeros((self.num_pitches, len(frames) + 2), np.int8)
            padded[:, 1:-1] = frames[:, :, index].T
            change = np.diff(padded, axis=1)
            on_pitch, on_frame = np.nonzero(change == 1)
            _, end_frame = np.nonzero(change == -1)
            notes = make_notes(on_pitch + self.lowest_pitch, on_frame * ticks_per_frame, end_frame * ticks_per_frame,
                               np.full(len(on_pitch), spec.velocity))
            score.tracks.append(Track(name=spec.name, program=spec.program, is_drum=spec.drums, notes=notes))
        return score
