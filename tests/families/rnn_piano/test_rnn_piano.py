"""rnn_nade / rnn_rbm through the command lines on a slice of the bundled JSB Chorales."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from zoo.cli import generate_main, run_cli, training_main, zoo_main
from zoo.families.rnn_piano import rnn_piano_flags
from zoo.families.rnn_piano.polyphonic import BUNDLED_JSB
from zoo.layers import rnn_estimators

TINY = ["--num_hidden", "12", "--rnn_units", "16", "-b", "8", "-s", "32", "--sample_every", "0", "--verbose", "0"]


def test_the_flags_offer_the_rnn_types_the_layers_build():
    assert rnn_piano_flags.RNN_TYPES == rnn_estimators.RNN_TYPES


@pytest.fixture(scope="module")
def jsb_slice(tmp_path_factory):
    """24 / 6 / 4 real JSB sequences in the benchmark's JSON format."""
    data = json.loads(BUNDLED_JSB.read_text())
    path = tmp_path_factory.mktemp("jsb") / "jsb_slice.json"
    path.write_text(json.dumps({"train": data["train"][:24], "valid": data["valid"][:6], "test": data["test"][:4]}))
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory, jsb_slice):
    root = tmp_path_factory.mktemp("rnn-piano-runs")
    extra = {"rnn_nade": ["--learning_rate", "0.01"], "rnn_rbm": ["-o", "adam", "--gibbs_k", "2", "--sample_k", "3"]}
    for model_type in ("rnn_nade", "rnn_rbm"):
        argv = ["-m", model_type, "-n", model_type, "-w", str(root / "weights"), "-t", str(root / "logs"),
                "--dataset", str(jsb_slice), "-e", "3", *TINY, *extra[model_type]]
        assert run_cli(training_main, argv) == 0
    return root / "weights"


def _log(weights, name):
    with open(weights / name / "training_log.csv") as file:
        return list(csv.DictReader(file))


def test_nade_loss_goes_down_and_rbm_reconstruction_improves(runs):
    nade = _log(runs, "rnn_nade")
    assert float(nade[-1]["loss"]) < float(nade[0]["loss"]) and float(nade[-1]["val_nll"]) < float(nade[0]["val_nll"])
    rbm = _log(runs, "rnn_rbm")
    assert float(rbm[-1]["recon"]) < float(rbm[0]["recon"])


@pytest.mark.parametrize("model_type", ["rnn_nade", "rnn_rbm"])
def test_generate_writes_midi_that_parses_back(runs, tmp_path, model_type):
    from zoo.music.io import load_score

    out = tmp_path / model_type
    argv = ["-m", model_type, "-n", model_type, "-w", str(runs), "--num_outputs", "2", "--length", "12",
            "--intro_frames", "4", "--output_dir", str(out)]
    assert run_cli(generate_main, argv) == 0
    midis = sorted(out.glob("*.mid"))
    assert len(midis) == 2 and all(p.with_suffix(".wav").is_file() and p.with_suffix(".png").is_file() for p in midis)
    score = load_score(midis[0])
    assert len(score.all_notes()) > 0  # at least the intro's notes


def test_evaluate_reports_finite_nll(runs, capsys):
    assert run_cli(zoo_main, ["evaluate", "-n", "rnn_nade", "-w", str(runs), "--num_samples", "0"]) == 0
    assert run_cli(zoo_main, ["evaluate", "-n", "rnn_rbm", "-w", str(runs), "--num_samples", "0",
                              "--ais_chains", "8", "--ais_betas", "20"]) == 0
    for name in ("rnn_nade", "rnn_rbm"):
        with open(runs / name / "evaluation.csv") as file:
            row = list(csv.DictReader(file))[-1]
        nll = float(row["nll_per_frame"])
        assert np.isfinite(nll) and 0 < nll < 88 * np.log(2) * 1.5 and int(row["frames"]) > 0
    assert float(row["ais_spread"]) >= 0


