"""MusPy's objective metrics as pure NumPy functions of a `Score` (specs/metrics.md §2).

Each function follows the code of MusPy (salu133445/muspy, `muspy/metrics/metrics.py`, commit
2e1dc66), not only its docstrings; where it deviates the docstring says so. A "beat" is a quarter
note. Drum tracks are skipped unless a docstring says otherwise. Metrics that depend on a time grid
(polyphony, drum patterns, groove) first put the score on `METRIC_RESOLUTION` ticks per quarter, so
numbers do not depend on the resolution a file happened to be written at.
"""
from __future__ import annotations

import math

import numpy as np

from zoo.music.pianoroll import pianoroll
from zoo.music.score import Score

METRIC_RESOLUTION = 24  # ticks per quarter note for the grid-dependent metrics (MuseGAN's 96 per 4/4 bar)

MAJOR_SCALE = np.array([1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1], dtype=bool)
MINOR_SCALE = np.array([1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0], dtype=bool)


def _pitches(score: Score) -> np.ndarray:
    """MIDI pitches (0-127) of the non-drum notes; anything outside MIDI's range is left out, as the piano roll does."""
    pitches = score.all_notes(include_drums=False)["pitch"].astype(np.int64)
    return pitches[(pitches >= 0) & (pitches < 128)]


def _entropy(counts: np.ndarray) -> float:
    """Shannon entropy in bits of a histogram; NaN for an empty one."""
    total = counts.sum()
    if total == 0:
        return math.nan
    prob = counts[counts > 0] / total
    return float(-(prob * np.log2(prob)).sum())


def quarters_per_bar(score: Score) -> float:
    """Bar length in quarter notes from the first time signature (4/4 when there is none).

    Assumes a constant meter, as MusPy's groove consistency and MuseGAN's bar-based metrics do.
    """
    if not score.time_signatures:
        return 4.0
    first = min(score.time_signatures, key=lambda signature: signature.time)
    return first.numerator * 4.0 / first.denominator


def measure_ticks(score: Score, resolution: int = METRIC_RESOLUTION) -> int:
    """Ticks per bar at `resolution` ticks per quarter (at least 1)."""
    return max(1, int(round(quarters_per_bar(score) * resolution)))


def pitch_range(score: Score) -> int:
    """max pitch - min pitch over non-drum notes; 0 if there are none.

    Deviation from MusPy: its emptiness check counts drum notes, so a drum-only file gives
    0 - 127 = -127 there; here it gives 0 like any score without pitched notes.
    """
    pitches = _pitches(score)
    return int(pitches.max() - pitches.min()) if len(pitches) else 0


def n_pitches_used(score: Score) -> int:
    """Number of distinct MIDI pitches among non-drum notes (0 if none)."""
    return int(len(np.unique(_pitches(score))))


def n_pitch_classes_used(score: Score) -> int:
    """Number of distinct pitch classes (pitch mod 12) among non-drum notes, in [0, 12]."""
    return int(len(np.unique(_pitches(score) % 12)))


def _roll(score: Score, resolution: int) -> np.ndarray:
    """MusPy's boolean piano roll of the non-drum notes [end of the last such note, 128] at `resolution`."""
    return pianoroll(score, steps_per_quarter=resolution, include_drums=False)


def polyphony(score: Score, resolution: int = METRIC_RESOLUTION) -> float:
    """Mean number of pitches sounding at once over the time steps where at least one sounds.

    `roll.sum() / #(steps with >= 1 active pitch)` on the non-drum boolean piano roll (two notes of
    the same pitch at the same step count once). NaN if there are no non-drum notes.
    """
    roll = _roll(score, resolution)
    sounding = int(np.count_nonzero(roll.any(axis=1)))
    return float(roll.sum() / sounding) if sounding else math.nan


def polyphony_rate(score: Score, threshold: int = 2, resolution: int = METRIC_RESOLUTION) -> float:
    """`#(steps with more than threshold pitches) / #steps` on the non-drum piano roll.

    Strictly greater, as in MusPy's code: the default threshold 2 counts steps with three or more
    pitches (pass threshold=1 to count steps with two or more). The roll runs from 0 to the end of
    the last non-drum note, so leading silence counts as steps. NaN if the roll is empty.
    """
    roll = _roll(score, resolution)
    if len(roll) == 0:
        return math.nan
    return float(np.count_nonzero(roll.sum(axis=1) > threshold) / len(roll))


def pitch_in_scale_rate(score: Score, root: int = 0, mode: str = "major") -> float:
    """Fraction of non-drum notes whose pitch class is in the scale (`root` 0-11, `mode` major|minor).

    Major mask [1,0,1,0,1,1,0,1,0,1,0,1], minor [1,0,1,1,0,1,0,1,1,0,1,0], rolled by `root`.
    Notes are counted, not durations. NaN if there are no non-drum notes.
    """
    if mode not in ("major", "minor"):
        raise ValueError(f"mode must be 'major' or 'minor', not {mode!r}")
    pitches = _pitches(score)
    if not len(pitches):
        return math.nan
    scale = np.roll(MAJOR_SCALE if mode == "major" else MINOR_SCALE, root)
    return float(scale[pitches % 12].mean())


