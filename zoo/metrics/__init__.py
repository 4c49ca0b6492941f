"""Musical metrics of scores: MusPy's set (`zoo.metrics.muspy`) and MuseGAN's (`zoo.metrics.musegan`).

Pure NumPy on `zoo.music.score.Score`, with the definitions of specs/metrics.md §2 and §3.3. They
describe music, they do not grade it: compare generated pieces with held-out data
(`compare_metrics`), never read one number as a quality score.
"""
from __future__ import annotations

import math
import warnings
from typing import Callable

import numpy as np

from zoo.metrics import musegan, muspy
from zoo.music.score import Score

__all__ = ["METRICS", "METRIC_RESOLUTION", "compare_metrics", "corpus_metrics", "score_metrics"]

METRIC_RESOLUTION = muspy.METRIC_RESOLUTION

# name -> function of a score (MusPy) or of its bar rolls (MuseGAN, so the rolls are built once).
_MUSPY: dict[str, Callable[[Score], float]] = {
    "pitch_range": muspy.pitch_range,
    "n_pitches_used": muspy.n_pitches_used,
    "n_pitch_classes_used": muspy.n_pitch_classes_used,
    "polyphony": muspy.polyphony,
    "polyphony_rate": muspy.polyphony_rate,  # steps with >= 3 pitches (MusPy's threshold 2, strict)
    "pitch_in_scale_rate": muspy.pitch_in_scale_rate,  # C major
    "scale_consistency": muspy.scale_consistency,
    "pitch_entropy": muspy.pitch_entropy,
    "pitch_class_entropy": muspy.pitch_class_entropy,
    "empty_beat_rate": muspy.empty_beat_rate,
    "drum_pattern_consistency": muspy.drum_pattern_consistency,
    "groove_consistency": muspy.groove_consistency,
}
_MUSEGAN: dict[str, Callable[[musegan.BarRolls], float]] = {
    "eb": musegan.empty_bar_rate,
    "upc": musegan.used_pitch_classes,
    "qn": musegan.qualified_note_rate,
    "dp": musegan.drum_pattern_rate,
    "td": musegan.tonal_distance,
    "pp": musegan.polyphonicity,
}
METRICS: tuple[str, ...] = tuple(_MUSPY) + tuple(_MUSEGAN)


def score_metrics(score: Score) -> dict[str, float]:
    """Every metric of one score, by name (`METRICS` order); NaN where a metric is undefined.

    Grid-dependent metrics use `METRIC_RESOLUTION` (24) steps per quarter; `pitch_in_scale_rate`
    is for C major (use `muspy.pitch_in_scale_rate(score, root, mode)` for another key).
    """
    values = {name: float(function(score)) for name, function in _MUSPY.items()}
    rolls = musegan.bar_rolls(score, METRIC_RESOLUTION)
    values.update({name: float(function(rolls)) for name, function in _MUSEGAN.items()})
    return values


def corpus_metrics(scores: list[Score]) -> dict[str, float]:
    """The mean over `scores` of each metric, ignoring NaN (NaN where every score gives NaN or none is given)."""
    if not scores:
        return {name: math.nan for name in METRICS}
    table = np.array([[values[name] for name in METRICS] for values in map(score_metrics, scores)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "mean of empty slice" is the all-NaN case
        means = np.nanmean(table, axis=0)
    return {name: float(mean) for name, mean in zip(METRICS, means)}


def compare_metrics(generated: list[Score], reference: list[Score]) -> list[dict]:
    """Rows {"metric", "generated", "reference", "abs_diff"}: corpus means of both sets and |difference|.

    `abs_diff` is NaN where either mean is NaN.
    """
    ours, theirs = corpus_metrics(generated), corpus_metrics(reference)
    return [{"metric": name, "generated": ours[name], "reference": theirs[name],
             "abs_diff": abs(ours[name] - theirs[name])} for name in METRICS]
