"""Run folders written by older code still load, generate, evaluate, export and resume.

tests/fixtures/legacy_runs/ holds one tiny, finished run per model type and the data it trained on,
made by tests/fixtures/make_legacy_runs.py with the code of the day (fixtures.json says which commit).
They are kept as they are: when this test fails, the code broke old run folders (or changed their
format on purpose, which then needs a migration and a note, not a re-made fixture).

Only the command-line entry points are used (`zoo.cli`: training.py, generate.py, `python -m zoo`),
so the test survives the code moving between modules. Every check works on a copy in tmp_path.

Data paths: each run's config.json stores its data paths relative to legacy_runs/ (`data/<type>/...`;
rnn_nade `weights/rnn_nade/rnn_nade/data/...`, the rolls its --dataset step wrote). The copy keeps
that layout and the checks run with tmp_path as the working directory, so those paths resolve.
evaluate still gets its test split with -p (the same file), explicitly. --resume_auto has no such
flag: it trains on the data path saved in config.json (a -p on its command line is ignored), which
is why the working directory matters.
"""
from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import pytest

from helpers import check_output_file
from zoo.cli import generate_main, run_cli, training_main, zoo_main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "legacy_runs"
MODEL_TYPES = ["lstm", "transformer", "gan", "simple", "poex", "compae", "musicvae", "crossmodal", "rnn_nade",
               "rnn_rbm", "multinn"]

# generate.py flags per type: the shortest output each type allows (lengths in its own unit).
GENERATE = {
    "lstm": ["--length", "16"],
    "transformer": ["--length", "16"],
    "gan": ["--num_bars", "1"],
    "simple": ["--bars", "1"],                      # over the built-in ii-V-I chart
    "poex": ["--bars", "1"],
    "compae": [],                                   # answers the lick bundled in the code
    "musicvae": ["--temperature", "0.5"],           # prior samples, slice_bar (2) bars each
    "crossmodal": ["--mode", "trajectory", "--n_steps", "4", "--iterations", "2"],
    "rnn_nade": ["--length", "8", "--intro_frames", "4"],   # intro from the run's own test rolls
    "rnn_rbm": ["--length", "8"],
    "multinn": ["--intro_beats", "2", "--sample_beats", "4"],   # intro from the test split in config.json
}
# `python -m zoo evaluate` flags per type besides -p (default: no musical metrics, which sample pieces).
NO_SAMPLES = ["--num_samples", "0"]
EVALUATE = {
    "gan": ["--num_samples", "2", "--sample_length", "1"],   # no likelihood: its numbers are the musical metrics
    "crossmodal": [*NO_SAMPLES, "--make_classifier", "0", "--evaluate_classifier", "0", "--make_figures", "0"],
    "rnn_rbm": [*NO_SAMPLES, "--ais_chains", "4", "--ais_betas", "10"],
}
# The test split evaluate reads, relative to legacy_runs/ (default: data/<type>/test.pkl).
TEST_SPLIT = {"rnn_nade": "weights/rnn_nade/rnn_nade/data/test.pkl"}
# Types whose evaluate reports no model numbers of its own (only musical metrics, in metrics.csv).
NO_OWN_NUMBERS = {"gan"}
# evaluate's numbers that must come back as make_legacy_runs.py recorded them (fixtures.json) when the fixture was
# made: the reloaded model computes what the saved one did. Deterministic ones only (likelihoods; no accuracies,
# whose argmax may flip between CPUs on a tiny model's near-uniform outputs, nor AIS estimates).
SAME_AS_RECORDED = {
    "lstm": ["nll_nats_per_event"],
    "transformer": ["nll_nats_per_event"],
    "simple": ["nll_per_step"],
    "poex": ["nll_per_step"],
    "compae": ["nll_per_step"],
    "musicvae": ["nll_per_step", "kl"],
    "crossmodal": ["reconstruction_spectral_ll", "transfer_spectral_ll", "transfer_symbolic_ll_pitch"],
    "rnn_nade": ["nll_per_frame"],
    "rnn_rbm": ["free_energy_per_frame"],
    "multinn": ["nll_per_step"],
}
# evaluation.csv columns that say what was evaluated, not how well.
BOOKKEEPING = {"run", "checkpoint", "test_data", "pieces", "metric_samples", "seed", "time", "random_mode"}


