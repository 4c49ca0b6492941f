"""Tests of the GAN model type: flags, training.py / generate.py / resume / export on real chorales, and that it learns."""
from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from gan_helpers import GAN_TYPE

from zoo.cli import generate_main, run_cli, training_main
from zoo.core.checkpoints import load_model
from zoo.families.gan.gan_model import GAN
from zoo.families.gan.gan_sampler import BERNOULLI

TINY_FLAGS = ["--gan_latent_dims", "32", "--gan_starting_num_channels", "16", "--gan_num_hidden_conv_layers", "2",
              "--gan_hidden_conv_num_channels", "16"]


@pytest.mark.parametrize("flags, message", [
    (["--gan_dropout_prob", "1.5"], "--gan_dropout_prob"),
    (["--gan_activation", "wobbly"], "--gan_activation"),
    (["-l", "sparse_categorical_crossentropy"],
     "-l sparse_categorical_crossentropy does not apply to model type 'gan'"),
    (["--gan_latent_dims", "0"], "--gan_latent_dims"),
    (["--lstm_size", "8"], "model type 'lstm'"),
])
def test_bad_training_flags_exit_2(tmp_path, capsys, flags, message):
    argv = ["-m", "gan", "-n", "bad", "-w", str(tmp_path / "w"), "-t", str(tmp_path / "l"), *flags]
    assert run_cli(training_main, argv) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("error:") and message in error
    assert not (tmp_path / "w").exists()


# ---------------------------------------------------------------- on real chorales
@pytest.fixture(scope="session")
def pianoroll_data(tmp_path_factory, chorale_files):
    """The 16 test chorales as 2-bar piano-roll samples (one 3/4 chorale is skipped by the meter check)."""
    from zoo.data.prepare import prepare

    folder = tmp_path_factory.mktemp("pianoroll-data")
    prepare(chorale_files, "pianoroll", folder, valid_fraction=0.125, test_fraction=0.125, progress=False)
    return folder


@pytest.fixture(scope="session")
def trained_gan(tmp_path_factory, pianoroll_data):
    """A tiny GAN trained for 300 steps (15 epochs of 20) through training.py; returns (weights, logs).

    Without spectral normalisation: on 129 samples it learns faster, and 300 steps are what the test can afford
    (with it the same 300 steps move the metrics less; it pays off on the full corpus, see README "GAN").
    """
    root = tmp_path_factory.mktemp("gan-runs")
    argv = ["-m", "GAN", "-n", "chorales", "-d", "pianoroll", "-p", str(pianoroll_data / "train.pkl"),
            "-w", str(root / "weights"), "-t", str(root / "logs"), "-e", "15", "--steps_per_epoch", "20", "-b", "16",
            "--seed", "0", "--gan_activation", "leaky_relu", "--learning_rate", "5e-4", "--gan_spectral_norm", "0",
            "--sample_every", "15",
            "--sample_length", "2", "--verbose", "0", *TINY_FLAGS]
    assert run_cli(training_main, argv) == 0
    return root / "weights", root / "logs"


def test_training_and_generate_write_the_run_and_music(trained_gan, tmp_path, capsys):
    weights, logs = trained_gan
    run = weights / "chorales"
    assert {"config.json", "model.keras", "training_log.csv"} <= {p.name for p in run.iterdir()}
    assert (run / "checkpoints" / "best.keras").is_file() and (run / "backup" / "state.json").is_file()
    assert (run / "samples" / "epoch-0015.mid").is_file() and any(logs.glob("chorales/train/*"))
    out = tmp_path / "out"
    argv = ["-m", "gan", "-n", "chorales", "-w", str(weights), "--num_outputs", "2", "--num_bars", "4",
            "--output_dir", str(out), "--latent_step", "0.5"]
    assert run_cli(generate_main, argv) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"chorales-sample-s0-{i}.{ext}" for i in range(2) for ext in ("mid", "png", "wav")]
    from zoo.music.io import load_score

    score = load_score(out / "chorales-sample-s0-0.mid")
    assert score.num_notes > 0 and score.end <= 4 * 4 * score.resolution
    assert run_cli(generate_main, [*argv[:6], "--threshold", "1.5"]) == 2
    assert "--threshold" in capsys.readouterr().err


def backup_steps(run) -> tuple[int, int]:
    """(generator, discriminator) optimizer steps in run/backup/, loaded as the trainer's resume does."""
    import json

    from zoo.encodings import encoding_from_config
    from zoo.engine.train import build_compiled

    config = json.loads((run / "config.json").read_text())
    model = build_compiled(GAN_TYPE, config["args"], encoding_from_config(config["encoding"]))
    GAN_TYPE.build_optimizer_state(model)
    model.load_weights(run / "backup" / json.loads((run / "backup" / "state.json").read_text())["weights"])
    return int(model.optimizer.iterations.numpy()), int(model.d_optimizer.iterations.numpy())


def test_resume_continues_both_optimizers(trained_gan, pianoroll_data, tmp_path):
    """--resume_auto loads the backup into both optimizers and trains on from the saved epoch."""
    import shutil

    weights = tmp_path / "weights"
    shutil.copytree(trained_gan[0] / "chorales", weights / "chorales")
    g_steps, d_steps = backup_steps(weights / "chorales")
    assert g_steps == d_steps == 300
    argv = ["-m", "gan", "-n", "chorales", "-w", str(weights), "-t", str(tmp_path / "logs"), "-e", "16",
            "--resume_auto", "--sample_every", "0", "--verbose", "0"]
    assert run_cli(training_main, argv) == 0
    model = load_model(weights / "chorales" / "model.keras")
    rows = (weights / "chorales" / "training_log.csv").read_text().strip().splitlines()
    assert rows[-1].startswith("15,") and len(rows) == 17  # header + 15 epochs + the resumed one
    assert isinstance(model, GAN)
    assert backup_steps(weights / "chorales") == (320, 320)


