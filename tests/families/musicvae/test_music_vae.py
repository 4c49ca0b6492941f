"""The musicvae model type end to end: train -> generate -> export -> evaluate, ckpt_path and train_dir."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers import NOTTINGHAM_MIDI, needs_shared
from musicvae_helpers import check_error, tiny_config, tiny_model, write_config
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
    assert len(list(out.glob("*-sample-0-*.mid"))) == 2
    folder = NOTTINGHAM_MIDI / "melody"
    assert run_cli(generate_main, [*base, "--mode", "interpolate", "--num_outputs", "3", "--input",
                                   str(folder / "ashover1.mid"), str(folder / "jigs10.mid")]) == 0
    assert len(list(out.glob(f"{name}-interpolate-*"))) == 4 * 3 and (out / f"{name}-interpolate-0-all.mid").is_file()
    assert run_cli(generate_main, [*base, "--mode", "reconstruct", "--num_outputs", "1",
                                   "--input", str(folder / "ashover2.mid")]) == 0

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
    for key in ("tf_accuracy", "sampled_accuracy", "nll_per_step", "kl_after_free_bits", "sampled_accuracy_bar_2"):
        assert key in text, key


def test_ckpt_path_and_train_dir(tmp_path):
    import shutil

    from zoo.core.checkpoints import save_model
    from zoo.errors import RunError
    from zoo.families.musicvae.music_vae import MusicVAE

    model = tiny_model(False)
    save_model(model, tmp_path / "start.keras")
    vae = {"model": model.model_config, "ckpt_path": str(tmp_path / "start.keras")}
    started = MusicVAE.build({"musicvae": vae}, None)
    for a, b in zip(model.get_weights(), started.get_weights()):
        np.testing.assert_array_equal(a, b)
    save_model(tiny_model(True), tmp_path / "hier.keras")
    with pytest.raises(RunError, match="do not fit this model"):
        MusicVAE.build({"musicvae": {**vae, "ckpt_path": str(tmp_path / "hier.keras")}}, None)

    folder = needs_shared(NOTTINGHAM_MIDI / "melody")
    for split, names in (("train", ["ashover1.mid", "ashover2.mid", "ashover3.mid"]), ("eval", ["ashover4.mid"])):
        (tmp_path / split).mkdir()
        for name in names:
            shutil.copy(folder / name, tmp_path / split / name)
    data = MusicVAE.resolve_data({"musicvae": {"train_dir": str(tmp_path / "train"), "eval_dir": str(tmp_path / "eval"),
                                               "num_workers": 1}, "seed": 0})
    assert (len(data.train.pieces), len(data.valid.pieces)) == (3, 1)
    assert data.encoding_config["name"] == "melody"
