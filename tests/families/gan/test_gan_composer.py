"""Tests of the GAN model type: networks, saving, resume state, sampling, CLI, and that it learns."""
from __future__ import annotations

import math
import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.core.checkpoints import load_model, save_model
from zoo.cli import generate_main, run_cli, training_main
from zoo.encodings.numeric import NUM_RESERVED
from zoo.encodings.pianoroll import PianorollEncoding
from zoo.core.registry import get_model_type
from zoo.families.gan.gan_composer import ARGMAX, BERNOULLI, CATEGORICAL, GAN, GANSampler, THRESHOLD

GAN_TYPE = get_model_type("GAN")
TINY = dict(gan_latent_dims=16, gan_num_dense_layers=2, gan_dense_hidden_size=8, gan_starting_num_channels=8,
            gan_activation="relu", gan_num_hidden_conv_layers=1, gan_hidden_conv_num_channels=8, gan_dropout_prob=0.1,
            gan_binarize="sample", loss_function="binary_crossentropy", seed=0, optimizer="adam",
            learning_rate=2e-4, seq_len=10)
TINY_FLAGS = ["--gan_latent_dims", "32", "--gan_starting_num_channels", "16", "--gan_num_hidden_conv_layers", "2",
              "--gan_hidden_conv_num_channels", "16"]
PIANOROLL = PianorollEncoding()
NUMERIC = types.SimpleNamespace(name="numeric", vocab_size=37)  # odd width: the seed never upsampled it


def tiny_gan(encoding=PIANOROLL, **overrides) -> GAN:
    keras.utils.set_random_seed(0)
    config = {**TINY, **overrides}
    model = GAN_TYPE.build(config, encoding)
    GAN_TYPE.compile(model, config)
    return model


def real_batch(shape, n=8, seed=0) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, *shape, 1)) < 0.1).astype("float32")


@pytest.mark.parametrize("encoding, shape", [(PIANOROLL, (32, 48)), (NUMERIC, (10, 37))], ids=["pianoroll", "numeric"])
def test_shapes(encoding, shape):
    model = tiny_gan(encoding)
    out = model(np.zeros((3, 16), "float32"))
    assert out.shape == (3, *shape, 1) and out.dtype == "float32"
    assert 0.0 <= float(tf.reduce_min(out)) and float(tf.reduce_max(out)) <= 1.0
    logits = model.discriminator(real_batch(shape, 3))
    assert logits.shape == (3, 1) and logits.dtype == "float32"
    # The hidden dense layer of the discriminator head exists only with --gan_num_dense_layers > 1.
    assert [layer.name for layer in model.discriminator.layers if "dense" in layer.name] == ["sn_dense_0"]
    plain = tiny_gan(encoding, gan_spectral_norm=0, gan_num_dense_layers=1)
    assert [layer.name for layer in plain.discriminator.layers if "dense" in layer.name] == []


def test_one_step_trains_both_networks_and_reports_the_losses():
    model = tiny_gan()
    before_g, before_d = model.generator.get_weights(), model.discriminator.get_weights()
    data = tf.data.Dataset.from_tensor_slices(real_batch((32, 48), 16)).batch(8)
    history = model.fit(data, validation_data=data, epochs=1, verbose=0).history
    assert {"loss", "g_loss", "d_loss", "d_real_accuracy", "d_fake_accuracy", "val_loss", "val_g_loss"} <= set(history)
    # `loss` is the pitch profile gap: an untrained generator sounds every pitch about half the time.
    assert 0.2 < history["val_loss"][0] < 0.6
    assert all(math.isfinite(v[0]) for v in history.values())
    assert all(not np.allclose(a, b) for a, b in zip(before_g, model.generator.get_weights()))
    assert all(not np.allclose(a, b) for a, b in zip(before_d, model.discriminator.get_weights()))
    assert int(model.optimizer.iterations.numpy()) == int(model.d_optimizer.iterations.numpy()) == 2