LEARNING_METRICS = ("polyphony", "n_pitches_used", "pitch_class_entropy", "pitch_in_scale_rate", "scale_consistency")


def relative_distances(generated: dict, reference: dict, baseline: dict) -> dict[str, float]:
    """|generated - data| / |untrained - data| per metric: below 1 means closer to the data than before."""
    return {name: abs(generated[name] - reference[name]) / max(abs(baseline[name] - reference[name]), 1e-6)
            for name in LEARNING_METRICS}


def test_gan_learns_the_chorales_statistics(trained_gan, pianoroll_data):
    """Samples of the trained generator are closer to the training data's musical metrics than the untrained one's."""
    from zoo.data.dataset import load_split
    from zoo.engine.generate import load_run
    from zoo.metrics import corpus_metrics

    run, config, model_type, encoding, trained = load_run(str(trained_gan[0]), "chorales", checkpoint="final")
    keras.utils.set_random_seed(0)
    untrained = model_type.build(config["args"], encoding)  # the same initial weights as the run
    train = load_split(pianoroll_data / "train.pkl")
    data = corpus_metrics([encoding.decode(piece) for piece in train.pieces])
    before = corpus_metrics(model_type.sample_scores(untrained, config["args"], encoding, 16, seed=1, length=8))
    after = corpus_metrics(model_type.sample_scores(trained, config["args"], encoding, 16, seed=1, length=8))
    distances = relative_distances(after, data, before)
    report = {name: (round(data[name], 3), round(before[name], 3), round(after[name], 3)) for name in LEARNING_METRICS}
    print("metric: (data, untrained, trained)", report)
    assert all(math.isfinite(after[name]) for name in LEARNING_METRICS), report
    assert np.mean(list(distances.values())) < 0.6, (distances, report)
    assert sum(d < 1.0 for d in distances.values()) >= 4, (distances, report)
    assert distances["polyphony"] < 0.5, (distances, report)


def test_numeric_windows_train_and_generate(tmp_path, chorale_files):
    """The seed's data: one-hot windows of numeric tokens; generation draws one non-special token per step."""
    from zoo.data.prepare import prepare
    from zoo.music.io import load_score

    data = tmp_path / "numeric"
    prepare(chorale_files[:6], "numeric", data, valid_fraction=0.2, test_fraction=0.0, progress=False)
    weights = tmp_path / "weights"
    argv = ["-m", "gan", "-n", "tokens", "-d", "numeric", "-p", str(data / "train.pkl"), "-w", str(weights),
            "-t", str(tmp_path / "logs"), "-s", "12", "-e", "1", "--steps_per_epoch", "2", "-b", "8",
            "--sample_every", "0", "--verbose", "0", *TINY_FLAGS]
    assert run_cli(training_main, argv) == 0
    out = tmp_path / "out"
    assert run_cli(generate_main, ["-n", "tokens", "-w", str(weights), "--num_outputs", "1", "--length", "30",
                                   "--output_dir", str(out)]) == 0
    score = load_score(out / "tokens-sample-s0-0.mid")
    assert 0 < score.num_notes and score.end <= 36 * 240 + 480  # 3 windows of 12 tokens, 0.5 quarter apart


def test_export_has_serve_and_generate_endpoints(trained_gan, tmp_path):
    from zoo.cli import zoo_main

    out = tmp_path / "export"
    assert run_cli(zoo_main, ["export", "-n", "chorales", "-w", str(trained_gan[0]), "--output", str(out)]) == 0
    exported = tf.saved_model.load(str(out))
    assert tuple(exported.serve(tf.zeros([2, 32])).shape) == (2, 32, 48, 1)
    rolls = exported.generate(tf.constant(2), tf.constant(3), tf.constant(0), tf.constant(1.0), tf.constant(0.5),
                              tf.constant(BERNOULLI), tf.constant(1.0))
    assert tuple(rolls.shape) == (2, 96, 48) and set(np.unique(rolls.numpy())) <= {0.0, 1.0}


def test_evaluate_reports_the_test_pitch_frequency_gap(trained_gan, pianoroll_data, tmp_path):
    """`python -m zoo evaluate` gives a GAN its validation numbers on the test split: the trained generator's
    pitch-frequency gap is below an untrained one's, and the discriminator's accuracies are rates."""
    from zoo.data.dataset import load_split
    from zoo.engine.generate import load_run

    run, config, model_type, encoding, trained = load_run(str(trained_gan[0]), "chorales", checkpoint="final")
    split = load_split(pianoroll_data / "test.pkl")
    numbers = model_type.evaluate(trained, config["args"], encoding, split, {"batch_size": 16}, run)
    keras.utils.set_random_seed(0)
    untrained = model_type.evaluate(model_type.build(config["args"], encoding), config["args"], encoding, split,
                                    {"batch_size": 16}, run)
    assert 0 <= numbers["pitch_frequency_gap"] < untrained["pitch_frequency_gap"], (numbers, untrained)
    assert all(0 <= numbers[name] <= 1 for name in ("d_real_accuracy", "d_fake_accuracy")), numbers
