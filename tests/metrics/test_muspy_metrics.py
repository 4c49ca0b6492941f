"""MusPy metrics on small hand-made scores, with every expected value worked out by hand."""
from __future__ import annotations

import math

import pytest

from zoo.metrics import METRICS, compare_metrics, corpus_metrics, muspy, score_metrics
from zoo.music.score import Score, TimeSignature, Track, make_notes


def track(notes: list[tuple[int, int, int]], is_drum: bool = False) -> Track:
    """A track from (pitch, start, end) triples."""
    pitch, start, end = zip(*notes) if notes else ((), (), ())
    return Track(is_drum=is_drum, notes=make_notes(pitch, start, end))


def score(*tracks: Track, resolution: int = 24, meter: tuple[int, int] | None = None) -> Score:
    signatures = [TimeSignature(0, *meter)] if meter else []
    return Score(resolution=resolution, tracks=list(tracks), time_signatures=signatures)


# C-E-G held one beat, C and E a second beat, then C5 alone: 3, 2 then 1 pitches over 72 steps.
TRIAD = score(track([(60, 0, 48), (64, 0, 48), (67, 0, 24), (72, 48, 72)]))


def test_pitch_counts_and_range():
    assert muspy.pitch_range(TRIAD) == 72 - 60
    assert muspy.n_pitches_used(TRIAD) == 4
    assert muspy.n_pitch_classes_used(TRIAD) == 3  # C, E, G


def test_polyphony_and_its_threshold():
    # roll sum = 24*3 + 24*2 + 24*1 = 144 over 72 sounding steps
    assert muspy.polyphony(TRIAD) == 2.0
    # strictly more than 2 pitches: the first beat only (24 of 72 steps); threshold 1: two beats
    assert muspy.polyphony_rate(TRIAD) == pytest.approx(1 / 3)
    assert muspy.polyphony_rate(TRIAD, threshold=1) == pytest.approx(2 / 3)


def test_polyphony_does_not_depend_on_the_file_resolution():
    at_480 = score(track([(60, 0, 960), (64, 0, 960), (67, 0, 480), (72, 960, 1440)]), resolution=480)
    assert muspy.polyphony(at_480) == 2.0
    assert muspy.polyphony_rate(at_480) == pytest.approx(1 / 3)


def test_scales():
    assert muspy.pitch_in_scale_rate(TRIAD, 0, "major") == 1.0
    assert muspy.pitch_in_scale_rate(TRIAD, 9, "minor") == 1.0  # A minor has C major's pitch classes
    assert muspy.pitch_in_scale_rate(TRIAD, 2, "major") == 0.5  # D major holds E and G, not the two Cs
    assert muspy.pitch_in_scale_rate(TRIAD, 0, "minor") == 0.75  # C minor has E flat, not E
    assert muspy.scale_consistency(TRIAD) == 1.0
    chromatic = score(track([(60 + i, i * 24, i * 24 + 24) for i in range(12)]))
    assert muspy.scale_consistency(chromatic) == pytest.approx(7 / 12)
    with pytest.raises(ValueError):
        muspy.pitch_in_scale_rate(TRIAD, 0, "dorian")


def test_entropies_count_notes_not_durations():
    assert muspy.pitch_entropy(TRIAD) == pytest.approx(2.0)  # 4 distinct pitches, once each
    # pitch classes C, C, E, G: -(1/2 log2 1/2 + 2 * 1/4 log2 1/4) = 0.5 + 1
    assert muspy.pitch_class_entropy(TRIAD) == pytest.approx(1.5)
    long_and_short = score(track([(60, 0, 240), (62, 240, 241)]))
    assert muspy.pitch_entropy(long_and_short) == pytest.approx(1.0)


def test_empty_beat_rate_counts_the_end_beat_inclusive():
    # length 96 -> 96 // 24 + 1 = 5 beats; [0, 24) marks beats 0 and 1 (end beat inclusive),
    # [72, 96) marks 3 and 4: only beat 2 is empty
    gap = score(track([(60, 0, 24), (62, 72, 96)]))
    assert muspy.empty_beat_rate(gap) == pytest.approx(1 / 5)
    assert muspy.empty_beat_rate(TRIAD) == 0.0
    # drums count: a drum hit in beat 2 leaves no empty beat
    assert muspy.empty_beat_rate(score(*gap.tracks, track([(36, 48, 49)], is_drum=True))) == 0.0


def test_drum_pattern_consistency():
    # offsets 0 (both grids), 6 (duple: res/4), 8 (triple: res/3), 12 (duple: res/2), 3 (neither)
    drums = score(track([(36, 0, 1), (38, 30, 31), (42, 56, 57), (36, 84, 85), (38, 99, 100)], is_drum=True))
    assert muspy.drum_in_pattern_rate(drums, "duple") == pytest.approx(3 / 5)
    assert muspy.drum_in_pattern_rate(drums, "triple") == pytest.approx(2 / 5)
    assert muspy.drum_pattern_consistency(drums) == pytest.approx(3 / 5)
    # the same hits written at 480 ticks per quarter (x20) are put on the 24-step grid first
    at_480 = score(track([(p, s * 20, e * 20) for p, s, e in [(36, 0, 1), (38, 30, 31), (42, 56, 57),
                                                                 (36, 84, 85), (38, 99, 100)]], is_drum=True),
                   resolution=480)
    assert muspy.drum_pattern_consistency(at_480) == pytest.approx(3 / 5)
    assert math.isnan(muspy.drum_pattern_consistency(TRIAD))  # no drums
    assert muspy.drum_pattern_positions("duple", 6) == [0, 3]  # 6/4 and 18/4 are not whole ticks


