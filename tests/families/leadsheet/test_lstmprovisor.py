"""lstmprovisor's simple and poex model types: layers against the numpy reference, generation, CLI, export."""
from __future__ import annotations

import shutil
import zipfile

import keras
import numpy as np
import pytest

from helpers import SHARED_DATA, needs_shared
from zoo.core.checkpoints import load_model, save_model
from zoo.cli import generate_main, run_cli, training_main, zoo_main
from zoo.families.leadsheet import leadsheet_encoding as ls
from zoo.families.leadsheet import experts as layers
from zoo.core.registry import get_model_type
from zoo.families.leadsheet.leadsheet_network import LeadSheetGenerator
from zoo.families.leadsheet.lstmprovisor import connectome_tensors, segment_starts
from zoo.music.leadsheet import read_leadsheet

LEADSHEETS = SHARED_DATA / "leadsheets" / "combination"
TINY = {"layer_size": [8], "num_layers": [2]}


def tiny_model(name="poex", **config):
    keras.utils.set_random_seed(0)
    config = {**TINY, **config}
    return get_model_type(name).build(config, None), config


def random_batch(model_type, config, batch=2, steps=48, seed=0):
    rng = np.random.default_rng(seed)
    pitch = rng.integers(50, 80, (batch, steps))
    pitch[:, ::7] = -1
    pieces = [{"pitch": p, "onset": (rng.random(steps) < 0.4).astype(np.uint8), "root": rng.integers(0, 12, steps),
               "chord": rng.integers(0, 2, (steps, 12))} for p in pitch]
    inputs, target = model_type.input_encoding(config).batch(pieces, rng.integers(-12, 13, batch),
                                                             model_type.experts(config))
    return model_type._model_inputs(inputs, model_type.experts(config)), target, pieces


def test_default_poex_has_the_spec_parameter_count():
    model = get_model_type("poex").build({"layer_size": [300], "num_layers": [2]}, None)
    assert model.count_params() == 1_151_727 + 1_132_214


def test_keras_decoders_match_the_numpy_reference():
    rng = np.random.default_rng(1)
    act27, pos = rng.normal(size=(2, 5, 27)).astype("float32"), rng.integers(48, 85, (2, 5))
    np.testing.assert_allclose(layers.IntervalDecoder()([act27, pos]), ls.interval_probs(act27, pos), atol=1e-6)
    act25 = act27[..., 2:]
    np.testing.assert_allclose(layers.IntervalDecoder(with_artic=False)([act25, pos]),
                               ls.interval_probs(act25, pos, with_artic=False), atol=1e-6)
    act14, root = rng.normal(size=(2, 5, 14)).astype("float32"), rng.integers(0, 12, (2, 5))
    np.testing.assert_allclose(layers.ChordDecoder()([act14, root]), ls.chord_probs(act14, root), atol=1e-6)
    act13 = rng.normal(size=(2, 5, 13)).astype("float32")
    np.testing.assert_allclose(layers.CircleOfThirdsDecoder(high=84)(act13), ls.cot_probs(act13), atol=1e-6)
    act3 = rng.normal(size=(2, 5, 3)).astype("float32")
    np.testing.assert_allclose(layers.RhythmDecoder()(act3), ls.rhythm_probs(act3), atol=1e-6)
    p = [ls.interval_probs(act27, pos), ls.chord_probs(act14, root)]
    np.testing.assert_allclose(layers.ProductOfExperts()(p), ls.product(p), atol=1e-6)
    target = rng.integers(0, 39, (2, 5))
    loss = layers.SummedNLL()(target, ls.product(p).astype("float32"))
    assert float(loss) == pytest.approx(ls.nll(ls.product(p), target), rel=1e-5)


@pytest.mark.parametrize("name, config", [("poex", {}), ("poex", {"separate_rhythm": True}),
                                          ("simple", {"encoding": "abs"}), ("simple", {"encoding": "cot"}),
                                          ("simple", {"encoding": "rel"})])
def test_outputs_are_distributions_and_reload_gives_the_same(tmp_path, name, config):
    model, config = tiny_model(name, **config)
    model_type = get_model_type(name)
    inputs, _, _ = random_batch(model_type, config)
    probs = np.asarray(model(inputs))
    assert probs.shape == (2, 48, 38 if config.get("encoding") == "cot" else 39)
    np.testing.assert_allclose(probs.sum(-1), 1, atol=1e-5)
    save_model(model, tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(load_model(tmp_path / "m.keras")(inputs)), probs, atol=1e-6)


