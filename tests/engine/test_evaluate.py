"""`python -m zoo evaluate` end to end: likelihood plus musical metrics of samples vs the test split."""
from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from zoo.cli import run_cli, zoo_main
from zoo.core.model_type import ModelType
from zoo.data.dataset import EncodedSplit
from zoo.engine.evaluate import append_csv_row, musical_metrics
from zoo.metrics import METRICS
from zoo.music.score import Score, Track, make_notes

# Defined for any non-empty piano piece (the event encoding decodes to one pitched track).
ALWAYS_FINITE = ["pitch_range", "n_pitches_used", "n_pitch_classes_used", "polyphony", "polyphony_rate",
                 "pitch_in_scale_rate", "scale_consistency", "pitch_entropy", "pitch_class_entropy",
                 "empty_beat_rate", "eb", "upc", "qn", "pp"]


def test_evaluate_writes_metrics_table_and_csv(trained_run, capsys):
    weights, name = trained_run
    argv = ["evaluate", "-n", name, "-w", str(weights), "--num_samples", "3", "--sample_length", "64", "--seed", "5"]
    assert run_cli(zoo_main, argv) == 0
    out = capsys.readouterr().out
    assert "nll_bits_per_event" in out and "pitch_class_entropy" in out and "|diff|" in out
    rows = list(csv.DictReader(open(weights / name / "metrics.csv")))
    assert [row["metric"] for row in rows] == list(METRICS)
    values = {row["metric"]: {k: float(v) for k, v in row.items() if k != "metric"} for row in rows}
    for metric in ALWAYS_FINITE:
        assert math.isfinite(values[metric]["test"]), metric
    # the test chorales are real music: several pitches, mostly diatonic, no drums, no second track
    assert values["n_pitches_used"]["test"] > 5 and values["scale_consistency"]["test"] > 0.7
    assert math.isnan(values["dp"]["test"]) and math.isnan(values["td"]["test"])
    for metric, row in values.items():
        if math.isfinite(row["generated"]) and math.isfinite(row["test"]):
            assert row["abs_diff"] == pytest.approx(abs(row["generated"] - row["test"])), metric
    evaluation = list(csv.DictReader(open(weights / name / "evaluation.csv")))[-1]
    assert evaluation["metric_samples"] == "3" and evaluation["seed"] == "5"
    assert math.isfinite(float(evaluation["nll_nats_per_event"]))

    # Same seed, same samples, same table.
    first = (weights / name / "metrics.csv").read_text()
    assert run_cli(zoo_main, argv) == 0
    assert (weights / name / "metrics.csv").read_text() == first


def test_evaluate_without_samples_and_bad_counts(trained_run, capsys):
    weights, name = trained_run
    (weights / name / "metrics.csv").unlink(missing_ok=True)
    assert run_cli(zoo_main, ["evaluate", "-n", name, "-w", str(weights), "--num_samples", "0"]) == 0
    assert not (weights / name / "metrics.csv").exists()
    assert list(csv.DictReader(open(weights / name / "evaluation.csv")))[-1]["metric_samples"] == "0"
    capsys.readouterr()
    assert run_cli(zoo_main, ["evaluate", "-n", name, "-w", str(weights), "--num_samples", "-1"]) == 2
    assert capsys.readouterr().err.strip() == ("error: argument --num_samples: must be 0 or more (got -1) "
                                               "(see python -m zoo evaluate --help)")
    assert run_cli(zoo_main, ["evaluate", "-n", name, "-w", str(weights), "--sample_length", "0"]) == 2
    assert "argument --sample_length: must be at least 1 (got 0)" in capsys.readouterr().err


def test_evaluate_on_the_first_pieces_of_the_test_split(trained_run):
    weights, name = trained_run
    rows = {}
    for pieces in ("1", None):
        only = ["--pieces", pieces] if pieces else []
        argv = ["evaluate", "-n", name, "-w", str(weights), "--num_samples", "0", *only]
        assert run_cli(zoo_main, argv) == 0
        rows[pieces] = list(csv.DictReader(open(weights / name / "evaluation.csv")))[-1]
    assert rows["1"]["pieces"] == "1" and int(rows[None]["pieces"]) == 2  # the fixture's test split: 2 chorales
    assert rows["1"]["nll_nats_per_event"] != rows[None]["nll_nats_per_event"]


def test_evaluation_csv_with_another_header_is_rewritten_aligned(tmp_path):
    path = tmp_path / "evaluation.csv"
    append_csv_row(path, {"run": "a", "nll": 1.5})
    append_csv_row(path, {"run": "a", "nll": 1.25})  # same header: plain append
    append_csv_row(path, {"run": "b", "accuracy": 0.5, "nll": 2.0})  # new column
    rows = list(csv.DictReader(open(path)))
    assert list(rows[0]) == ["run", "nll", "accuracy"]
    assert [(r["run"], r["nll"], r["accuracy"]) for r in rows] == [("a", "1.5", ""), ("a", "1.25", ""),
                                                                   ("b", "2.0", "0.5")]


