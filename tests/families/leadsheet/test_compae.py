"""lstmprovisor's compressing autoencoder `compae`: every encoding x manager trains, reload, sampling, CLI, export."""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

from helpers import SHARED_DATA, needs_shared
from zoo.cli import generate_main, run_cli, training_main, zoo_main
from zoo.core.checkpoints import load_model, save_model
from zoo.core.registry import get_model_type
from zoo.families.leadsheet import leadsheet_encoding as ls
from zoo.families.leadsheet.leadsheet_flags import MANAGERS, QUEUELESS
from zoo.families.leadsheet.leadsheet_network import LeadSheetGenerator
from zoo.music.leadsheet import read_leadsheet

LICKS = SHARED_DATA / "leadsheets" / "combination" / "rbmprovisor-ii-V-I"
COMPAE = get_model_type("compae")


def config_for(encoding="poex", manager="queueless_std", **extra):
    args = {"model_type": "compae", "encoding": encoding, "manager": manager, "feature_size": 4, "layer_size": [4],
            "num_layers": [1], "segment_len": "1bar", "segment_step": "1bar", "loss_function": "summed_nll",
            "iterations": None, "steps_per_epoch": 1, "seed": 0, "optimizer": "adam", "jit_compile": False,
            "feature_period": 24 if manager in QUEUELESS else None, **extra}
    return COMPAE.check_args(args)


def real_batch(config, bars=(0, 1, 2), steps=48):
    """Windows of `steps` steps at the start of some bars of a real ii-V-I lick (0003.ls: rests, then eighths)."""
    grid = ls.score_to_grid(read_leadsheet(needs_shared(LICKS / "0003.ls")))
    windows = [ls.window(grid, 48 * bar + 48 - steps, steps) for bar in bars]
    inputs, target = COMPAE.encode_batch(COMPAE.input_encoding(config), windows, np.zeros(len(windows), int),
                                          COMPAE.experts(config))
    return COMPAE.model_inputs(inputs, COMPAE.experts(config)), target, windows


@pytest.mark.parametrize("manager", MANAGERS)
@pytest.mark.parametrize("encoding", ["abs", "cot", "rel", "poex"])
def test_every_encoding_and_manager_takes_a_training_step(encoding, manager):
    keras.utils.set_random_seed(0)
    # --add_loss: under the default priority mode a large sparsity loss alone would steer the first step.
    config = config_for(encoding, manager, add_pre_noise=0.5, add_post_noise=0.1, add_loss=True)
    model = COMPAE.build(config, None)
    COMPAE.compile(model, config)
    model.run_eagerly = True  # one step: tracing would cost more than it saves
    inputs, target, _ = real_batch(config, bars=(0, 1), steps=24)  # the second halves of bars 1 and 2
    before = [v.numpy().copy() for v in model.trainable_variables]
    logs = model.train_on_batch(inputs, target, return_dict=True)
    assert np.isfinite(logs["loss"]) and logs["reconstruction_loss"] > 0
    assert logs["features_per_bar"] == pytest.approx(2.0 if manager in QUEUELESS else logs["mean_strength"] * 48)
    if manager in ("std", "nearness_std", "var", "sample_var"):
        assert logs["sparsity_loss"] > 0
    assert (logs["variational_loss"] > 0) == (manager in ("var", "sample_var", "queueless_var"))
    assert (logs["surrogate_loss"] != 0) == (manager == "sample_var")
    changed = [not np.array_equal(a, v.numpy()) for a, v in zip(before, model.trainable_variables)]
    assert all(changed)  # the encoder learns too (sample_var through the surrogate and expected sparsity)


@pytest.mark.parametrize("manager, extra", [("std", {"per_note": 2, "hide_output": True}),
                                            ("queueless_var", {"add_pre_noise": 1.0})])