def test_reload_gives_the_same_generator_and_resume_restores_both_optimizers(tmp_path):
    model = tiny_gan(loss_function="mean_squared_error", gan_binarize="none")
    data = tf.data.Dataset.from_tensor_slices(real_batch((32, 48), 8)).batch(4)
    model.fit(data, epochs=1, verbose=0)
    z = np.random.default_rng(1).normal(size=(2, 16)).astype("float32")
    save_model(model, tmp_path / "gan.keras")
    reloaded = load_model(tmp_path / "gan.keras")
    assert isinstance(reloaded, GAN) and reloaded.loss_function == "mean_squared_error"
    np.testing.assert_allclose(reloaded(z).numpy(), model(z).numpy(), atol=1e-6)
    np.testing.assert_allclose(reloaded.discriminator(real_batch((32, 48), 2)).numpy(),
                               model.discriminator(real_batch((32, 48), 2)).numpy(), atol=1e-5)

    model.save_weights(tmp_path / "backup.weights.h5")
    fresh = tiny_gan(loss_function="mean_squared_error", gan_binarize="none")
    GAN_TYPE.build_optimizer_state(fresh)  # what the trainer calls before loading a backup
    fresh.load_weights(tmp_path / "backup.weights.h5")
    for ours, theirs in [(fresh.optimizer, model.optimizer), (fresh.d_optimizer, model.d_optimizer)]:
        assert len(ours.variables) == len(theirs.variables) > 2
        for a, b in zip(ours.variables, theirs.variables):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_mixed_float16_wraps_both_optimizers():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = tiny_gan()
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        assert isinstance(model.d_optimizer, keras.optimizers.LossScaleOptimizer)
        data = tf.data.Dataset.from_tensor_slices(real_batch((32, 48), 4)).batch(4)
        history = model.fit(data, epochs=1, verbose=0).history
        assert math.isfinite(history["loss"][0]) and model(np.zeros((1, 16), "float32")).dtype == "float32"
        assert model.discriminator(real_batch((32, 48), 1)).dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_sampler_is_compiled_once_seeded_and_keeps_specials_out():
    model = tiny_gan(NUMERIC)
    sampler = GANSampler(model, first_column=NUM_RESERVED)

    def draw(mode, seed=3, pieces=2, windows=3, temperature=1.0, threshold=0.5, step=1.0):
        return sampler.sample(tf.constant(pieces), tf.constant(windows), tf.constant(seed), tf.constant(temperature),
                              tf.constant(threshold), tf.constant(mode), tf.constant(step)).numpy()

    rows = draw(CATEGORICAL)
    assert rows.shape == (2, 30, 37) and (rows.sum(-1) == 1).all() and not rows[..., :NUM_RESERVED].any()
    np.testing.assert_array_equal(rows, draw(CATEGORICAL))
    assert not np.array_equal(rows, draw(CATEGORICAL, seed=4))
    assert not draw(ARGMAX, windows=1)[..., :NUM_RESERVED].any()
    notes = draw(BERNOULLI, temperature=0.5, step=0.3)
    assert set(np.unique(notes)) <= {0.0, 1.0}
    assert draw(THRESHOLD, threshold=0.999999).sum() == 0
    assert sampler.sample.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("flags, message", [
    (["--gan_dropout_prob", "1.5"], "--gan_dropout_prob"),
    (["--gan_activation", "wobbly"], "--gan_activation"),
    (["-l", "sparse_categorical_crossentropy"], "does not apply to model type 'gan'"),
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
    assert names == [f"chorales-0-{i}.{ext}" for i in range(2) for ext in ("mid", "png", "wav")]
    from zoo.music.io import load_score

    score = load_score(out / "chorales-0-0.mid")
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
    score = load_score(out / "tokens-0-0.mid")
    assert 0 < score.num_notes and score.end <= 36 * 240 + 480  # 3 windows of 12 tokens, 0.5 quarter apart


MIRRORED_SCRIPT = """
import sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras, numpy as np
sys.path.insert(0, "tests/models")
from test_gan import GAN_TYPE, PIANOROLL, TINY, real_batch
config = {**TINY, "optimizer": "sgd", "learning_rate": 0.1, "gan_binarize": "none", "gan_dropout_prob": None}
norms = []
for strategy in [tf.distribute.get_strategy(), tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])]:
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = GAN_TYPE.build(config, PIANOROLL)
        GAN_TYPE.compile(model, config)
    before = model.discriminator.get_weights()
    model.fit(tf.data.Dataset.from_tensor_slices(real_batch((32, 48), 8)).batch(8), epochs=1, verbose=0)
    norms.append(np.sqrt(sum(((a - b) ** 2).sum() for a, b in zip(model.discriminator.get_weights(), before))))
print("UPDATE_NORMS", norms[0], norms[1])
"""


def test_two_replicas_take_the_same_size_of_step():
    """Losses are divided by the replicas: one batch on 2 logical CPUs moves the discriminator as far as on one
    (without the division the summed replica gradients would double the step)."""
    import subprocess
    import sys

    from helpers import ROOT

    result = subprocess.run([sys.executable, "-c", MIRRORED_SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=240)
    line = next((l for l in result.stdout.splitlines() if l.startswith("UPDATE_NORMS")), None)
    assert line is not None, result.stderr[-2000:]
    one, mirrored = map(float, line.split()[1:])
    assert 0.8 < mirrored / one < 1.25, (one, mirrored)


def test_export_has_serve_and_generate_endpoints(trained_gan, tmp_path):
    from zoo.cli import zoo_main

    out = tmp_path / "export"
    assert run_cli(zoo_main, ["export", "-n", "chorales", "-w", str(trained_gan[0]), "--output", str(out)]) == 0
    exported = tf.saved_model.load(str(out))
    assert tuple(exported.serve(tf.zeros([2, 32])).shape) == (2, 32, 48, 1)
    rolls = exported.generate(tf.constant(2), tf.constant(3), tf.constant(0), tf.constant(1.0), tf.constant(0.5),
                              tf.constant(BERNOULLI), tf.constant(1.0))
    assert tuple(rolls.shape) == (2, 96, 48) and set(np.unique(rolls.numpy())) <= {0.0, 1.0}