class _Encoding:
    name = "fake"

    def __init__(self, decodes: bool = True):
        self.decodes = decodes

    def decode(self, piece):
        if not self.decodes:
            raise TypeError("pieces are dicts of frames")
        return Score(resolution=24, tracks=[Track(notes=make_notes([60 + int(piece[0])], [0], [24]))])


class _Sampler:
    name = "fake"
    calls: list[tuple[int, int]] = []
    metric_pieces = ModelType.metric_pieces  # the default: samples from nothing against the decoded test split

    @classmethod
    def sample_scores(cls, model, config, encoding, num_outputs, seed, length=None):
        cls.calls.append((num_outputs, seed))
        return [Score(resolution=24, tracks=[Track(notes=make_notes([60, 64], [0, 0], [24, 24]))])] * num_outputs


class _NoSampler(_Sampler):
    @classmethod
    def sample_scores(cls, model, config, encoding, num_outputs, seed, length=None):
        raise NotImplementedError


def _split() -> EncodedSplit:
    return EncodedSplit(pieces=[np.array([0]), np.array([2])], sources=["a", "b"], encoding={"name": "fake"})


def test_musical_metrics_batches_samples_and_skips_what_cannot_be_done(capsys):
    _Sampler.calls.clear()
    rows = musical_metrics(_Sampler, None, {}, _Encoding(), _split(), 40, seed=7)
    assert [count for count, _ in _Sampler.calls] == [32, 8] and _Sampler.calls[0][1] == 7
    assert _Sampler.calls[1][1] != 7
    by_name = {row["metric"]: row for row in rows}
    # generated: C+E together (polyphony 2, range 4); test: single C and single D (range 0, polyphony 1)
    assert by_name["polyphony"]["generated"] == 2.0 and by_name["polyphony"]["reference"] == 1.0
    assert by_name["pitch_range"]["abs_diff"] == 4.0
    assert musical_metrics(_NoSampler, None, {}, _Encoding(), _split(), 4, seed=0) is None
    assert "does not sample pieces" in capsys.readouterr().err
    assert musical_metrics(_Sampler, None, {}, _Encoding(decodes=False), _split(), 4, seed=0) is None
    assert "cannot be decoded" in capsys.readouterr().err


def test_a_run_whose_recorded_test_split_is_gone_resolves_its_data_again(trained_run, tmp_path, event_data, capfd):
    """A run from another machine (or a preset on a fresh clone): config.json names a test split that is not
    here, so its recorded flags resolve the data again; when they cannot either, one line says what to pass."""
    weights, name = trained_run
    copy = tmp_path / "weights"
    shutil.copytree(weights / name, copy / name, ignore=shutil.ignore_patterns("evaluation.csv", "metrics.csv"))
    config_path = copy / name / "config.json"
    config = json.loads(config_path.read_text())
    config["data"] = {key: str(tmp_path / "elsewhere" / Path(path).name) for key, path in config["data"].items()}
    config_path.write_text(json.dumps(config))
    argv = ["evaluate", "-n", name, "-w", str(copy), "--num_samples", "0"]
    assert run_cli(zoo_main, argv) == 0
    assert "recorded flags resolve to" in capfd.readouterr().err
    row = list(csv.DictReader(open(copy / name / "evaluation.csv")))[-1]
    assert row["test_data"] == str(event_data / "test.pkl") and row["pieces"] == "2"

    config["args"]["data_path"] = str(tmp_path / "elsewhere" / "train.pkl")
    config_path.write_text(json.dumps(config))
    assert run_cli(zoo_main, argv) == 2
    lines = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: no test split for run '{name}'"), lines
    assert "pass one with -p DATA/test.pkl" in lines[0] and "no training data at" in lines[0]


def test_metrics_compare_only_the_parts_the_test_pieces_have():
    """A lead-sheet sample's chord track is accompaniment: its polyphony must not count against a melody."""
    from zoo.engine.evaluate import same_parts
    from zoo.music.score import Score, Track, make_notes

    def score(*names):
        return Score(tracks=[Track(name=name, program=0, notes=make_notes([60, 64], [0, 0], [480, 480]))
                             for name in names])

    generated = same_parts([score("melody", "chords")], [score("melody")])
    assert [track.name for track in generated[0].tracks] == ["melody"]
    unnamed = [score("Piano")]
    assert same_parts(unnamed, [score("melody")]) == unnamed