def scale_consistency(score: Score) -> float:
    """Largest `pitch_in_scale_rate` over the 24 major and minor scales (Mogren's C-RNN-GAN).

    NaN if there are no non-drum notes.
    """
    counts = np.bincount(_pitches(score) % 12, minlength=12)
    if counts.sum() == 0:
        return math.nan
    best = max(counts[np.roll(mask, root)].sum() for mask in (MAJOR_SCALE, MINOR_SCALE) for root in range(12))
    return float(best / counts.sum())


def pitch_entropy(score: Score) -> float:
    """`-sum_i P(pitch=i) log2 P(pitch=i)` over the 128-bin histogram of non-drum notes (notes counted).

    In bits; NaN if there are no non-drum notes.
    """
    return _entropy(np.bincount(_pitches(score), minlength=128))


def pitch_class_entropy(score: Score) -> float:
    """The entropy in bits of the 12-bin pitch-class histogram of non-drum notes (Jazz Transformer).

    In [0, log2 12]; NaN if there are no non-drum notes.
    """
    return _entropy(np.bincount(_pitches(score) % 12, minlength=12))


def empty_beat_rate(score: Score) -> float:
    """Fraction of beats (quarter notes) in which no note sounds, drums included.

    MusPy's code: `n_beats = length // resolution + 1` with length the end of the last note; a note
    makes beats `start // resolution` to `end // resolution` *inclusive* non-empty (so a quarter note
    on beat 0 also marks beat 1). Returns `1 - nonempty / n_beats`; NaN if the score is shorter than
    one tick. Computed at the score's own resolution (beats are exact there).
    """
    length = score.end
    if length < 1:
        return math.nan
    n_beats = length // score.resolution + 1
    nonempty = np.zeros(n_beats, dtype=bool)
    notes = score.all_notes(include_drums=True)
    for start, end in zip(notes["start"] // score.resolution, notes["end"] // score.resolution):
        nonempty[start:end + 1] = True
    return float(1.0 - np.count_nonzero(nonempty) / n_beats)


def _drum_starts(score: Score, resolution: int) -> np.ndarray:
    drums = [track.notes["start"] for track in score.tracks if track.is_drum and len(track.notes)]
    if not drums:
        return np.zeros(0, dtype=np.int64)
    return np.round(np.concatenate(drums) * (resolution / score.resolution)).astype(np.int64)


def drum_pattern_positions(meter: str, resolution: int = METRIC_RESOLUTION) -> list[int]:
    """Tick offsets within a beat that MusPy counts as on the pattern.

    duple: 0, res/2, res/4, 3res/4; triple: 0, res/3, 2res/3; an offset is included only where
    `resolution` divides exactly.
    """
    fractions = {"duple": [(1, 2), (1, 4), (3, 4)], "triple": [(1, 3), (2, 3)]}
    if meter not in fractions:
        raise ValueError(f"meter must be 'duple' or 'triple', not {meter!r}")
    return [0] + [resolution * n // d for n, d in fractions[meter] if resolution * n % d == 0]


def drum_in_pattern_rate(score: Score, meter: str = "duple", resolution: int = METRIC_RESOLUTION) -> float:
    """Fraction of drum notes whose onset `time mod resolution` lies on the duple or triple grid.

    Onsets are rounded to `resolution` ticks per quarter first (default 24: duple = 16th notes,
    triple = 8th-note triplets). NaN if there are no drum notes.
    """
    starts = _drum_starts(score, resolution)
    if not len(starts):
        return math.nan
    return float(np.isin(starts % resolution, drum_pattern_positions(meter, resolution)).mean())


def drum_pattern_consistency(score: Score, resolution: int = METRIC_RESOLUTION) -> float:
    """max(duple, triple) `drum_in_pattern_rate`; NaN if there are no drum notes."""
    starts = _drum_starts(score, resolution)
    if not len(starts):
        return math.nan
    return max(drum_in_pattern_rate(score, meter, resolution) for meter in ("duple", "triple"))


def groove_consistency(score: Score, measure_resolution: int | None = None,
                       resolution: int = METRIC_RESOLUTION) -> float:
    """`1 - sum_i hamming(G_i, G_{i+1}) / (R (T - 1))` over consecutive bars' onset patterns.

    G_i in {0,1}^R marks the ticks of bar i where any note starts (all tracks, drums included),
    T = ceil(end of last note / R) bars. `measure_resolution` R is in *ticks* at `resolution` ticks
    per quarter (muspy #73: passing steps instead inflates the score); by default it is the bar of
    the first time signature (96 for 4/4 at 24). NaN if there are fewer than two bars.
    """
    bar = measure_resolution or measure_ticks(score, resolution)
    if bar < 1:
        raise ValueError(f"measure_resolution must be positive, not {bar}")
    scale = resolution / score.resolution
    notes = score.all_notes(include_drums=True)
    starts = np.round(notes["start"] * scale).astype(np.int64)
    ends = np.maximum(np.round(notes["end"] * scale).astype(np.int64), starts + 1)
    n_bars = -(-int(ends.max(initial=0)) // bar)
    if n_bars < 2:
        return math.nan
    grooves = np.zeros((n_bars, bar), dtype=bool)
    grooves[starts // bar, starts % bar] = True
    hamming = np.count_nonzero(grooves[:-1] != grooves[1:])
    return float(1.0 - hamming / (bar * (n_bars - 1)))
