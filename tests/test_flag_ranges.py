"""Flag ranges are declared at each flag (zoo/core/flags.py) and -l is checked by the engine: both are one
line and exit code 2, before any data is read or prepared and before any run folder is written."""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from zoo.cli import generate_main, run_cli, training_main, zoo_main
from zoo.core import flags

LEGACY = Path(__file__).resolve().parent / "fixtures" / "legacy_runs" / "weights"


@pytest.mark.parametrize("helper, good, bad, message", [
    (flags.positive_int, "1", "0", "must be at least 1 (got 0)"),
    (flags.non_negative_int, "0", "-1", "must be 0 or more (got -1)"),
    (flags.positive_float, "1e-9", "0", "must be more than 0 (got 0)"),
    (flags.non_negative_float, "0", "-0.5", "must be 0 or more (got -0.5)"),
    (flags.fraction, "0", "1", "must be in [0, 1) (got 1)"),
    (flags.open_fraction, "0.5", "1.0", "must be in (0, 1) (got 1.0)"),
    (flags.positive_fraction, "1", "0", "must be in (0, 1] (got 0)"),
    (flags.positive_int, "1", "1.5", "invalid int value: '1.5'"),
    (flags.positive_float, "1", "nan", "must be more than 0 (got nan)"),
])
def test_helpers(helper, good, bad, message):
    assert helper(good) == float(good)
    with pytest.raises(argparse.ArgumentTypeError, match=re.escape(message)):
        helper(bad)


def _one_error_line(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


@pytest.mark.parametrize("argv, flag", [
    (["-m", "lstm", "-b", "0"], "--batch_size"),
    (["-m", "lstm", "--min_delta", "-1"], "--min_delta"),
    (["-m", "lstm", "--learning_rate", "0"], "--learning_rate"),
    (["-m", "lstm", "--lstm_dropout_prob", "1"], "--lstm_dropout_prob"),
    (["-m", "transformer", "--max_seq_len", "0"], "--max_seq_len"),
    (["-m", "gan", "--gan_num_hidden_conv_layers", "-1"], "--gan_num_hidden_conv_layers"),
    (["-m", "poex", "--iterations", "0"], "--iterations"),
    (["-m", "compae", "--priority_loss", "0"], "--priority_loss"),
    (["-m", "musicvae", "--lr_scheduler_factor", "1"], "--lr_scheduler_factor"),
    (["-m", "crossmodal", "--dims", "8", "0"], "--dims"),
    (["-m", "rnn_rbm", "--gibbs_k", "0"], "--gibbs_k"),
    (["-m", "multinn", "--num_hidden_rnn", "256", "0"], "--num_hidden_rnn"),
])
def test_out_of_range_training_flags(tmp_path, capsys, argv, flag):
    argv = [*argv, "-n", "bad", "-w", str(tmp_path / "w"), "-t", str(tmp_path / "l")]
    assert run_cli(training_main, argv) == 2
    line = _one_error_line(capsys)
    assert line.startswith("error: argument ") and f"{flag}: " in line, line
    assert not (tmp_path / "w").exists() and not (tmp_path / "l").exists()


@pytest.mark.parametrize("main, argv, flag", [
    (generate_main, ["-n", "lstm", "-w", str(LEGACY / "lstm"), "--length", "0"], "--length"),
    (generate_main, ["-n", "lstm", "-w", str(LEGACY / "lstm"), "--num_outputs", "0"], "--num_outputs"),
    (generate_main, ["-n", "gan", "-w", str(LEGACY / "gan"), "--threshold", "1"], "--threshold"),
    (generate_main, ["-n", "multinn", "-w", str(LEGACY / "multinn"), "--temperature", "0"], "--temperature"),
    (zoo_main, ["evaluate", "-n", "lstm", "-w", str(LEGACY / "lstm"), "--num_samples", "-1"], "--num_samples"),
    (zoo_main, ["evaluate", "-n", "rnn_rbm", "-w", str(LEGACY / "rnn_rbm"), "--ais_chains", "0"], "--ais_chains"),
    (zoo_main, ["prepare", "--input", "x", "-o", "never", "--workers", "0"], "--workers"),
])
def test_out_of_range_generate_evaluate_and_prepare_flags(capsys, main, argv, flag):
    assert run_cli(main, argv) == 2
    line = _one_error_line(capsys)
    assert line.startswith(f"error: argument {flag}: ") and line.endswith("--help)"), line


@pytest.mark.parametrize("model_type, loss, takes", [
    ("lstm", "mse", "sparse_categorical_crossentropy"),
    ("gan", "sparse_categorical_crossentropy", "binary_crossentropy, mean_squared_error"),
    ("poex", "nll", "summed_nll"),
    ("musicvae", "elbo", "sparse_categorical_crossentropy"),
    ("crossmodal", "mse", "sparse_categorical_crossentropy"),
    ("rnn_nade", "cd", "nade_nll"),
    ("multinn", "summed_nll", "nll"),
])
def test_loss_function_is_checked_before_any_data(tmp_path, capsys, model_type, loss, takes):
    argv = ["-m", model_type, "-n", "bad", "-l", loss, "-p", str(tmp_path / "no_such_data"),
            "-w", str(tmp_path / "w"), "-t", str(tmp_path / "l")]
    assert run_cli(training_main, argv) == 2
    expected = f"error: -l {loss} does not apply to model type '{model_type}' (it takes: {takes})"
    assert _one_error_line(capsys) == expected
    assert not any(tmp_path.iterdir())
