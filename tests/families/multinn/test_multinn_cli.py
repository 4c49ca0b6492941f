"""`-m multinn` from the command line: train on chorales (loss goes down), generate multi-track MIDI, evaluate,
DBN encoder stages, and bad input (exit 2)."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from helpers import chorale_paths
from zoo.cli import generate_main, run_cli, training_main, zoo_main
from zoo.music.io import load_score

TINY = ["--num_hidden", "16", "--num_hidden_rnn", "32", "--sample_every", "0", "--verbose", "0",
        "--intra_op_threads", "1", "--inter_op_threads", "1"]


@pytest.fixture(scope="module")
def voices(tmp_path_factory) -> Path:
    """16 chorales as four voices, 36..83, 2 steps a beat, 8-beat sequences."""
    from zoo.data.prepare import prepare
    from zoo.families.multinn.multitrack_encoding import MultitrackEncoding

    folder = tmp_path_factory.mktemp("voices")
    encoding = MultitrackEncoding(track_map="parts:4", lowest_pitch=36, highest_pitch=84, steps_per_beat=2,
                                  steps_per_model_step=1, sample_beats=8)
    prepare(chorale_paths(), encoding, folder, valid_fraction=0.125, test_fraction=0.125, progress=False)
    return folder


@pytest.fixture(scope="module")
def composer_run(voices, tmp_path_factory) -> tuple[Path, str]:
    weights = tmp_path_factory.mktemp("runs") / "weights"
    argv = ["-m", "MultINN", "-n", "voices", "-p", str(voices / "train.pkl"), "-w", str(weights),
            "-t", str(weights.parent / "logs"), "-b", "8", "-e", "3", "--steps_per_epoch", "10", *TINY]
    assert run_cli(training_main, argv) == 0
    return weights, "voices"


def test_composer_loss_goes_down_on_chorales(composer_run):
    weights, name = composer_run
    with open(weights / name / "training_log.csv") as file:
        rows = list(csv.DictReader(file))
    losses = [float(r["loss"]) for r in rows]
    assert len(rows) == 3 and losses[-1] < 0.6 * losses[0], losses
    assert float(rows[-1]["val_nll"]) < float(rows[0]["val_nll"])


def test_generate_writes_multitrack_midi_from_an_intro_and_from_nothing(composer_run, tmp_path, capsys):
    weights, name = composer_run
    for intro in ("2", "0"):
        out = tmp_path / f"intro{intro}"
        argv = ["-m", "multinn", "-n", name, "-w", str(weights), "--num_outputs", "1", "--intro_beats", intro,
                "--sample_beats", "4", "--output_dir", str(out)]
        assert run_cli(generate_main, argv) == 0
        [midi] = sorted(out.glob("*.mid"))
        assert midi.with_suffix(".wav").is_file() and midi.with_suffix(".png").is_file()
        score = load_score(midi)
        sounding = [t for t in score.tracks if len(t.notes)]
        assert 2 <= len(sounding) <= 4 and len(score.tracks) <= 4
        # intro (2 beats) + 4 generated beats = 6 beats at most
        assert score.end <= 6 * score.resolution


def test_evaluate_reports_nll_and_per_track_metrics(composer_run, capsys):
    weights, name = composer_run
    argv = ["evaluate", "-n", name, "-w", str(weights), "--num_samples", "2", "--sample_length", "4"]
    assert run_cli(zoo_main, argv) == 0
    out = capsys.readouterr().out
    assert "nll_per_step" in out and "gen_upc_Part1" in out and "data_td_Part1_Part2" in out
    with open(weights / name / "evaluation.csv") as file:
        row = next(csv.DictReader(file))
    assert 0.0 < float(row["nll_per_step"]) < 200.0


def test_dbn_encoders_pretrain_then_generators_use_them_frozen(voices, tmp_path):
    common = ["-m", "multinn", "-p", str(voices / "train.pkl"), "-w", str(tmp_path / "w"), "-t", str(tmp_path / "l"),
              "-b", "8", "-e", "1", "--steps_per_epoch", "3", "--encoder", "dbn", "--encoder_hidden", "24",
              "--mode", "joint", *TINY]
    assert run_cli(training_main, common + ["-n", "enc", "--stage", "encoders"]) == 0
    assert run_cli(training_main, common + ["-n", "gen", "--encoders_from", "enc"]) == 0
    from zoo.core.checkpoints import load_model

    enc, gen = (load_model(tmp_path / "w" / n / "model.keras") for n in ("enc", "gen"))
    for a, b in zip(enc.encoders, gen.encoders):
        assert all((x == y).all() for x, y in zip(a.get_weights(), b.get_weights()))


@pytest.mark.parametrize("extra, message", [
    (["--mode", "composer", "--generator", "rnn_rbm"], "does not work in composer mode"),
    (["--mode", "jamming", "--generator", "rnn_multinade"], "composer mode's generator"),
    (["--stage", "encoders"], "add --encoder dbn"),
    (["--encoder", "dbn"], "needs pre-trained encoders"),
    (["--encoder", "dbn", "--encoders_from", "nothing"], "no run named 'nothing'"),
    (["--mode", "jamming", "--feedback", "8"], "applies to the feedback modes"),
])
def test_bad_training_flags_exit_2(extra, message, tmp_path, capsys):
    argv = ["-m", "multinn", "-n", "bad", "-w", str(tmp_path), *extra]
    assert run_cli(training_main, argv) == 2
    assert message in capsys.readouterr().err


def test_sample_shorter_than_the_intro_exits_2(composer_run, capsys):
    weights, name = composer_run
    argv = ["-n", name, "-w", str(weights), "--intro_beats", "8", "--sample_beats", "4"]
    assert run_cli(generate_main, argv) == 2
    assert "shorter than the --intro_beats 8 intro" in capsys.readouterr().err


def test_export_has_serve_and_generate_endpoints(composer_run):
    import tensorflow as tf

    weights, name = composer_run
    assert run_cli(zoo_main, ["export", "-n", name, "-w", str(weights)]) == 0
    exported = tf.saved_model.load(str(weights / name / "export"))
    rolls = exported.generate(tf.zeros([1, 2, 48, 4]), tf.constant(3), tf.constant(0), tf.constant(1.0))
    assert rolls.shape == (1, 5, 48, 4)
    assert exported.serve(rolls).shape == (1, 5)


def test_rnn_rbm_run_evaluates_an_ais_nll_and_nade_runs_refuse_ais_flags(voices, composer_run, tmp_path, capsys):
    argv = ["-m", "multinn", "-n", "rbm", "-p", str(voices / "train.pkl"), "-w", str(tmp_path / "w"),
            "-t", str(tmp_path / "l"), "-b", "8", "-e", "1", "--steps_per_epoch", "2", "--mode", "joint",
            "--generator", "rnn_rbm", "--gibbs_k", "2", *TINY]
    assert run_cli(training_main, argv) == 0
    assert run_cli(zoo_main, ["evaluate", "-n", "rbm", "-w", str(tmp_path / "w"), "--num_samples", "0",
                              "--ais_chains", "3", "--ais_betas", "5"]) == 0
    out = capsys.readouterr().out
    assert "nll_per_step" in out and "ais_log_z_std_per_step" in out
    weights, name = composer_run
    assert run_cli(zoo_main, ["evaluate", "-n", name, "-w", str(weights), "--ais_chains", "3"]) == 2
    assert "apply to rnn_rbm runs" in capsys.readouterr().err
