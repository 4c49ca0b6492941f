"""lstmprovisor's lead-sheet encodings (specs/lstmprovisor.md §2.3, §3): pure numpy.

Stored piece (what `encode` returns and prepare.py pickles), 48 steps per 4/4 bar, time first:
    "pitch"  int16 [T]      MIDI pitch sounding at the step, -1 = rest (unfolded)
    "onset"  uint8 [T]      1 where a note starts
    "root"   int8  [T]      chord root 0-11 (a slash chord's bass; 0 for NC)
    "chord"  uint8 [T, 12]  chord type relative to the root (all zeros for NC)
Quantisation: the Score is exact at Impro-Visor's 480 slots a whole note; onsets and ends are
rounded to the nearest step (10 slots) on their absolute times, so 32nd notes and quintuplets never
drift; a note that rounds to no step is dropped. Only 4/4 scores are encoded (the grid and the
beat features assume 48-step 4/4 bars): other meters are an EncodingError, skipped by prepare.

The four registered encodings share that stored form and differ in what the model sees:
    abs   one expert "abs"       target [rest, sustain, MIDI 48..84] (39)
    cot   one expert "cot"       circle-of-thirds, target over MIDI 48..83 (38)
    rel   one expert "interval"  target 39
    poex  experts "interval" and "chord" (+ "rhythm" with --separate_rhythm), target 39
Output index convention (every expert's distribution): 0 = rest, 1 = sustain, 2 + k = MIDI low + k.
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from zoo.encodings.base import Encoding, register_encoding
from zoo.errors import EncodingError
from zoo.music.chords import chord_root_and_type
from zoo.music.score import ChordSymbol, Score, TimeSignature, Track, make_notes

STEPS_PER_BAR = 48
TICKS_PER_STEP = 10  # at zoo.music.leadsheet.LS_RESOLUTION (120 per quarter)
LS_RESOLUTION = 120
LOW, HIGH = 48, 85  # MIDI range of abs/rel/poex; cot uses (48, 84)
COT_HIGH = 84
WINDOW_RADIUS = 12
DEFAULT_START_POSITION = 72
EPSILON = np.finfo(np.float32).eps
BEAT_PERIODS = (48, 24, 12, 6, 3, 16, 8, 4, 2)
# Width of each expert's encoded note (its `last_output` input) and raw output.
ENCODING_WIDTH = {"abs": 39, "cot": 13, "interval": 27, "chord": 14, "rhythm": 3}
USES_POSITION = {"abs": False, "cot": False, "interval": True, "chord": True, "rhythm": True}


# ---------------------------------------------------------------- Score -> grid
def score_to_grid(score: Score) -> dict[str, np.ndarray]:
    """The stored piece of a Score with chord symbols (see the module docstring); EncodingError if unusable."""
    for signature in score.time_signatures:
        if (signature.numerator, signature.denominator) != (4, 4):
            raise EncodingError(f"meter {signature.numerator}/{signature.denominator}: the lead-sheet models "
                                "need 4/4 (48 steps a bar)")
    if not score.chords:
        raise EncodingError("no chord symbols: the lead-sheet models need chord changes")
    if score.resolution != LS_RESOLUTION:
        score = score.resampled(LS_RESOLUTION)
    melody = next((t for t in score.tracks if t.name == "melody"), None) or next(
        (t for t in score.tracks if not t.is_drum and len(t.notes)), None)
    notes = melody.notes if melody is not None else make_notes()
    end_tick = max(int(score.metadata.get("end_tick", 0) or 0), score.end, max(c.time for c in score.chords) + 1)
    num_steps = -(-round(end_tick / TICKS_PER_STEP) // STEPS_PER_BAR) * STEPS_PER_BAR
    pitch = np.full(num_steps, -1, dtype=np.int16)
    onset = np.zeros(num_steps, dtype=np.uint8)
    starts = np.round(notes["start"] / TICKS_PER_STEP).astype(np.int64)
    ends = np.round(notes["end"] / TICKS_PER_STEP).astype(np.int64)
    # Sorted by start then pitch: a later (or higher, for chords in a melody) note overwrites.
    for note_pitch, start, stop in zip(notes["pitch"], starts, np.minimum(ends, num_steps)):
        if stop > start:
            pitch[start:stop] = note_pitch
            onset[start] = 1
            onset[start + 1:stop] = 0
    onset[(pitch < 0)] = 0
    ordered = sorted(score.chords, key=lambda c: c.time)
    times = np.array([c.time for c in ordered])
    index = np.searchsorted(times, np.arange(num_steps) * TICKS_PER_STEP, side="right") - 1
    roots, types = [], []
    for chord in ordered:
        if not chord.pitch_classes:
            roots.append(0)
            types.append(np.zeros(12, np.uint8))
            continue
        absolute = np.zeros(12, np.uint8)
        absolute[[p % 12 for p in chord.pitch_classes]] = 1
        root, vector = chord_root_and_type(chord.root % 12, absolute, chord.bass)
        roots.append(root)
        types.append(vector)
    roots = np.array(roots + [0], dtype=np.int8)  # index -1 (before the first chord) = NC
    types = np.stack(types + [np.zeros(12, np.uint8)])
    return {"pitch": pitch, "onset": onset, "root": roots[index], "chord": types[index]}


def grid_to_score(indices: np.ndarray, roots: np.ndarray, chords: np.ndarray, low: int = LOW,
                  title: str = "") -> Score:
    """A generated melody (output indices [T]) over its chords ([T] roots, [T, 12] types) -> Score.

    1 extends the previous note (at step 0, or after a rest, it is read as a rest); consecutive 0s are a rest.
    """
    pitches, starts, ends = [], [], []
    for step, index in enumerate(np.asarray(indices).tolist()):
        if index >= 2:
            pitches.append(low + index - 2)
            starts.append(step)
            ends.append(step + 1)
        elif index == 1 and ends and ends[-1] == step:
            ends[-1] = step + 1
    scale = TICKS_PER_STEP
    notes = make_notes(pitches, np.array(starts, np.int64) * scale, np.array(ends, np.int64) * scale)
    chord_symbols: list[ChordSymbol] = []
    for step in range(len(roots)):
        root = int(roots[step])
        absolute = tuple(sorted(int((i + root) % 12) for i in np.flatnonzero(chords[step])))
        if chord_symbols and (chord_symbols[-1].root, chord_symbols[-1].pitch_classes) == (root, absolute):
            continue
        chord_symbols.append(ChordSymbol(step * scale, root, absolute))
    return Score(resolution=LS_RESOLUTION, tracks=[Track(name="melody", program=0, notes=notes)],
                 time_signatures=[TimeSignature(0, 4, 4)], chords=chord_symbols,
                 metadata={"title": title, "end_tick": str(len(roots) * scale)})


def window(piece: dict[str, np.ndarray], start: int, length: int) -> dict[str, np.ndarray]:
    """Steps [start, start + length) of a stored piece; a note sounding at the start becomes an onset there."""
    part = {key: value[start:start + length] for key, value in piece.items()}
    part["onset"] = part["onset"].copy()
    part["onset"][0] = part["pitch"][0] >= 0
    return part


# ---------------------------------------------------------------- per-step parts (spec §2.3)
def fold(pitch: np.ndarray, low: int = LOW, high: int = HIGH) -> np.ndarray:
    """Moves each pitch by octaves until low <= pitch < high; rests (-1) stay -1."""
    pitch = np.asarray(pitch, dtype=np.int64)
    up = np.where(pitch < low, -(-(low - pitch) // 12), 0)
    down = np.where(pitch >= high, -(-(pitch - high + 1) // 12), 0)
    return np.where(pitch < 0, -1, pitch + 12 * up - 12 * down)


def targets(pitch: np.ndarray, onset: np.ndarray, low: int = LOW, high: int = HIGH) -> np.ndarray:
    """Absolute target index per step: 0 rest, 1 sustain, 2 + (pitch - low) at an onset (after folding)."""
    folded = fold(pitch, low, high)
    return np.where(folded < 0, 0, np.where(np.asarray(onset) > 0, folded - low + 2, 1)).astype(np.int32)


def beat(num_steps: int) -> np.ndarray:
    """[T, 9] float32: 1 where t is a multiple of 48, 24, 12, 6, 3, 16, 8, 4, 2 (t from the segment start)."""
    t = np.arange(num_steps)[:, None]
    return (t % np.array(BEAT_PERIODS)[None, :] == 0).astype(np.float32)


def position(pos: np.ndarray, low: int = LOW, high: int = HIGH) -> np.ndarray:
    """[..., 2] float32: max(0, 1 - |pos - (low, high)| / (high - low)); [0, 0] for a chord root."""
    pos = np.asarray(pos, dtype=np.float32)[..., None]
    return np.maximum(0.0, 1.0 - np.abs(pos - np.array([low, high], np.float32)) / (high - low)).astype(np.float32)


def chord_shift(pos: np.ndarray, root: np.ndarray, chord: np.ndarray) -> np.ndarray:
    """[T, 12] float32: out[i] = 1 iff pitch class (pos + i) mod 12 is a chord tone."""
    index = (np.arange(12)[None, :] + np.asarray(pos)[:, None] - np.asarray(root)[:, None]) % 12
    return np.take_along_axis(np.asarray(chord), index, axis=1).astype(np.float32)


# ---------------------------------------------------------------- the experts' note encodings (spec §3)
def interval_encoding(target: np.ndarray, start_pos: int, low: int = LOW) -> tuple[np.ndarray, np.ndarray]:
    """(index [T] into [rest, continue, jump -12..+12], position before each step [T]) of the interval expert.

    A jump of more than an octave is wrapped in the index (delta mod 12, keeping its sign) while the
    position follows the real note.
    """
    encoded = np.zeros(len(target), dtype=np.int32)
    positions = np.zeros(len(target), dtype=np.int32)
    cur = int(start_pos)
    for t, index in enumerate(np.asarray(target).tolist()):
        positions[t] = cur
        if index >= 2:
            note = index - 2 + low
            delta = note - cur
            if abs(delta) > WINDOW_RADIUS:
                delta = delta % 12 if delta > 0 else -((-delta) % 12)
            encoded[t] = 2 + WINDOW_RADIUS + delta
            cur = note
        else:
            encoded[t] = index
    return encoded, positions


def chord_relative_encoding(target: np.ndarray, root: np.ndarray, low: int = LOW) -> np.ndarray:
    """Index [T] into [rest, continue, pitch class relative to the root 0..11] of the chord expert."""
    target = np.asarray(target)
    return np.where(target >= 2, 2 + (target - 2 + low - np.asarray(root)) % 12, target).astype(np.int32)


def cot_vectors(target: np.ndarray, low: int = LOW) -> np.ndarray:
    """[T, 13] float32 circle-of-thirds encoding: [rest, sustain, play | pc mod 4 | pc mod 3 | octave]."""
    target = np.asarray(target)
    out = np.zeros((len(target), 13), dtype=np.float32)
    out[np.arange(len(target)), np.minimum(target, 2)] = 1
    played = np.flatnonzero(target >= 2)
    midi = target[played] - 2 + low
    out[played, 3 + midi % 12 % 4] = 1
    out[played, 7 + midi % 12 % 3] = 1
    out[played, 10 + (midi - low) // 12] = 1
    return out


def start_position(target: np.ndarray, offset: int, low: int = LOW) -> int:
    """The interval expert's start: first note of the segment (72 if none) + offset (spec: U{-12..12} in training)."""
    notes = np.asarray(target)[np.asarray(target) >= 2]
    return int((notes[0] - 2 + low) if len(notes) else DEFAULT_START_POSITION) + int(offset)


