"""MuseGAN's bar-based metrics EB, UPC, QN, DP, TD (and BinaryMuseGAN's PP) as NumPy functions of a `Score`.

The MuseGAN paper and its two code versions disagree (specs/metrics.md §3.2); these follow the
zoo's definitions of §3.3 on a binary piano roll `X[bar, t, pitch, track]` at 24 steps per quarter
(96 per 4/4 bar; the bar length comes from the first time signature). Each track's roll is padded
with silence to a whole number of bars. Values are fractions in [0, 1] (the paper prints EB, QN
and DP in %). Drum tracks take part in EB and DP only; UPC, QN, TD and PP are over pitched tracks.
A "note" here is a run of active steps of one pitch within one bar of one track, as the roll
shows it: repeated notes that touch merge, and a note crossing a bar line counts once per bar.
"""
from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np

from zoo.metrics.muspy import METRIC_RESOLUTION, measure_ticks
from zoo.music.pianoroll import pianoroll
from zoo.music.score import Score

QUALIFIED_STEPS = 3  # a 32nd note at 24 steps per quarter: QN counts notes at least this long
DRUM_GRID_STEPS = 6  # a 16th note at 24 steps per quarter: DP's grid


@dataclasses.dataclass
class BarRolls:
    """The binary piano roll of every track cut into bars.

    Attributes:
        roll: bool array [bars, steps per bar, 128, tracks].
        is_drum: bool array [tracks].
        steps_per_beat: time steps per quarter note.
    """

    roll: np.ndarray
    is_drum: np.ndarray
    steps_per_beat: int

    @property
    def pitched(self) -> np.ndarray:
        """The rolls of the non-drum tracks [bars, steps per bar, 128, pitched tracks]."""
        return self.roll[..., ~self.is_drum]

    @property
    def drums(self) -> np.ndarray:
        """The rolls of the drum tracks [bars, steps per bar, 128, drum tracks]."""
        return self.roll[..., self.is_drum]


