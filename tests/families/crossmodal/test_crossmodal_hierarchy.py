"""Cross-modal VAEs with a hierarchy of latent layers (`--dims 6 4`): the bound, training, reload, play, analysis."""
import json
import shutil

import keras
import numpy as np
import pytest

from zoo.core.checkpoints import load_model, save_model
from zoo.cli import run_cli, training_main, zoo_main
from zoo.families.crossmodal.crossmodal_vae import CrossModalVAE

needs_fluidsynth = pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="the notes data needs fluidsynth")
TINY = ["--hidden_dims_1", "24", "16", "--hidden_num_1", "1", "2", "--hidden_dims_2", "12", "--hidden_num_2", "1",
        "--dims", "6", "4", "--adversarial", "1", "--adv_dim", "8"]


def _log_normal(z, mean, variance):
    return -0.5 * np.sum(np.log(2 * np.pi * variance) + (z - mean) ** 2 / variance, axis=-1)


def tiny_hierarchy(**kwargs):
    model = CrossModalVAE(signal_dim=7, head_sizes=[3, 2], hidden_1=[8, 6, 5], num_1=1, hidden_2=6, num_2=1,
                          latent_dim=[4, 3, 2], **kwargs)
    model.build()
    return model


def test_the_rate_term_is_an_unbiased_estimate_of_the_elbo_latent_terms():
    """E[kl term] = E[log q(z_0|x) + log q(z_1|z_0) + log q(z_2|z_1) - log p(z_0|z_1) - log p(z_1|z_2) - log N(z_2)]."""
    keras.utils.set_random_seed(0)
    model = tiny_hierarchy(seed=3)
    x = np.repeat(np.random.default_rng(0).normal(size=(1, 7)).astype(np.float32), 20000, axis=0)
    layers = model._posteriors("signal", x, False, 2, True)
    estimate = keras.ops.convert_to_numpy(model._rate("signal", layers, False))
    (m0, v0, z0), (m1, v1, z1), (m2, v2, z2) = [[keras.ops.convert_to_numpy(t) for t in layer] for layer in layers]
    p0 = [keras.ops.convert_to_numpy(t) for t in model._conditional_prior("signal", 1, z1, False)]
    p1 = [keras.ops.convert_to_numpy(t) for t in model._conditional_prior("signal", 2, z2, False)]
    log_ratio = (_log_normal(z0, m0, v0) + _log_normal(z1, m1, v1) + _log_normal(z2, m2, v2)
                 - _log_normal(z0, *p0) - _log_normal(z1, *p1) - _log_normal(z2, 0.0, 1.0))
    error = 4 * np.sqrt((np.var(estimate) + np.var(log_ratio)) / len(x))
    assert abs(estimate.mean() - log_ratio.mean()) < error
    # The conditional priors really depend on the layer above (not a fixed N(0, I) in disguise).
    assert np.std(p0[0], axis=0).max() > 1e-3


def test_every_layer_learns_and_the_cross_term_uses_the_top_layer():
    keras.utils.set_random_seed(1)
    model = tiny_hierarchy(cross_1=2.0, cross_2=0.5, seed=1)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 7)).astype(np.float32)
    y = np.zeros((8, 5), np.float32)
    y[np.arange(8), rng.integers(0, 3, 8)] = 1
    y[np.arange(8), 3 + rng.integers(0, 2, 8)] = 1
    before = {name: [w.numpy().copy() for w in layer.trainable_weights] for name, layer in model.vae_layers().items()}
    assert {"signal_prior_1", "signal_prior_2", "symbol_encoder_2", "symbol_prior_trunk_1"} <= set(before)
    model.train_step((x, y))
    for name, layer in model.vae_layers().items():
        assert any(not np.allclose(a, b.numpy()) for a, b in zip(before[name], layer.trainable_weights)), name
    # Posterior means all the way up (no sampling outside training): the top layer holds the shared space.
    zs, _ = model.encode_signal(x)
    assert zs.shape == (8, 2) and model.encode_signal(x, layer=0)[0].shape == (8, 4)
    outputs = model({"signal": x, "symbol": y})
    np.testing.assert_allclose(outputs["z_signal_mean"], zs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outputs["transcription_logits"], model.decode_symbol(zs), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outputs["signal_mean"], model.decode_signal(model.encode_signal(x, layer=0)[0], layer=0)[0],
                               rtol=1e-5, atol=1e-6)
    # The cross term of the loss: KLs between the top posteriors given the same draws below them.
    from zoo.families.crossmodal.crossmodal_layers import gaussian_kl

    state = model.seed_generator.state.numpy().copy()
    terms, _ = model.losses_of(x, y, training=False)
    model.seed_generator.state.assign(state)
    (ms, vs, _), (my, vy, _) = (model._posteriors(m, inputs, False, 2, True)[-1] for m, inputs in
                                (("signal", x), ("symbol", y)))
    expected = np.mean(2.0 * gaussian_kl(ms, vs, my, vy) + 0.5 * gaussian_kl(my, vy, ms, vs))
    np.testing.assert_allclose(float(terms["cross"]), expected, rtol=1e-5)


