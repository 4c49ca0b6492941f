"""MuseGAN metrics (EB, UPC, QN, DP, TD, PP) on small hand-made scores, values worked out by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest

from zoo.metrics import musegan, score_metrics
from zoo.music.score import Score, TimeSignature, Track, make_notes


def track(notes: list[tuple[int, int, int]], is_drum: bool = False) -> Track:
    pitch, start, end = zip(*notes) if notes else ((), (), ())
    return Track(is_drum=is_drum, notes=make_notes(pitch, start, end))


# Two 4/4 bars at 24 steps per quarter (96 per bar):
#   piano: C-E-G for one beat, then a 2-step D, then silence in bar 2;
#   bass: C3 held through both bars (two 96-step notes once cut at the bar line);
#   drums: hits at steps 0, 3 and 24 of bar 1.
PIANO = track([(60, 0, 24), (64, 0, 24), (67, 0, 24), (62, 24, 26)])
BASS = track([(48, 0, 96), (48, 96, 192)])
DRUMS = track([(36, 0, 1), (42, 3, 4), (38, 24, 25)], is_drum=True)
BAND = Score(resolution=24, tracks=[PIANO, BASS, DRUMS])


def test_bar_rolls_shape_and_padding():
    rolls = musegan.bar_rolls(BAND)
    assert rolls.roll.shape == (2, 96, 128, 3)
    assert rolls.is_drum.tolist() == [False, False, True]
    assert rolls.roll[1, :, 48, 1].all() and not rolls.roll[1, :, :, 0].any()


def test_empty_bars():
    # (bar, track): bar 1 all sound; bar 2 only the bass -> 2 empty of 6
    assert musegan.empty_bar_rate(BAND) == pytest.approx(2 / 6)


def test_used_pitch_classes():
    # non-empty (bar, pitched track): piano bar 1 {C, D, E, G} = 4, bass bar 1 {C} = 1, bass bar 2 = 1
    assert musegan.used_pitch_classes(BAND) == pytest.approx(6 / 3)


def test_qualified_notes():
    # pitched notes: three 24-step piano notes, one 2-step D, two 96-step bass notes -> 5 of 6
    assert musegan.qualified_note_rate(BAND) == pytest.approx(5 / 6)
    # a 32nd note written at 480 ticks per quarter is 3 steps: qualified
    at_480 = Score(resolution=480, tracks=[track([(60, 0, 60), (62, 60, 90)])])
    assert musegan.qualified_note_rate(at_480) == pytest.approx(1 / 2)


def test_drum_pattern():
    # onsets 0 and 24 are on the 16th grid (t mod 6 == 0), 3 is not
    assert musegan.drum_pattern_rate(BAND) == pytest.approx(2 / 3)


def test_tonal_matrix_columns():
    matrix = musegan.tonal_matrix()
    assert matrix.shape == (6, 12)
    np.testing.assert_allclose(matrix[:, 0], [0, 1, 0, 1, 0, 0.5], atol=1e-12)
    s3 = math.sqrt(3)
    np.testing.assert_allclose(matrix[:, 2], [s3 / 2, 1 / 2, 0, -1, -s3 / 4, -1 / 4], atol=1e-12)


def test_tonal_distance_by_hand():
    # Shared sounding beats of piano and bass: beat 0 (piano C, E, G a third each vs C) and beat 1 (D vs C).
    # Tonal points: C = [0, 1, 0, 1, 0, 1/2], E = [s/2, -1/2, 0, 1, s/4, -1/4], G = [1/2, s/2, 1, 0, s/4, -1/4],
    # D = [s/2, 1/2, 0, -1, -s/4, -1/4] with s = sqrt 3.
    # beat 1: |D - C|^2 = 3/4 + 1/4 + 0 + 4 + 3/16 + 9/16 = 5.75
    # beat 0: (C + E + G)/3 - C = [(s+1)/6, (s-5)/6, 1/3, -1/3, s/6, -1/2], squared sum (52 - 8 s) / 36
    s = math.sqrt(3)
    expected = (math.sqrt(5.75) + math.sqrt((52 - 8 * s) / 36)) / 2
    assert musegan.tonal_distance(BAND) == pytest.approx(expected)
    unison = Score(resolution=24, tracks=[track([(60, 0, 96)]), track([(72, 0, 96)])])
    assert musegan.tonal_distance(unison) == pytest.approx(0.0)  # octaves share a pitch class


def test_tonal_distance_needs_two_pitched_tracks_sounding_together():
    assert math.isnan(musegan.tonal_distance(Score(resolution=24, tracks=[PIANO, DRUMS])))
    apart = Score(resolution=24, tracks=[track([(60, 0, 24)]), track([(64, 48, 72)])])
    assert math.isnan(musegan.tonal_distance(apart))


def test_polyphonicity_is_per_track():
    # steps with more than 2 pitches: the piano's first beat, 24 steps of 2 bars x 96 x 2 pitched tracks
    assert musegan.polyphonicity(BAND) == pytest.approx(24 / 384)


def test_bars_follow_the_time_signature():
    # notes in [0, 72) and [144, 168): in 3/4 (72 steps a bar) the middle bar is empty; in 4/4 no bar is
    notes = [track([(60, 0, 72), (62, 144, 168)])]
    assert musegan.empty_bar_rate(Score(resolution=24, tracks=notes)) == 0.0
    three_four = Score(resolution=24, tracks=notes, time_signatures=[TimeSignature(0, 3, 4)])
    assert musegan.bar_rolls(three_four).roll.shape == (3, 72, 128, 1)
    assert musegan.empty_bar_rate(three_four) == pytest.approx(1 / 3)


def test_edge_cases():
    for name in ("eb", "upc", "qn", "dp", "td", "pp"):
        assert math.isnan(score_metrics(Score(resolution=24))[name]), name
    drums_only = score_metrics(Score(resolution=24, tracks=[DRUMS]))
    assert drums_only["eb"] == 0.0 and drums_only["dp"] == pytest.approx(2 / 3)
    assert all(math.isnan(drums_only[name]) for name in ("upc", "qn", "td", "pp"))
    one_note = score_metrics(Score(resolution=24, tracks=[track([(60, 0, 24)])]))
    assert one_note["eb"] == 0.0 and one_note["upc"] == 1.0 and one_note["qn"] == 1.0 and one_note["pp"] == 0.0
    assert math.isnan(one_note["dp"]) and math.isnan(one_note["td"])
    # a track that never plays is empty in every bar
    silent_partner = Score(resolution=24, tracks=[track([(60, 0, 24)]), track([])])
    assert musegan.empty_bar_rate(silent_partner) == 0.5