def bar_rolls(score: Score, resolution: int = METRIC_RESOLUTION) -> BarRolls:
    """Every track's boolean piano roll at `resolution` steps per quarter, padded to whole bars.

    The number of bars is set by the last note of any track; a track without notes is all silence.
    """
    bar = measure_ticks(score, resolution)
    rolls = [pianoroll(dataclasses.replace(score, tracks=[track]), resolution, include_drums=True)
             for track in score.tracks]
    n_bars = -(-max((len(roll) for roll in rolls), default=0) // bar)
    padded = np.zeros((n_bars * bar, 128, len(rolls)), dtype=bool)
    for index, roll in enumerate(rolls):
        padded[:len(roll), :, index] = roll
    return BarRolls(padded.reshape(n_bars, bar, 128, len(rolls)),
                    np.array([track.is_drum for track in score.tracks], dtype=bool), resolution)


def _runs(roll: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Onset step within the bar and length of every run of active steps in `roll` [bars, t, 128, tracks]."""
    by_time = np.moveaxis(roll, 1, -1).astype(np.int8)  # [bars, 128, tracks, t]: runs along the last axis
    edges = np.diff(np.pad(by_time, [(0, 0)] * 3 + [(1, 1)]), axis=-1)
    onsets = np.nonzero(edges == 1)[-1]  # C order keeps each (bar, pitch, track)'s onsets and offsets paired
    offsets = np.nonzero(edges == -1)[-1]
    return onsets, offsets - onsets


def _rolls(score_or_rolls: Score | BarRolls) -> BarRolls:
    return score_or_rolls if isinstance(score_or_rolls, BarRolls) else bar_rolls(score_or_rolls)


def empty_bar_rate(score: Score | BarRolls) -> float:
    """EB: mean over (bar, track), drum tracks included, of `1[no step of the track sounds in the bar]`.

    NaN for a score without tracks or notes.
    """
    roll = _rolls(score).roll
    if roll.shape[0] == 0 or roll.shape[-1] == 0:
        return math.nan
    return float((~roll.any(axis=(1, 2))).mean())


def used_pitch_classes(score: Score | BarRolls) -> float:
    """UPC: mean over non-empty (bar, pitched track) of the number of pitch classes sounding in the bar.

    In [1, 12]; NaN if no pitched track sounds anywhere.
    """
    active = _rolls(score).pitched.any(axis=1)  # [bars, 128, tracks]
    classes = np.stack([active[:, pc::12, :].any(axis=1) for pc in range(12)], axis=1).sum(axis=1)
    nonempty = active.any(axis=1)
    return float(classes[nonempty].mean()) if nonempty.any() else math.nan


def qualified_note_rate(score: Score | BarRolls, min_steps: int = QUALIFIED_STEPS) -> float:
    """QN: `#notes at least min_steps long / #notes` over pitched tracks.

    Default 3 steps at 24 per quarter (a 32nd note), the paper's threshold (the code versions use 2).
    NaN if there are no pitched notes.
    """
    _, lengths = _runs(_rolls(score).pitched)
    return float((lengths >= min_steps).mean()) if len(lengths) else math.nan


def drum_pattern_rate(score: Score | BarRolls, grid: int = DRUM_GRID_STEPS) -> float:
    """DP: `#drum onsets on the 16th-note grid (t mod 6 == 0 within the bar) / #drum onsets`.

    The strict version of §3.3 (not the tolerance-weighted v1 filter). NaN if there are no drum notes.
    """
    onsets, _ = _runs(_rolls(score).drums)
    return float((onsets % grid == 0).mean()) if len(onsets) else math.nan


def tonal_matrix(r1: float = 1.0, r2: float = 1.0, r3: float = 0.5) -> np.ndarray:
    """Harte et al.'s (2006) map of the 12 pitch classes into the 6-D tonal space [6, 12].

    Rows: r1 sin/cos(7 pi k / 6) (fifths), r2 sin/cos(3 pi k / 2) (minor thirds), r3 sin/cos(2 pi k / 3)
    (major thirds), for pitch class k.
    """
    k = np.arange(12)
    rows = []
    for radius, angle in ((r1, 7 * np.pi / 6), (r2, 3 * np.pi / 2), (r3, 2 * np.pi / 3)):
        rows += [radius * np.sin(angle * k), radius * np.cos(angle * k)]
    return np.stack(rows)


def _beat_tonal_centroids(track_roll: np.ndarray, steps_per_beat: int) -> np.ndarray:
    """Per-beat tonal-space points [beats, 6] of one track's roll [steps, 128]; NaN for silent beats."""
    steps = len(track_roll)
    beats = -(-steps // steps_per_beat)
    padded = np.zeros((beats * steps_per_beat, 128), dtype=np.float64)
    padded[:steps] = track_roll
    per_beat = padded.reshape(beats, steps_per_beat, 128).sum(axis=1)
    chroma = np.stack([per_beat[:, pc::12].sum(axis=1) for pc in range(12)], axis=1)
    total = chroma.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        chroma = chroma / total  # L1 norm; 0/0 = NaN marks a silent beat
    return chroma @ tonal_matrix().T


def tonal_distance(score: Score | BarRolls) -> float:
    """TD: tonal-space distance between pitched tracks, averaged per beat then over track pairs.

    Per beat (quarter note), each track's chroma (active steps summed over the beat and octaves) is
    L1-normalised and mapped by `tonal_matrix`; the pair's TD is the mean Euclidean distance over the
    beats where both tracks sound. The result is the mean over pairs that share a sounding beat.
    Lower means closer harmony. NaN with fewer than two pitched tracks or no shared beat.
    """
    rolls = _rolls(score)
    pitched = rolls.pitched
    if pitched.shape[-1] < 2:
        return math.nan
    flat = pitched.reshape(-1, 128, pitched.shape[-1])
    points = [_beat_tonal_centroids(flat[..., i], rolls.steps_per_beat) for i in range(flat.shape[-1])]
    pair_distances = []
    for a, b in itertools.combinations(points, 2):
        distance = np.linalg.norm(a - b, axis=1)
        distance = distance[np.isfinite(distance)]
        if len(distance):
            pair_distances.append(distance.mean())
    return float(np.mean(pair_distances)) if pair_distances else math.nan


def polyphonicity(score: Score | BarRolls, threshold: int = 2) -> float:
    """PP (BinaryMuseGAN): `#steps with more than threshold pitches / #steps`, over pitched tracks and all bars.

    NaN with no pitched track or no bars.
    """
    pitched = _rolls(score).pitched
    if pitched.size == 0:
        return math.nan
    return float((pitched.sum(axis=2) > threshold).mean())