def test_one_dims_value_keeps_the_flat_model_and_its_config():
    flat = CrossModalVAE(signal_dim=7, head_sizes=[3, 2], hidden_1=8, hidden_2=6, latent_dim=4, seed=2)
    listed = CrossModalVAE(signal_dim=7, head_sizes=[3, 2], hidden_1=[8], hidden_2=[6], latent_dim=[4], seed=2)
    for model in (flat, listed):
        model.build()
    assert flat.get_config()["latent_dim"] == listed.get_config()["latent_dim"] == 4
    assert set(flat.vae_layers()) == set(listed.vae_layers()) and len(flat.vae_layers()) == 8
    listed.set_weights(flat.get_weights())
    x = np.random.default_rng(2).normal(size=(4, 7)).astype(np.float32)
    y = np.eye(5, dtype=np.float32)[[0, 1, 2, 0]] + np.eye(5, dtype=np.float32)[[3, 4, 3, 4]]
    terms_flat, _ = flat.losses_of(x, y, training=False)
    terms_listed, _ = listed.losses_of(x, y, training=False)
    for name in terms_flat:
        np.testing.assert_allclose(terms_flat[name], terms_listed[name], rtol=1e-6)


def test_hierarchy_saves_and_reloads_with_the_same_outputs(tmp_path):
    model = tiny_hierarchy(seed=4)
    save_model(model, tmp_path / "h.keras")
    again = load_model(tmp_path / "h.keras")
    assert again.latent_dims == [4, 3, 2] and again.hidden_1s == [8, 6, 5]
    x = np.random.default_rng(4).normal(size=(3, 7)).astype(np.float32)
    y = np.eye(5, dtype=np.float32)[[0, 1, 2]] + np.eye(5, dtype=np.float32)[[3, 4, 3]]
    first, second = model({"signal": x, "symbol": y}), again({"signal": x, "symbol": y})
    for key in first:
        np.testing.assert_allclose(first[key], second[key], rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def hierarchy_run(tmp_path_factory):
    """A two-level run on flute notes (every 12th pitch, two dynamics), trained 2 epochs of 3 steps."""
    root = tmp_path_factory.mktemp("crossmodal-hierarchy")
    data = root / "notes"
    assert run_cli(zoo_main, ["prepare", "--encoding", "notes", "--instruments", "Flute", "--pitch_step", "12",
                              "--dynamics", "p", "ff", "--valid_fraction", "0.25", "--test_fraction", "0.25",
                              "-o", str(data)]) == 0
    common = ["-m", "crossmodal", "-p", str(data), "-w", str(root / "weights"), "-t", str(root / "logs"),
              "--instruments", "Flute", "-b", "16", "--steps_per_epoch", "3", "--sample_every", "0", "--verbose", "0"]
    assert run_cli(training_main, ["-n", "h2", "-e", "2", "--save_epochs", "1", "--plot_epochs", "2",
                                   *common, *TINY]) == 0
    return root, data, common


@needs_fluidsynth
def test_two_level_run_trains_resumes_loads_plays_and_evaluates(hierarchy_run, tmp_path, capsys):
    import zoo.cli as cli

    root, data, common = hierarchy_run
    weights = root / "weights"
    assert (weights / "h2" / "samples" / "reconstruction-epoch-0002.png").is_file()
    model = load_model(weights / "h2" / "model.keras")
    assert model.latent_dims == [6, 4] and model.hidden_1s == [24, 16] and model.num_1s == [1, 2]
    assert model.adversarial and int(model.d_optimizer.iterations) == 6

    assert run_cli(training_main, ["-n", "h2", "--resume_auto", "-e", "3", *common, *TINY]) == 0
    assert json.loads((weights / "h2" / "backup" / "state.json").read_text())["epoch"] == 3
    assert run_cli(training_main, ["-n", "h2b", "--load", "h2", "--load_epoch", "1", "-e", "1", *common, *TINY]) == 0
    assert "epoch-0001.keras" in capsys.readouterr().err
    flat = ["--dims", "6", "--hidden_dims_1", "24", "--hidden_num_1", "1", "--hidden_dims_2", "12", "--hidden_num_2", "1"]
    assert run_cli(training_main, ["-n", "h2c", "--load", "h2", "-e", "1", *common, *flat]) == 2
    assert "latent layers" in capsys.readouterr().err

    out = ["-n", "h2", "-w", str(weights), "--output_dir", str(tmp_path), "--num_outputs", "1", "--iterations", "1"]
    assert run_cli(cli.generate_main, ["--mode", "info", *out]) == 0
    assert "latent 6 -> 4" in (tmp_path / "h2-info-0.txt").read_text()
    assert run_cli(cli.generate_main, ["--mode", "trajectory", "--trajectory", "circle", "--n_steps", "6", *out]) == 0
    t = np.arange(11025) / 22050
    from zoo.music.audio import write_wav

    write_wav((0.3 * np.sin(2 * np.pi * 659.25 * t)).astype(np.float32), tmp_path / "e5.wav", 22050)
    assert run_cli(cli.generate_main, ["--mode", "audio", "--input", str(tmp_path / "e5.wav"), *out]) == 0
    for name in ("h2-circle-0.wav", "h2-audio-0-transcription.mid", "h2-audio-0-resynthesis.wav"):
        assert (tmp_path / name).is_file(), name

    assert run_cli(zoo_main, ["evaluate", "-n", "h2", "-w", str(weights), "--classifier_epochs", "2"]) == 0
    rows = (weights / "h2" / "analysis" / "metrics.csv").read_text().splitlines()[1:]
    values = {tuple(row.split(",")[:3]): float(row.split(",")[3]) for row in rows}
    for direction in ("reconstruction", "transfer", "baseline"):
        assert 0 <= values[(direction, "classif", "pitch")] <= 1, direction
    spectral = [v for k, v in values.items() if k[1] == "spectral_ll" and k[0] in ("reconstruction", "transfer")]
    assert len(spectral) == 2 and np.all(np.isfinite(spectral))
    assert np.load(weights / "h2" / "analysis" / "baseline_pca.npz")["components"].shape[1] == 4  # the top size


@needs_fluidsynth
def test_hidden_sizes_must_match_the_latent_layers(hierarchy_run, tmp_path, capsys):
    _, data, _ = hierarchy_run
    base = ["-m", "crossmodal", "-n", "bad", "-p", str(data), "-w", str(tmp_path), "-t", str(tmp_path),
            "--instruments", "Flute"]
    cases = [
        (["--dims", "8", "4", "--hidden_dims_1", "8", "8", "8"], "--hidden_dims_1 takes one value or one per --dims"),
        (["--dims", "8", "0"], "--dims values must be at least 1"),
    ]
    for flags, message in cases:
        assert run_cli(training_main, base + flags) == 2, flags
        err = capsys.readouterr().err
        assert message in err and err.strip().startswith("error:"), (flags, err)