@pytest.fixture
def legacy(request, tmp_path, monkeypatch) -> tuple[str, Path]:
    """(model type, its weights folder) in a copy of the fixture; the working directory is the copy's root."""
    model_type = request.param
    source = FIXTURES / "weights" / model_type
    if not source.is_dir():
        pytest.fail(f"{source} is missing: the legacy fixtures must be committed (tests/fixtures/make_legacy_runs.py)")
    shutil.copytree(source, tmp_path / "weights" / model_type)
    shutil.copytree(FIXTURES / "data" / model_type, tmp_path / "data" / model_type)
    monkeypatch.chdir(tmp_path)
    return model_type, tmp_path / "weights" / model_type


def per_type(test):
    return pytest.mark.parametrize("legacy", MODEL_TYPES, indirect=True)(test)


def log_rows(run: Path) -> list[dict[str, str]]:
    with open(run / "training_log.csv", newline="") as file:
        return list(csv.DictReader(file))


def finite_numbers(row: dict[str, str]) -> dict[str, float]:
    """The cells of a CSV row that are numbers; fails on one that is not finite."""
    numbers = {}
    for key, text in row.items():
        try:
            value = float(text)
        except (TypeError, ValueError):
            continue
        assert math.isfinite(value), f"{key} = {text}"
        numbers[key] = value
    return numbers


@per_type
def test_generate_from_a_legacy_run(legacy, tmp_path):
    model_type, weights = legacy
    out = tmp_path / "generated"
    argv = ["-m", model_type, "-n", model_type, "-w", str(weights), "--num_outputs", "1", "--seed", "0",
            "--output_dir", str(out), *GENERATE[model_type]]
    assert run_cli(generate_main, argv) == 0
    written = sorted(path for path in out.rglob("*") if path.is_file())
    assert any(path.suffix in (".mid", ".wav") for path in written), written
    for path in written:
        check_output_file(path)


@per_type
def test_evaluate_a_legacy_run(legacy, capsys):
    model_type, weights = legacy
    run = weights / model_type
    flags = ["-p", TEST_SPLIT.get(model_type, f"data/{model_type}/test.pkl"), *EVALUATE.get(model_type, NO_SAMPLES)]
    assert run_cli(zoo_main, ["evaluate", "-n", model_type, "-w", str(weights), *flags]) == 0, \
        capsys.readouterr().err[-2000:]
    with open(run / "evaluation.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 1, rows
    numbers = finite_numbers(rows[0])
    own = set(numbers) - BOOKKEEPING
    if model_type in NO_OWN_NUMBERS:
        with open(run / "metrics.csv", newline="") as file:
            metrics = list(csv.DictReader(file))
        generated = [float(row["generated"]) for row in metrics]
        assert metrics and any(math.isfinite(value) for value in generated), metrics  # NaN: undefined metric
    else:
        assert own, f"no model numbers in {rows[0]}"
    recorded = json.loads((FIXTURES / "fixtures.json").read_text())["runs"][model_type]["evaluate"]
    assert recorded["flags"] == flags, "make_legacy_runs.py recorded its numbers with other flags"
    for key in SAME_AS_RECORDED.get(model_type, []):
        assert numbers[key] == pytest.approx(recorded["numbers"][key], rel=1e-3, abs=1e-6), key


@per_type
def test_export_a_legacy_run(legacy):
    model_type, weights = legacy
    assert run_cli(zoo_main, ["export", "-n", model_type, "-w", str(weights)]) == 0
    export = weights / model_type / "export"
    assert (export / "saved_model.pb").is_file() and (export / "variables").is_dir(), list(export.iterdir())
    assert json.loads((export / "encoding.json").read_text())["model_type"] == model_type


@per_type
def test_resume_a_legacy_run_for_one_more_epoch(legacy, tmp_path):
    model_type, weights = legacy
    run = weights / model_type
    before = log_rows(run)
    epochs = len(before)
    assert [int(row["epoch"]) for row in before] == list(range(epochs)) and epochs >= 1
    argv = ["-m", model_type, "-n", model_type, "-w", str(weights), "-t", str(tmp_path / "logs"),
            "-e", str(epochs + 1), "--resume_auto"]
    assert run_cli(training_main, argv) == 0
    after = log_rows(run)
    assert after[:epochs] == before, "the resume rewrote the rows of the saved epochs"
    assert [int(row["epoch"]) for row in after] == list(range(epochs + 1)), after
    assert math.isfinite(float(after[-1]["loss"])), after[-1]
    assert (run / "model.keras").is_file()  # a finished run writes its final model
    # The resumed run is itself resumable: its backup now counts one more epoch.
    state = json.loads((run / "backup" / "state.json").read_text())
    assert state["epoch"] == epochs + 1, state