def expert_features(kind: str, target: np.ndarray, root: np.ndarray, chord: np.ndarray, offset: int = 0,
                    low: int = LOW, high: int = HIGH) -> tuple[np.ndarray, np.ndarray]:
    """Teacher-forced inputs of one expert: (features [T, F] float32, position [T] int32).

    F = 9 beat [+ 2 position] + 12 chord shift + ENCODING_WIDTH[kind] (abs 60, cot 34, interval 50,
    chord 37, rhythm 26). `target` is in the expert's own range (cot: 48..83); `offset` moves the
    interval expert's start position.
    """
    context, current, pos = expert_parts(kind, target, root, chord, offset, low, high)
    last = np.concatenate([initial_encoded_form(kind, low), current[:-1]])
    return np.concatenate([context, last], axis=1), pos


def initial_encoded_form(kind: str, low: int = LOW) -> np.ndarray:
    """[1, ENCODING_WIDTH[kind]] float32: the `last_output` before step 0, a rest."""
    if kind == "cot":
        return cot_vectors(np.zeros(1, np.int32), low)
    return np.eye(ENCODING_WIDTH[kind], dtype=np.float32)[:1]


def expert_parts(kind: str, target: np.ndarray, root: np.ndarray, chord: np.ndarray, offset: int = 0,
                 low: int = LOW, high: int = HIGH) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(context [T, 9 (+ 2) + 12], current note [T, ENCODING_WIDTH[kind]], position [T] int32) of one expert.

    context = beat [+ position] + chord shift; `current` is the expert's encoding of the note at each
    step itself (the compressing autoencoder's `cur_input`; shifted by one step it is `last_output`).
    """
    num_steps = len(target)
    root = np.asarray(root, dtype=np.int32)
    if kind == "abs":
        pos, encoded = np.zeros(num_steps, np.int32), target
    elif kind == "cot":
        pos, encoded = np.zeros(num_steps, np.int32), None
    elif kind == "interval":
        encoded, pos = interval_encoding(target, start_position(target, offset, low), low)
    elif kind == "chord":
        pos, encoded = root, chord_relative_encoding(target, root, low)
    elif kind == "rhythm":
        pos, encoded = root, np.minimum(target, 2)
    else:
        raise ValueError(f"unknown expert '{kind}'")
    if kind == "cot":
        current = cot_vectors(target, low)
    else:
        current = np.eye(ENCODING_WIDTH[kind], dtype=np.float32)[np.asarray(encoded)]
    parts = [beat(num_steps)]
    if USES_POSITION[kind]:
        parts.append(position(pos, low, high))
    parts.append(chord_shift(pos, root, chord))
    return np.concatenate(parts, axis=1), current, np.asarray(pos).astype(np.int32)


# ---------------------------------------------------------------- the loss, in numpy (evaluation)
def nll(probs: np.ndarray, target: np.ndarray) -> float:
    """Summed negative log-likelihood: -sum log(p[target] + eps)."""
    picked = np.take_along_axis(probs, np.asarray(target)[..., None], axis=-1)[..., 0]
    return float(-np.log(picked + EPSILON).sum())


# ---------------------------------------------------------------- the registered encodings
class LeadSheetEncoding(Encoding):
    """Base of abs, cot, rel and poex: the stored piece is the same 48-a-bar grid for all four."""

    experts: ClassVar[tuple[str, ...]]
    low: ClassVar[int] = LOW
    high: ClassVar[int] = HIGH

    @property
    def vocab_size(self) -> int:
        """Width of the output distribution: rest, sustain and one entry per pitch."""
        return 2 + self.high - self.low

    def encode(self, score: Score) -> dict[str, np.ndarray]:
        """Score -> {"pitch", "onset", "root", "chord"} at 48 steps a bar (see the module docstring)."""
        return score_to_grid(score)

    def decode(self, tokens: Any) -> Score:
        """A stored piece (dict) -> Score with its melody and chords; anything else -> an empty Score."""
        if isinstance(tokens, dict) and {"pitch", "onset", "root", "chord"} <= set(tokens):
            target = targets(tokens["pitch"], tokens["onset"], 0, 128)
            return grid_to_score(target, tokens["root"], tokens["chord"], low=0)
        return Score()

    def batch(self, windows: list[dict[str, np.ndarray]], offsets: np.ndarray,
              experts: tuple[str, ...] | None = None, with_current: bool = False
              ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Model inputs {"<expert>_features" [B, T, F], "<expert>_pos" [B, T]} and targets [B, T] of some windows.

        `offsets` [B]: the interval expert's random start offsets (spec: U{-12..12}, redrawn every batch).
        `with_current`: also "<expert>_current" [B, T, ENCODING_WIDTH], each step's own note (the
        autoencoder's encoder input).
        """
        experts = experts or self.experts
        inputs: dict[str, list] = {}
        all_targets = []
        for piece, offset in zip(windows, offsets):
            target = targets(piece["pitch"], piece["onset"], self.low, self.high)
            all_targets.append(target)
            for kind in experts:
                context, current, pos = expert_parts(kind, target, piece["root"], piece["chord"], int(offset),
                                                     self.low, self.high)
                last = np.concatenate([initial_encoded_form(kind, self.low), current[:-1]])
                inputs.setdefault(f"{kind}_features", []).append(np.concatenate([context, last], axis=1))
                inputs.setdefault(f"{kind}_pos", []).append(pos)
                if with_current:
                    inputs.setdefault(f"{kind}_current", []).append(current)
        return {k: np.stack(v) for k, v in inputs.items()}, np.stack(all_targets).astype(np.int32)


@register_encoding
class AbsoluteEncoding(LeadSheetEncoding):
    """`abs`: one-hot of the absolute index (39 wide), softmax output."""

    name = "abs"
    experts = ("abs",)


@register_encoding
class CircleOfThirdsEncoding(LeadSheetEncoding):
    """`cot`: Franklin's circles of thirds (13 wide), MIDI 48..83."""

    name = "cot"
    experts = ("cot",)
    high = COT_HIGH


@register_encoding
class IntervalEncoding(LeadSheetEncoding):
    """`rel`: the interval expert alone (jumps of at most an octave from the previous note)."""

    name = "rel"
    experts = ("interval",)


@register_encoding
class ProductOfExpertsEncoding(LeadSheetEncoding):
    """`poex`: the interval expert and the chord expert (plus the rhythm expert with --separate_rhythm)."""

    name = "poex"
    experts = ("interval", "chord")


LEADSHEET_ENCODINGS = ("abs", "cot", "rel", "poex")
