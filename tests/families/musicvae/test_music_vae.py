"""The musicvae model type end to end: train -> generate -> export -> evaluate, ckpt_path and train_dir."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from musicvae_helpers import check_error, tiny_config, tiny_model, write_config

from helpers import NOTTINGHAM_MIDI, needs_shared
from zoo.cli import generate_main, run_cli, training_main, zoo_main


@pytest.fixture(scope="module")
def melody_data(tmp_path_factory) -> Path:
    from zoo.data.prepare import prepare

    folder = needs_shared(NOTTINGHAM_MIDI / "melody")
    files = [str(folder / f"ashover{i}.mid") for i in range(1, 13)]
    out = tmp_path_factory.mktemp("melody-data")
    prepare(files, "melody", out, valid_fraction=0.17, test_fraction=0.17, progress=False)
    return out


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory, melody_data) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("vae-runs")
    argv = ["-m", "musicvae", "-n", "vae", "-p", str(melody_data / "train.pkl"), "-w", str(root / "w"),
            "-t", str(root / "logs"), "--config", write_config(root, tiny_config()), "--sample_every", "1",
            "--sample_length", "48", "--verbose", "0"]
    assert run_cli(training_main, argv) == 0
    return root / "w", "vae"


def test_train_writes_schedules_and_samples(vae_run):
    import csv

    weights, name = vae_run
    run = weights / name
    rows = list(csv.DictReader(open(run / "training_log.csv")))
    assert len(rows) == 2  # num_steps 4 / evaluate_interval 2
    for key in ("r_loss", "kl", "beta", "sampling", "accuracy", "val_accuracy", "val_tf_accuracy"):
        assert key in rows[0], key
    assert float(rows[0]["val_sampling"]) == 1.0 and float(rows[1]["beta"]) > float(rows[0]["beta"])
    assert (run / "samples" / "epoch-0002.mid").is_file()
    assert any((run / "samples").glob("step-*-reconstruction.wav"))  # advanced_interval


def test_generate_and_evaluate(vae_run, tmp_path, capsys):
    weights, name = vae_run
    out = tmp_path / "out"
    base = ["-n", name, "-w", str(weights), "--output_dir", str(out), "--temperature", "0"]
    assert run_cli(generate_main, ["-n", name, "-w", str(weights), "--num_outputs", "2", "--output_dir", str(out)]) == 0
    assert len(list(out.glob("*-sample-s0-*.mid"))) == 2
    folder = NOTTINGHAM_MIDI / "melody"
    assert run_cli(generate_main, [*base, "--mode", "interpolate", "--num_outputs", "3", "--input",
                                   str(folder / "ashover1.mid"), str(folder / "jigs10.mid")]) == 0
    assert len(list(out.glob(f"{name}-interpolate-s0-*"))) == 4 * 3
    assert (out / f"{name}-interpolate-s0-0-all.mid").is_file()
    assert run_cli(generate_main, [*base, "--mode", "reconstruct", "--num_outputs", "1",
                                   "--input", str(folder / "ashover2.mid")]) == 0
    assert {p.name for p in out.glob(f"{name}-reconstruct-*.mid")} == {f"{name}-reconstruct-s0-0.mid",
                                                                         f"{name}-reconstruct-s0-0-original.mid"}

    def fails(extra, match):
        check_error(capsys, generate_main, [*base, *extra], match)

    fails(["--mode", "interpolate", "--num_outputs", "3", "--input", str(folder / "ashover1.mid")], "takes 2 --input")
    drums = tmp_path / "drums.mid"
    from zoo.music.io import save_score
    from zoo.music.score import Score, Track, make_notes

    save_score(Score(tracks=[Track(is_drum=True, notes=make_notes([36], [0], [480]))]), drums)
    fails(["--mode", "reconstruct", "--num_outputs", "1", "--input", str(drums)], "not melodic")
    one_bar = tmp_path / "one_bar.mid"
    save_score(Score(tracks=[Track(notes=make_notes([60, 62], [0, 960], [960, 1920]))]), one_bar)
    fails(["--mode", "interpolate", "--num_outputs", "3", "--input", str(folder / "ashover1.mid"), str(one_bar)],
          "1 bar(s); this model needs 2")

    import tensorflow as tf

    assert run_cli(zoo_main, ["export", "-n", name, "-w", str(weights), "--output", str(tmp_path / "export")]) == 0
    exported = tf.saved_model.load(str(tmp_path / "export"))
    classes = exported.decode(tf.zeros([2, 16]), tf.constant(0.0), tf.constant([0, 0]))
    assert classes.shape == (2, 32)
    assert run_cli(zoo_main, ["evaluate", "-n", name, "-w", str(weights), "-b", "16"]) == 0
    text = capsys.readouterr().out
    for key in ("tf_accuracy", "sampled_accuracy", "sampled_accuracy_temperature_1", "nll_per_step", "kl_after_free_bits",
                "sampled_accuracy_bar_2"):
        assert key in text, key


def test_ckpt_path_starts_from_the_files_weights(vae_run, melody_data, tmp_path, capsys):
    """The seed's `ckpt_path` is `--init_from FILE`: the engine loads the file into the new run."""
    import json

    from zoo.core.checkpoints import load_model, save_model

    weights, name = vae_run
    source = weights / name / "model.keras"
    config = write_config(tmp_path, tiny_config(ckpt_path=str(source)))
    common = ["-m", "musicvae", "-p", str(melody_data / "train.pkl"), "-w", str(tmp_path / "w"), "-t",
              str(tmp_path / "logs"), "--config", config, "--steps_per_epoch", "1", "-e", "1", "--sample_every", "0",
              "--advanced_interval", "0", "--verbose", "0"]
    # Another seed (another initialisation) and a learning rate too small to move the weights.
    assert run_cli(training_main, ["-n", "tuned", "--seed", "1", "--learning_rate", "1e-9", *common]) == 0
    run = tmp_path / "w" / "tuned"
    assert json.loads((run / "config.json").read_text())["args"]["init_from"] == str(source)
    tuned, trained = load_model(run / "model.keras"), load_model(source)
    for a, b in zip(tuned.trainable_weights, trained.trainable_weights, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)

    save_model(tiny_model(True), tmp_path / "hier.keras")
    check_error(capsys, training_main, ["-n", "hier", "--ckpt_path", str(tmp_path / "hier.keras"), *common],
                "do not fit this model")
    check_error(capsys, training_main, ["-n", "both", "--init_from", str(tmp_path / "hier.keras"), *common],
                "name different starting weights")
    check_error(capsys, training_main, ["-n", "none", "--ckpt_path", str(tmp_path / "none.keras"), *common],
                "ckpt_path: no model file")


def test_train_dir_and_eval_dir(tmp_path):
    import shutil

    from zoo.families.musicvae.music_vae import MusicVAE

    folder = needs_shared(NOTTINGHAM_MIDI / "melody")
    for split, names in (("train", ["ashover1.mid", "ashover2.mid", "ashover3.mid"]), ("eval", ["ashover4.mid"])):
        (tmp_path / split).mkdir()
        for name in names:
            shutil.copy(folder / name, tmp_path / split / name)
    data = MusicVAE.resolve_data({"musicvae": {"train_dir": str(tmp_path / "train"), "eval_dir": str(tmp_path / "eval"),
                                               "num_workers": 1}, "seed": 0})
    assert (len(data.train.pieces), len(data.valid.pieces)) == (3, 1)
    assert data.encoding_config["name"] == "melody"