def test_runs_keep_their_rolls_in_the_data_cache_not_in_the_run_folder(runs, tmp_path, monkeypatch):
    from zoo.data.corpus import cache_root

    configs = [json.loads((runs / name / "config.json").read_text()) for name in ("rnn_nade", "rnn_rbm")]
    assert not (runs / "rnn_nade" / "data").exists() and not (runs / "rnn_rbm" / "data").exists()
    paths = {split: Path(path) for split, path in configs[0]["data"].items()}
    assert sorted(paths) == ["test", "train", "valid"] and configs[1]["data"] == configs[0]["data"]  # one copy
    assert all(path.is_absolute() and path.parent.parent == cache_root() and path.is_file() for path in paths.values())
    monkeypatch.chdir(tmp_path)  # the stored paths hold from any working directory
    assert run_cli(zoo_main, ["evaluate", "-n", "rnn_nade", "-w", str(runs), "--num_samples", "0"]) == 0


@pytest.mark.parametrize("content, message", [
    ('{"train": [[[60]]], "valid": [[[60]]], "test": [[[10, 60]]]}', "pitch 10 is outside the 88 keys"),
    ("{oops", "not a readable JSON"),
])
def test_bad_json_exits_2(tmp_path, capsys, content, message):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    argv = ["-m", "rnn_nade", "-n", "bad", "-w", str(tmp_path / "w"), "-t", str(tmp_path / "l"), "--dataset", str(bad), *TINY]
    assert run_cli(training_main, argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]


def test_flags_of_the_other_model_type_are_refused(tmp_path, capsys):
    argv = ["-m", "rnn_nade", "-n", "x", "-w", str(tmp_path), "--ais_chains", "3"]
    assert run_cli(training_main, argv) == 2  # an evaluate flag of rnn_rbm, not a training flag
    argv = ["-m", "rnn_rbm", "-n", "x", "-w", str(tmp_path), "--dropout", "1.5"]
    assert run_cli(training_main, argv) == 2
    assert "argument --dropout: must be in [0, 1) (got 1.5)" in capsys.readouterr().err


def test_trains_on_prepared_88_key_pickles_and_refuses_other_ranges(tmp_path, capsys):
    from zoo.encodings.pianoroll import PianorollEncoding
    from zoo.families.rnn_piano.polyphonic import encoding_config, read_polyphonic_json, write_split_pickles

    splits = {k: v[:3] for k, v in read_polyphonic_json(BUNDLED_JSB).items()}
    good = write_split_pickles(splits, tmp_path / "good", "jsb", encoding_config())
    argv = ["-m", "rnn_nade", "-n", "pkl", "-w", str(tmp_path / "w"), "-t", str(tmp_path / "l"),
            "-p", str(good["train"]), "-e", "1", *TINY]
    assert run_cli(training_main, argv) == 0
    narrow = {k: [r[:, 15:63] for r in v] for k, v in splits.items()}
    bad = write_split_pickles(narrow, tmp_path / "bad", "jsb", PianorollEncoding().to_config())
    argv[argv.index("pkl")] = "pkl2"
    argv[argv.index(str(good["train"]))] = str(bad["train"])
    assert run_cli(training_main, argv) == 2
    assert "needs an 88-key roll" in capsys.readouterr().err


def test_export_has_serve_and_generate_endpoints(runs, tmp_path):
    import tensorflow as tf

    out = tmp_path / "export"
    assert run_cli(zoo_main, ["export", "-n", "rnn_nade", "-w", str(runs), "--output", str(out)]) == 0
    exported = tf.saved_model.load(str(out))
    assert exported.generate(tf.zeros([2, 3, 88]), tf.constant(5), tf.constant([1, 2]), tf.constant(1.0)).shape == (2, 5, 88)
    assert exported.serve(tf.zeros([1, 4, 88])).shape == (1, 4)