def test_reload_gives_the_same_outputs(tmp_path, manager, extra):
    keras.utils.set_random_seed(1)
    config = config_for("rel" if extra.get("per_note") else "poex", manager, **extra)
    model = COMPAE.build(config, None)
    inputs, _, _ = real_batch(config)
    save_model(model, tmp_path / "m.keras")
    expected = np.asarray(model(inputs))  # var managers sample: the saved SeedGenerator state replays the draws
    assert expected.shape == (3, 48, 39)
    np.testing.assert_allclose(expected.sum(-1), 1, atol=1e-5)
    reloaded = load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(reloaded(inputs)), expected, atol=1e-6)
    if extra.get("per_note"):
        assert reloaded.get_layer("dec_interval_lstm1").cell.units == 4 + 2 * 25


def test_train_decoder_only_leaves_the_encoder_alone():
    config = config_for("poex", "std", train_decoder_only=True)
    model = COMPAE.build(config, None)
    COMPAE.compile(model, config)
    model.run_eagerly = True
    inputs, target, _ = real_batch(config, bars=(0,))
    before = {v.path: v.numpy().copy() for v in model.trainable_variables}
    model.train_on_batch(inputs, target)
    for v in model.trainable_variables:
        assert np.array_equal(before[v.path], v.numpy()) == ("/enc_" in v.path), v.path


def test_trigger_state_follows_the_loss_mode():
    config = config_for("abs", "std", trigger_loss=[1e6, 2.0])
    model = COMPAE.build(config, None)
    COMPAE.compile(model, config)
    model.run_eagerly = True
    inputs, target, _ = real_batch(config, bars=(0,))
    scales = [model.train_on_batch(inputs, target, return_dict=True) for _ in range(3)]
    assert float(model.trigger_on) == 1.0 and float(model.trigger_scale) == 1.0
    assert scales[0]["queue_loss"] > 0  # R < 1e6 at once: the scale ramps 0, 0.5, 1 after the latch


def test_generation_decodes_from_the_features_and_compiles_once():
    keras.utils.set_random_seed(2)
    config = config_for("poex", "std")
    model = COMPAE.build(config, None)
    inputs, _, windows = real_batch(config)
    managed = model.encode(inputs)
    generator = LeadSheetGenerator(model, ("interval", "chord"), prefix="dec_", feature_size=4)
    roots = np.stack([w["root"] for w in windows]).astype("int32")
    chords = np.stack([w["chord"] for w in windows]).astype("float32")
    chosen, probs, _ = (np.asarray(x) for x in generator.generate(roots, chords, np.full(3, 72, "int32"),
                                                                   np.array([3, 0], "int32"), managed["features"]))
    # Teacher-forcing the sampled melody through the decoder with the same features gives the same distributions.
    rows = {kind: [ls.expert_features(kind, c, r, h, 72 - (c[c >= 2][0] - 2 + 48) if (c >= 2).any() else 0)
                   for c, r, h in zip(chosen, roots, chords)] for kind in ("interval", "chord")}
    forced = {f"{k}_features": np.stack([f for f, _ in v]) for k, v in rows.items()}
    forced.update({f"{k}_pos": np.stack([p for _, p in v]) for k, v in rows.items()})
    np.testing.assert_allclose(np.asarray(model.decode(forced, managed["features"])[0]), probs, atol=1e-5)
    generator.generate(roots[:1, :24], chords[:1, :24], np.full(1, 60, "int32"), np.array([1, 2], "int32"),
                       managed["features"][:1, :24])
    assert generator.generate.experimental_get_tracing_count() == 1


def test_default_sizes_match_the_shipped_connectome():
    """Spec §4.3: poex_fixed_feature_noise_corrected (compae poex queueless_std), 2 x 300 encoder and decoder."""
    from zoo.families.leadsheet.connectome import connectome_tensors

    config = config_for("poex", "queueless_std", feature_size=100, layer_size=None, num_layers=[2])
    model = COMPAE.build(config, None)
    shapes = {k: v.shape for k, v in connectome_tensors(model, ("interval", "chord"), "enc_", "enc_")
              + connectome_tensors(model, ("interval", "chord"), "dec_", "dec_")}
    assert shapes["enc_0_lstm1_input_w"] == (300, 350) and shapes["enc_1_lstm1_input_w"] == (300, 337)
    assert shapes["enc_0_full_w"] == (100, 300) and shapes["enc_0_lstm2_out_w"] == (300, 600)
    assert shapes["dec_0_lstm1_input_w"] == (300, 450) and shapes["dec_1_lstm1_input_w"] == (300, 437)
    assert shapes["dec_0_full_w"] == (27, 300) and shapes["dec_0_lstm2_initialstate"] == (600,)