def test_per_note_memory_moves_with_the_position(tmp_path):
    cell = layers.PerNoteLSTMCell(5, per_note=1, window=4, mode="drop")
    c = np.array([[9, 1, 2, 3, 4]], "float32")  # one independent cell, then notes a b c d
    assert np.asarray(cell.shift_memory(c, np.array([1.0]))).tolist() == [[9, 2, 3, 4, 0]]
    assert np.asarray(cell.shift_memory(c, np.array([-1.0]))).tolist() == [[9, 0, 1, 2, 3]]
    roll = layers.PerNoteLSTMCell(5, per_note=1, window=4, mode="roll")
    assert np.asarray(roll.shift_memory(c, np.array([-1.0]))).tolist() == [[9, 4, 1, 2, 3]]
    model, config = tiny_model(per_note=2)
    assert model.get_layer("interval_lstm1").cell.units == 8 + 2 * 25
    assert model.get_layer("chord_lstm2").cell.units == 8 + 2 * 12
    inputs, _, _ = random_batch(get_model_type("poex"), config)
    save_model(model, tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(load_model(tmp_path / "m.keras")(inputs)), np.asarray(model(inputs)),
                               atol=1e-6)


def test_dropout_uses_one_mask_per_sequence():
    model, _ = tiny_model()
    dropped = np.asarray(model.get_layer("interval_dropout1")(np.ones((3, 20, 8), "float32"), training=True))
    assert np.all(dropped == dropped[:, :1, :])  # same units dropped at every step
    assert set(np.unique(dropped)) <= {0.0, 2.0}


@pytest.mark.parametrize("name, config", [("simple", {"encoding": "cot"}), ("poex", {"separate_rhythm": True}),
                                          ("poex", {"per_note": 2})])
def test_generation_matches_the_teacher_forced_network_and_compiles_once(name, config):
    model, config = tiny_model(name, **config)
    model_type = get_model_type(name)
    experts = model_type.experts(config)
    _, _, pieces = random_batch(model_type, config, steps=40)
    roots = np.stack([p["root"] for p in pieces]).astype("int32")
    chords = np.stack([p["chord"] for p in pieces]).astype("float32")
    generator = LeadSheetGenerator(model, experts)
    chosen, probs, _ = (np.asarray(x) for x in generator.generate(roots, chords, np.full(2, 72, "int32"),
                                                                   np.array([3, 0], "int32")))
    encoding = model_type.input_encoding(config)
    features = {}
    for kind in experts:
        rows = [ls.expert_features(kind, c, r, h, 72 - (c[c >= 2][0] - 2 + 48) if (c >= 2).any() else 0,
                                   encoding.low, encoding.high) for c, r, h in zip(chosen, roots, chords)]
        features[f"{kind}_features"] = np.stack([f for f, _ in rows])
        features[f"{kind}_pos"] = np.stack([p for _, p in rows])
    forced = np.asarray(model(model_type._model_inputs(features, experts)))
    np.testing.assert_allclose(forced, probs, atol=1e-5)
    generator.generate(roots[:1, :10], chords[:1, :10], np.full(1, 60, "int32"), np.array([1, 2], "int32"))
    assert generator.generate.experimental_get_tracing_count() == 1


def test_segment_starts_include_the_last_one():
    assert segment_starts(192, 192, 48).tolist() == [0]
    assert segment_starts(240, 192, 48).tolist() == [0, 48]


def test_connectome_layout_follows_the_spec():
    model, _ = tiny_model(layer_size=[8, 6])
    tensors = connectome_tensors(model, ("interval", "chord"))
    keys = [k for k, _ in tensors]
    expected = []
    for e in (0, 1):
        for layer in (1, 2):
            for gate in ("input", "forget", "activate", "out"):
                expected += [f"{e}_lstm{layer}_{gate}_w", f"{e}_lstm{layer}_{gate}_b"]
        expected += [f"{e}_full_w", f"{e}_full_b", f"{e}_lstm1_initialstate", f"{e}_lstm2_initialstate"]
    assert keys == expected
    shapes = dict((k, v.shape) for k, v in tensors)
    assert shapes["0_lstm1_input_w"] == (8, 50 + 8) and shapes["1_lstm1_input_w"] == (6, 37 + 6)
    assert shapes["0_lstm2_out_b"] == (8,) and shapes["0_full_w"] == (27, 8) and shapes["1_full_w"] == (14, 6)
    assert shapes["1_lstm2_initialstate"] == (12,)
    # W_k = [kernel_k^T, recurrent_k^T]: the forget gate is Keras's second column block.
    kernel = model.get_layer("interval_lstm1").cell.kernel.numpy()
    np.testing.assert_array_equal(dict(tensors)["0_lstm1_forget_w"][:, :50], kernel[:, 8:16].T)