def test_groove_consistency_in_four_four():
    # bar 1 onsets {0, 24, 48, 72}, bar 2 {0, 48}: hamming 2 over 96 ticks
    two_bars = score(track([(60, 0, 24), (62, 24, 48), (64, 48, 72), (65, 72, 96), (67, 96, 120), (69, 144, 168)]))
    assert muspy.groove_consistency(two_bars) == pytest.approx(1 - 2 / 96)
    # muspy #73: two identical kick bars are perfectly consistent when R is the bar in ticks
    kicks = score(track([(36, 0, 1), (36, 96, 97)], is_drum=True))
    assert muspy.groove_consistency(kicks) == 1.0
    assert muspy.groove_consistency(kicks, measure_resolution=16) == pytest.approx(1 - 2 / (16 * 6))


def test_groove_consistency_follows_the_time_signature():
    # 3/4: 72-tick bars; onsets 0, 24, 48 | 72, 96 | 144 -> bars {0,24,48}, {0,24}, {0};
    # hamming 1 + 1 over 2 bar pairs of 72 ticks
    notes = [(60, 0, 24), (62, 24, 48), (64, 48, 72), (65, 72, 96), (67, 96, 120), (69, 144, 168)]
    three_four = score(track(notes), meter=(3, 4))
    assert muspy.groove_consistency(three_four) == pytest.approx(1 - 2 / 144)
    assert muspy.measure_ticks(score(meter=(6, 8))) == 72


def test_empty_score_edge_cases():
    for empty in (Score(resolution=24), score(track([]))):
        values = score_metrics(empty)
        assert values["pitch_range"] == 0 and values["n_pitches_used"] == 0 and values["n_pitch_classes_used"] == 0
        undefined = set(METRICS) - {"pitch_range", "n_pitches_used", "n_pitch_classes_used"}
        assert all(math.isnan(values[name]) for name in undefined), values


def test_one_note():
    values = score_metrics(score(track([(61, 0, 24)])))
    assert values["pitch_range"] == 0 and values["n_pitches_used"] == 1 and values["n_pitch_classes_used"] == 1
    assert values["polyphony"] == 1.0 and values["polyphony_rate"] == 0.0
    assert values["pitch_in_scale_rate"] == 0.0  # C sharp is not in C major
    assert values["scale_consistency"] == 1.0
    assert values["pitch_entropy"] == 0.0 and values["pitch_class_entropy"] == 0.0
    assert values["empty_beat_rate"] == 0.0  # length 24 -> 2 beats, both marked (end inclusive)
    assert math.isnan(values["groove_consistency"])  # a single bar
    assert math.isnan(values["drum_pattern_consistency"])


def test_drums_only_has_no_pitch_metrics():
    values = score_metrics(score(track([(36, 0, 6), (38, 24, 30), (36, 96, 102)], is_drum=True)))
    assert values["pitch_range"] == 0  # MusPy gives -127 here (its emptiness check counts drums)
    for name in ("polyphony", "polyphony_rate", "pitch_in_scale_rate", "scale_consistency", "pitch_entropy",
                 "pitch_class_entropy"):
        assert math.isnan(values[name]), name
    assert values["drum_pattern_consistency"] == 1.0
    # 102 // 24 + 1 = 5 beats; hits mark beats 0, 1 and 4: beats 2 and 3 empty
    assert values["empty_beat_rate"] == pytest.approx(2 / 5)
    # bars {0, 24} and {0}: hamming 1 over 96
    assert values["groove_consistency"] == pytest.approx(1 - 1 / 96)


def test_corpus_means_ignore_nan_and_compare_rows():
    one_note, empty = score(track([(60, 0, 24)])), Score(resolution=24)
    means = corpus_metrics([one_note, empty])
    assert means["polyphony"] == 1.0  # the empty score's NaN is left out
    assert means["pitch_range"] == 0.0 and means["n_pitches_used"] == 0.5
    assert math.isnan(means["drum_pattern_consistency"])  # NaN for both
    assert all(math.isnan(v) for v in corpus_metrics([]).values())
    rows = compare_metrics([TRIAD], [one_note])
    assert [row["metric"] for row in rows] == list(METRICS)
    by_name = {row["metric"]: row for row in rows}
    assert by_name["pitch_range"] == {"metric": "pitch_range", "generated": 12.0, "reference": 0.0, "abs_diff": 12.0}
    assert by_name["polyphony"]["abs_diff"] == 1.0
    assert math.isnan(by_name["dp"]["abs_diff"])


def test_metric_names_are_the_published_ones():
    assert set(METRICS) == {"pitch_range", "n_pitches_used", "n_pitch_classes_used", "polyphony", "polyphony_rate",
                            "pitch_in_scale_rate", "scale_consistency", "pitch_entropy", "pitch_class_entropy",
                            "empty_beat_rate", "drum_pattern_consistency", "groove_consistency",
                            "eb", "upc", "qn", "dp", "td", "pp"}
    assert list(score_metrics(TRIAD)) == list(METRICS)
