"""lstmprovisor's simple and poex model types end to end: training, generation, export, resume, bad flags."""
from __future__ import annotations

import zipfile

import numpy as np
import pytest
from leadsheet_helpers import leadsheet_folders

from helpers import check_reruns_add_outputs
from zoo.cli import generate_main, run_cli, training_main, zoo_main
from zoo.core.checkpoints import load_model
from zoo.core.registry import get_model_type
from zoo.families.leadsheet import leadsheet_encoding as ls
from zoo.music.leadsheet import read_leadsheet


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return leadsheet_folders(tmp_path_factory.mktemp("leadsheets"))


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
    assert chunks == 2 and len(list(tmp_path.glob("tiny-sample-s0-*.ls"))) == chunks
    # Each chunk's arrays are cut to its real length, like its lead sheet: 3 bars, then the 1 bar left.
    assert [np.load(tmp_path / f"tiny-sample-s0-{k}-chosen.npy").shape for k in range(2)] == [(144,), (48,)]
    assert read_leadsheet(tmp_path / "tiny-sample-s0-1.ls").metadata["end_tick"] == str(480)
    probs = np.load(tmp_path / "tiny-sample-s0-0-probs.npy")
    np.testing.assert_allclose(probs.sum(-1), 1, atol=1e-5)
    assert np.load(tmp_path / "tiny-sample-s0-0-info-1.npy").shape == probs.shape == (144, 39)
    assert (tmp_path / "tiny-sample-s0-1-source.txt").read_text().strip().endswith("starting at 144 = bar 3")
    from zoo.music.io import load_score

    generated = load_score(tmp_path / "tiny-sample-s0-0.ls")
    assert len(generated.chords) > 0
    assert (tmp_path / "tiny-sample-s0-0.mid").is_file() and (tmp_path / "tiny-sample-s0-0.wav").is_file()


def test_generating_again_never_overwrites(trained, tmp_path):
    files = check_reruns_add_outputs(["-n", "tiny", "-w", str(trained), "--bars", "1", "--num_outputs", "1"],
                                     tmp_path)
    parts = [".ls", ".mid", ".wav", ".png", "-source.txt", "-chosen.npy", "-probs.npy", "-info-0.npy", "-info-1.npy"]
    assert sorted(files) == sorted(f"tiny-sample-{stem}{part}" for stem in ("s1-0", "s1-1", "s2-0") for part in parts)
    assert files["tiny-sample-s1-1-chosen.npy"] == files["tiny-sample-s1-0-chosen.npy"]  # same seed, same melody


def test_generate_over_dataset_segments(trained, tmp_path):
    argv = ["-n", "tiny", "-w", str(trained), "--output_dir", str(tmp_path), "--generate", "--num_outputs", "2"]
    assert run_cli(generate_main, argv) == 0
    assert [np.load(tmp_path / f"tiny-sample-s0-{k}-chosen.npy").shape for k in range(2)] == [(192,)] * 2


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


def test_resume_starts_from_the_parameters_and_goes_on_counting(trained, folders, tmp_path, capsys):
    """--resume TIMESTEP PARAMFILE is --init_from PARAMFILE; the epochs and Adam's step counter go on from TIMESTEP."""
    import csv
    import json

    source = trained / "tiny" / "model.keras"
    common = ["-m", "poex", "-w", str(tmp_path / "w"), "-t", str(tmp_path / "l"), "--dataset", str(folders / "a"),
              "--validation", str(folders / "v"), "--num_layers", "1", "--steps_per_epoch", "1", "-e", "3",
              "--sample_every", "0", "--verbose", "0"]
    # Another seed and a learning rate too small to move the weights: the run keeps PARAMFILE's.
    argv = ["-n", "resumed", "--layer_size", "8", "--resume", "2", str(source), "--seed", "1",
            "--learning_rate", "1e-9"]
    assert run_cli(training_main, [*argv, *common]) == 0
    run = tmp_path / "w" / "resumed"
    assert json.loads((run / "config.json").read_text())["args"]["init_from"] == str(source)
    rows = csv.DictReader((run / "training_log.csv").read_text().splitlines())
    assert [row["epoch"] for row in rows] == ["2"]  # 2 steps of 1 a epoch were done
    resumed, start = load_model(run / "model.keras"), load_model(source)
    for a, b in zip(resumed.trainable_weights, start.trainable_weights, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    model_type = get_model_type("poex")
    config = {"layer_size": [8], "num_layers": [1], "resume": [7, str(source)], "steps_per_epoch": 3}
    model = model_type.build(config, None)
    model_type.compile(model, config)
    assert int(model.optimizer.iterations) == 7 and model_type.initial_epoch(config) == 2
    assert model_type.initial_epoch({"steps_per_epoch": 3}) == 0

    def fails(extra, message):
        capsys.readouterr()
        assert run_cli(training_main, [*common, *extra]) == 2, extra
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error:") and message in err[0], err

    fails(["-n", "wider", "--layer_size", "16", "--resume", "0", str(source)], "do not fit this model")
    fails(["-n", "both", "--resume", "0", str(source), "--init_from", "tiny"], "name different starting weights")


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
    argv = ["-n", "tiny", "-w", str(trained), "--output_dir", str(tmp_path), "--generate_over", str(make(folders)),
            width]
    assert run_cli(generate_main, argv) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_chords_only_file_is_fine_for_generate_over(trained, tmp_path):
    source = tmp_path / "chart.ls"
    source.write_text("(part (type chords))\nCm7 | F7 | BbM7 | / |\n")
    out = tmp_path / "out"
    assert run_cli(generate_main, ["-n", "tiny", "-w", str(trained), "--output_dir", str(out),
                                   "--generate_over", str(source), "full"]) == 0
    assert np.load(out / "tiny-sample-s0-0-chosen.npy").shape == (192,)