# ---------------------------------------------------------------- command line, end to end
@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("licks")
    for folder, names in (("train", ["0003", "0004", "0005", "0007"]), ("valid", ["0008"])):
        (root / folder).mkdir()
        for name in names:
            shutil.copy(needs_shared(LICKS / f"{name}.ls"), root / folder / f"{name}.ls")
    return root


@pytest.fixture(scope="module")
def trained(folders, tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    argv = ["-m", "compae", "-n", "ae", "-w", str(runs / "w"), "-t", str(runs / "l"),
            "--dataset", str(folders / "train"), "--validation", str(folders / "valid"),
            "--encoding", "poex", "--manager", "queueless_std", "--feature_period", "24", "--add_loss",
            "--feature_size", "5", "--layer_size", "6", "--num_layers", "1", "--iterations", "1",
            "--batch_size", "2", "--sample_every", "1", "--sample_length", "96", "--verbose", "0", "--jit_compile", "false"]
    assert run_cli(training_main, argv) == 0
    return runs


def test_training_logs_both_losses_and_the_strengths(trained):
    import csv

    rows = list(csv.DictReader((trained / "w" / "ae" / "training_log.csv").open()))
    for key in ("reconstruction_loss", "queue_loss", "mean_strength", "features_per_bar", "val_loss"):
        assert key in rows[-1]
    assert float(rows[-1]["features_per_bar"]) == pytest.approx(2.0)  # a feature every half note
    assert (trained / "w" / "ae" / "samples" / "epoch-0001.mid").is_file()
    assert list((trained / "l" / "ae").rglob("events.out.tfevents.*"))


def test_generate_over_trades_with_a_solo(trained, folders, tmp_path):
    source = folders / "valid" / "0008.ls"
    argv = ["-n", "ae", "-w", str(trained / "w"), "--output_dir", str(tmp_path), "--generate_over", str(source), "2bar"]
    assert run_cli(generate_main, argv) == 0
    stems = [tmp_path / f"ae-sample-s0-{k}" for k in range(2)]
    assert all(np.load(f"{stem}-chosen.npy").shape == (96,) for stem in stems)
    expert = [np.stack([np.load(f"{stem}-info-{i}.npy") for stem in stems]) for i in range(5)]
    assert expert[0].shape == expert[1].shape == (2, 96, 39)
    features, strengths, vectors = expert[2], expert[3], expert[4]
    assert features.shape == vectors.shape == (2, 96, 5) and strengths.shape == (2, 96)
    assert strengths[0].nonzero()[0].tolist() == [23, 47, 71, 95]
    np.testing.assert_allclose(features[:, :24], np.repeat(vectors[:, 23:24], 24, axis=1), atol=1e-6)
    assert Path(f"{stems[1]}-source.txt").read_text().strip().endswith("starting at 96 = bar 2")
    assert read_leadsheet(f"{stems[1]}.ls").chords
    assert Path(f"{stems[0]}.wav").is_file() and Path(f"{stems[0]}.mid").is_file()


def test_generate_encodes_dataset_segments(trained, tmp_path):
    argv = ["-n", "ae", "-w", str(trained / "w"), "--output_dir", str(tmp_path), "--generate", "--num_outputs", "2"]
    assert run_cli(generate_main, argv) == 0
    assert np.load(tmp_path / "ae-sample-s0-1-chosen.npy").shape == (192,)  # the run's 4-bar segments
    assert "0008.ls: starting at" in (tmp_path / "ae-sample-s0-0-source.txt").read_text()


def test_export_connectome_layout(trained, tmp_path):
    out = tmp_path / "trade.ctome"
    assert run_cli(zoo_main, ["export", "-n", "ae", "-w", str(trained / "w"), "--format", "connectome",
                              "--output", str(out)]) == 0
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        assert archive.read("config.txt").decode() == "autoencoder_product_interval_chords"
        shapes = {name[6:-4]: np.atleast_2d(np.loadtxt(archive.open(name), delimiter=",", ndmin=2)).shape
                  for name in names if name.startswith("param_")}
    keys = [name[6:-4] for name in names if name.startswith("param_")]
    expected = []
    for part in ("enc", "dec"):  # all encoders, then all decoders
        for e in (0, 1):
            expected += [f"{part}_{e}_lstm1_{gate}_{wb}" for gate in ("input", "forget", "activate", "out")
                         for wb in ("w", "b")]
            expected += [f"{part}_{e}_full_w", f"{part}_{e}_full_b", f"{part}_{e}_lstm1_initialstate"]
    assert keys == expected
    assert shapes["enc_0_lstm1_input_w"] == (6, 50 + 6) and shapes["enc_1_lstm1_input_w"] == (6, 37 + 6)
    assert shapes["enc_0_full_w"] == (5, 6)  # queueless_std: F = 5 activations
    assert shapes["dec_0_lstm1_input_w"] == (6, 9 + 2 + 12 + 5 + 27 + 6)
    assert shapes["dec_0_full_w"] == (27, 6) and shapes["dec_1_full_w"] == (14, 6)


def test_export_savedmodel_encodes_and_decodes(trained, tmp_path):
    import tensorflow as tf

    out = tmp_path / "saved"
    assert run_cli(zoo_main, ["export", "-n", "ae", "-w", str(trained / "w"), "--output", str(out)]) == 0
    loaded = tf.saved_model.load(str(out))
    config = config_for("poex", "queueless_std")
    inputs, _, windows = real_batch(config)
    features, strengths, vectors = loaded.encode({k: tf.constant(v) for k, v in inputs.items()})
    assert features.shape == vectors.shape == (3, 48, 5) and np.asarray(strengths)[0].nonzero()[0].tolist() == [23, 47]
    roots = tf.constant(np.stack([w["root"] for w in windows]), tf.int32)
    chords = tf.constant(np.stack([w["chord"] for w in windows]), tf.float32)
    chosen, probs, experts = loaded.decode(roots, chords, tf.constant([72] * 3), tf.constant([1, 2]), features)
    assert chosen.shape == (3, 48) and probs.shape == (3, 48, 39) and experts.shape == (2, 3, 48, 39)


@pytest.mark.parametrize("extra, message", [
    (["--manager", "queueless_std", "--feature_period", "25"], "does not divide the segment"),
    (["--manager", "std", "--feature_period", "24"], "--feature_period applies to --manager queueless_std"),
    (["--manager", "std", "--variational_loss_scale", "0.1"], "--variational_loss_scale applies to"),
    (["--manager", "queueless_var", "--sparsity_loss_scale", "2"], "--sparsity_loss_scale applies to"),
    (["--trigger_loss", "4"], "expected 2 arguments"),
    (["--add_loss", "--cutoff_loss", "4"], "loss modes exclude each other"),
    (["--trigger_loss", "4", "0"], "RAMP_TIME must be positive"),
    (["--encoding", "abs", "--per_note"], "--per_note applies"),
    (["--separate_rhythm"], "is a flag of model type 'poex'"),
])
def test_bad_flags_exit_2(extra, message, tmp_path, capsys):
    assert run_cli(training_main, ["-m", "compae", "-n", "bad", "-w", str(tmp_path)] + extra) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_export_needs_an_impro_visor_layout(tmp_path):
    config = config_for("abs", "std")
    with pytest.raises(Exception, match="Impro-Visor plays only compae --encoding poex"):
        COMPAE.write_export("connectome", None, config, None, tmp_path / "x.ctome")