# ---------------------------------------------------------------- command line, end to end
@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("leadsheets")
    blues, licks = needs_shared(LEADSHEETS / "blues"), LEADSHEETS / "rbmprovisor-ii-V-I"
    for folder, files in (("a", [blues / "C Major.ls", blues / "F Major.ls"]),
                          ("b", [licks / "0003.ls", licks / "0004.ls"]),
                          ("v", [blues / "G Major.ls", LEADSHEETS / "transcriptions" / "LittleDancerHarrell.ls"])):
        (root / folder).mkdir()
        for path in files:
            shutil.copy(path, root / folder / path.name)
    return root


@pytest.fixture(scope="module")
def trained(folders, tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    argv = ["-m", "poex", "-n", "tiny", "-w", str(runs / "w"), "-t", str(runs / "l"),
            "--dataset", str(folders / "a"), str(folders / "b"), "--validation", str(folders / "v"),
            "--layer_size", "8", "--num_layers", "1", "--iterations", "2", "--steps_per_epoch", "1",
            "--sample_every", "2", "--sample_length", "48", "--verbose", "0"]
    assert run_cli(training_main, argv) == 0
    return runs / "w"


def test_training_writes_a_run_with_samples(trained):
    run = trained / "tiny"
    assert (run / "model.keras").is_file() and (run / "samples" / "epoch-0002.mid").is_file()
    assert not (run / "samples" / "epoch-0001.mid").exists()  # --sample_every 2
    import json

    args = json.loads((run / "config.json").read_text())["args"]
    assert (args["batch_size"], args["learning_rate"], args["epochs"], args["steps_per_epoch"]) == (10, 2e-4, 2, 1)


def test_generate_over_writes_the_seed_outputs(trained, tmp_path, folders):
    source = folders / "b" / "0003.ls"  # 4 bars: chunks of 3 bars give 3 + 1 (the last one cut short)
    argv = ["-n", "tiny", "-w", str(trained), "--output_dir", str(tmp_path), "--generate_over", str(source), "144"]
    assert run_cli(generate_main, argv) == 0
    bars = ls.score_to_grid(read_leadsheet(source))["root"].size // 48
    chunks = -(-bars // 3)
    assert chunks == 2 and len(list(tmp_path.glob("generated_*.ls"))) == chunks
    assert np.load(tmp_path / "generated_chosen.npy").shape == (chunks, 144)
    assert read_leadsheet(tmp_path / "generated_1.ls").metadata["end_tick"] == str(480)
    probs = np.load(tmp_path / "generated_probs.npy")
    np.testing.assert_allclose(probs.sum(-1), 1, atol=1e-5)
    assert np.load(tmp_path / "generated_info_1.npy").shape == probs.shape
    lines = (tmp_path / "generated_sources.txt").read_text().splitlines()
    assert len(lines) == chunks and lines[1].endswith("starting at 144 = bar 3")
    from zoo.music.io import load_score

    generated = load_score(tmp_path / "generated_0.ls")
    assert len(generated.chords) > 0
    assert (tmp_path / "generated_0.mid").is_file() and (tmp_path / "generated_0.wav").is_file()


def test_generate_over_dataset_segments(trained, tmp_path):
    argv = ["-n", "tiny", "-w", str(trained), "--output_dir", str(tmp_path), "--generate", "--num_outputs", "2"]
    assert run_cli(generate_main, argv) == 0
    assert np.load(tmp_path / "generated_chosen.npy").shape == (2, 192)


def test_export_connectome(trained, tmp_path):
    out = tmp_path / "model.ctome"
    assert run_cli(zoo_main, ["export", "-n", "tiny", "-w", str(trained), "--format", "connectome",
                              "--output", str(out)]) == 0
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        assert archive.read("config.txt").decode() == "generative_product_interval_chords"
        first = np.loadtxt(archive.open("param_0_lstm1_input_w.csv"), delimiter=",")
    assert first.shape == (8, 50 + 8) and "param_1_full_b.csv" in names


def test_export_savedmodel_serves_and_generates(trained, tmp_path):
    import tensorflow as tf

    out = tmp_path / "saved"
    assert run_cli(zoo_main, ["export", "-n", "tiny", "-w", str(trained), "--output", str(out)]) == 0
    loaded = tf.saved_model.load(str(out))
    roots = tf.zeros([1, 48], tf.int32)
    chords = tf.one_hot(tf.zeros([1, 48], tf.int32), 12)
    chosen, probs, experts = loaded.generate(roots, chords, tf.constant([72]), tf.constant([1, 2]))
    assert chosen.shape == (1, 48) and probs.shape == (1, 48, 39) and experts.shape == (2, 1, 48, 39)


def test_resume_loads_the_parameters(trained):
    model_type = get_model_type("poex")
    source = load_model(trained / "tiny" / "model.keras")
    config = {"layer_size": [8], "num_layers": [1], "resume": [7, str(trained / "tiny" / "model.keras")]}
    model = model_type.build(config, None)
    for a, b in zip(model.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(a, b)
    # Iterations are numbered on from TIMESTEP: 7 steps of 3 a epoch are two whole epochs done.
    assert model_type.initial_epoch({**config, "steps_per_epoch": 3}) == 2
    assert model_type.initial_epoch({"steps_per_epoch": 3}) == 0


@pytest.mark.parametrize("extra, message", [
    (["--segment_len", "4bars"], "--segment_len must be"),
    (["--iterations", "5", "--steps_per_epoch", "2"], "not a multiple"),
    (["--layer_size", "8", "8", "8"], "one value or one per expert"),
    (["--dataset", "/no/such/folder"], "no such dataset folder"),
    (["--resume", "0", "/no/such.keras"], "no parameter file"),
    (["--per_note", "--separate_rhythm"], "--per_note applies"),
])
def test_bad_training_flags_exit_2(extra, message, tmp_path, capsys):
    argv = ["-m", "poex", "-n", "bad", "-w", str(tmp_path)] + extra
    assert run_cli(training_main, argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("make, width, message", [
    (lambda d: d / "missing.ls", "full", "no such file"),
    (lambda d: d / "v" / "LittleDancerHarrell.ls", "4bar", "3/4"),
    (lambda d: d / "b" / "0003.ls", "8bar", "longer than"),
])
def test_bad_generate_over_exits_2(trained, folders, tmp_path, capsys, make, width, message):
    argv = ["-n", "tiny", "-w", str(trained), "--output_dir", str(tmp_path), "--generate_over", str(make(folders)), width]
    assert run_cli(generate_main, argv) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_chords_only_file_is_fine_for_generate_over(trained, tmp_path):
    source = tmp_path / "chart.ls"
    source.write_text("(part (type chords))\nCm7 | F7 | BbM7 | / |\n")
    out = tmp_path / "out"
    assert run_cli(generate_main, ["-n", "tiny", "-w", str(trained), "--output_dir", str(out),
                                   "--generate_over", str(source), "full"]) == 0
    assert np.load(out / "generated_chosen.npy").shape == (1, 192)


def test_batches_draw_each_dataset_folder_and_skip_unusable_files(folders, tmp_path, monkeypatch, capsys):
    from zoo.families.leadsheet import lstmprovisor

    monkeypatch.setattr(lstmprovisor, "CACHE_ROOT", tmp_path / "cache")
    (folders / "v" / "chords_only.ls").write_text("(part (type chords))\nC7 | F7 | C7 | G7 |\n")
    model_type = get_model_type("poex")
    args = model_type.check_args({"model_type": "poex", "dataset": [str(folders / "a"), str(folders / "b")],
                                  "validation": str(folders / "v"), "segment_len": "4bar", "segment_step": "1bar",
                                  "loss_function": "summed_nll", "layer_size": None, "num_layers": [2],
                                  "iterations": None, "steps_per_epoch": 10, "seed": 0, "batch_size": 4})
    data = model_type.resolve_data(args)
    err = capsys.readouterr().err
    assert "LittleDancerHarrell.ls: meter 3/4" in err and "chords_only.ls: no notes" in err
    assert len(data.train.pieces) == 4 and len(data.valid.pieces) == 1
    assert sorted(map(len, model_type._groups(data.train, args["dataset"]))) == [2, 2]
    train_ds, valid_ds, _ = model_type.datasets(data, None, args)
    inputs, target = next(iter(train_ds))
    assert inputs["interval_features"].shape == (4, 192, 50) and inputs["chord_pos"].shape == (4, 192)
    assert target.shape == (4, 192) and int(np.max(target)) < 39
    (folders / "v" / "chords_only.ls").unlink()
