"""What the engine owns for every model type: --init_from, --patience/--min_delta, --max_steps, and the
gaps a resume used to leave (each test below failed on the code before the engine owned them)."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from helpers import train_args
from zoo.cli import run_cli, training_main


def logged(run: Path, column: str = "epoch") -> list[float]:
    with open(run / "training_log.csv", newline="") as file:
        return [float(row[column]) for row in csv.DictReader(file)]


def train(tmp_path, event_data, name: str, **flags) -> Path:
    argv = train_args(**{"-n": name, "-p": str(event_data / "train.pkl"), "-w": str(tmp_path / "weights"),
                         "-t": str(tmp_path / "logs"), **flags})
    assert run_cli(training_main, argv) == 0
    return tmp_path / "weights" / name


def resume(tmp_path, name: str, **flags) -> Path:
    """--resume_auto with only `flags` (no -e unless given): the run's model and data are its own."""
    argv = ["-m", "lstm", "-n", name, "-w", str(tmp_path / "weights"), "-t", str(tmp_path / "logs"),
            "--resume_auto", "--verbose", "0", *[str(x) for item in flags.items() for x in item]]
    assert run_cli(training_main, argv) == 0
    return tmp_path / "weights" / name


# ---------------------------------------------------------------- --init_from
def test_init_from_starts_from_the_other_runs_weights(tmp_path, event_data):
    source = train(tmp_path, event_data, "source", **{"-e": "3", "--steps_per_epoch": "8", "--learning_rate": "0.01"})
    scratch = train(tmp_path, event_data, "scratch", **{"-e": "1", "--steps_per_epoch": "1"})
    tuned = train(tmp_path, event_data, "tuned", **{"-e": "1", "--steps_per_epoch": "1", "--init_from": "source"})
    # One step from the source's weights, against one step from scratch: the source's last loss, not scratch's.
    assert logged(tuned, "loss")[0] < logged(scratch, "loss")[0] - 1.0
    assert logged(tuned, "loss")[0] < logged(source, "loss")[0] + 0.5
    config = json.loads((tuned / "config.json").read_text())
    assert config["args"]["init_from"] == "source"
    state = json.loads((tuned / "backup" / "state.json").read_text())
    assert state["epoch"] == 1  # epochs count from 0: a fine-tuning run is a new run


def test_init_from_a_model_file(tmp_path, event_data):
    source = train(tmp_path, event_data, "source", **{"-e": "1"})
    for path in (source / "checkpoints" / "last.keras", source / "backup" / json.loads(
            (source / "backup" / "state.json").read_text())["weights"]):
        train(tmp_path, event_data, f"from-{path.name.split('.')[0]}", **{"-e": "1", "--init_from": str(path)})


def test_a_fine_tuned_run_resumes_without_its_source(tmp_path, event_data):
    source = train(tmp_path, event_data, "source", **{"-e": "1"})
    tuned = train(tmp_path, event_data, "tuned", **{"-e": "1", "--init_from": "source"})
    shutil.rmtree(source)  # the backup holds all the resume needs
    resume(tmp_path, "tuned", **{"-e": "2"})
    assert logged(tuned) == [0, 1]


@pytest.mark.parametrize("spec, message", [
    ("nowhere", "--init_from: no run named 'nowhere'"),
    ("source:newest", "a run's checkpoint is one of best, last, final (got 'newest')"),
    ("missing.keras", "--init_from: no model file at missing.keras"),
])
def test_init_from_a_missing_source_is_one_line(tmp_path, event_data, capfd, spec, message):
    train(tmp_path, event_data, "source", **{"-e": "1"})
    argv = train_args(**{"-n": "new", "-p": str(event_data / "train.pkl"), "-w": str(tmp_path / "weights"),
                         "-t": str(tmp_path / "logs"), "--init_from": spec})
    capfd.readouterr()
    assert run_cli(training_main, argv) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "weights" / "new").exists()


def test_init_from_a_run_of_another_shape_names_the_weight(tmp_path, event_data, capfd):
    train(tmp_path, event_data, "source", **{"-e": "1"})
    argv = train_args(**{"-n": "wider", "-p": str(event_data / "train.pkl"), "-w": str(tmp_path / "weights"),
                         "-t": str(tmp_path / "logs"), "--init_from": "source"})
    argv[argv.index("--lstm_size") + 1] = "48"
    capfd.readouterr()
    assert run_cli(training_main, argv) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "do not fit this model: weight" in err[0], err
    assert "is (16, 192) here but (16, 128) in the file" in err[0], err  # 4 gates x 48 units here, x 32 there


def test_init_from_a_run_of_another_type_is_refused(tmp_path, event_data, capfd):
    train(tmp_path, event_data, "source", **{"-e": "1"})
    # Said before any data is looked at: -p names nothing here.
    argv = ["-m", "transformer", "-n", "other", "-p", str(tmp_path / "nowhere.pkl"), "-w", str(tmp_path / "weights"),
            "-t", str(tmp_path / "logs"), "-e", "1", "--init_from", "source", "--verbose", "0"]
    capfd.readouterr()
    assert run_cli(training_main, argv) == 2
    assert "that run is a 'lstm' model, this run trains 'transformer'" in capfd.readouterr().err


# ---------------------------------------------------------------- early stopping and --max_steps
def test_patience_stops_and_keeps_its_count_across_a_resume(tmp_path, event_data):
    # No fall of val_loss is as large as --min_delta 100: the epoch after the first counts as no better.
    run = train(tmp_path, event_data, "patient", **{"-e": "1", "--patience": "1", "--min_delta": "100"})
    assert logged(run) == [0]
    resume(tmp_path, "patient", **{"-e": "6"})
    # The restored counter stops it after one more epoch; a reset one would have taken two.
    assert logged(run) == [0, 1]


def test_lr_plateau_multiplies_the_learning_rate_and_keeps_its_count_across_a_resume(tmp_path, event_data):
    # At a learning rate of 1e-9 no epoch improves val_loss by 1e-4 relative: each one after the first is a bad one.
    run = train(tmp_path, event_data, "plateau", **{"-e": "2", "--learning_rate": "1e-9",
                                                    "--lr_plateau_patience": "1", "--lr_plateau_factor": "0.5"})
    assert logged(run, "learning_rate") == pytest.approx([1e-9, 1e-9])
    resume(tmp_path, "plateau", **{"-e": "4"})
    # The restored count (one bad epoch) makes the third epoch the second bad one, more than the patience of 1.
    assert logged(run, "learning_rate") == pytest.approx([1e-9, 1e-9, 5e-10, 5e-10])


def test_lr_plateau_slows_every_optimizer_of_the_model_together():
    import keras

    from zoo.core.optimizers import RelativeReduceLROnPlateau

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(1.0), loss="mse")
    model.d_optimizer = keras.optimizers.Adam(2.0)  # as a GAN keeps its discriminator's
    callback = RelativeReduceLROnPlateau(factor=0.5, patience=0)
    callback.set_model(model)
    for epoch in range(2):
        callback.on_epoch_end(epoch, {"val_loss": 1.0})  # the second is no better: 1 bad epoch > patience 0
    assert float(model.optimizer.learning_rate.numpy()) == 0.5
    assert float(model.d_optimizer.learning_rate.numpy()) == 1.0


def test_lr_plateau_is_refused_for_a_type_with_its_own_schedule(tmp_path, capfd):
    argv = ["-m", "musicvae", "-n", "x", "-w", str(tmp_path / "weights"), "--lr_plateau_patience", "2"]
    assert run_cli(training_main, argv) == 2
    err = capfd.readouterr().err.strip()
    assert err == ("error: --lr_plateau_patience does not apply to model type 'musicvae': it schedules its learning "
                   "rate itself (--lr_scheduler_factor and --lr_scheduler_patience, on each evaluation)"), err
    assert not (tmp_path / "weights").exists()


def test_max_steps_counts_across_a_resume(tmp_path, event_data):
    run = train(tmp_path, event_data, "limited", **{"-e": "1", "--steps_per_epoch": "4", "--max_steps": "6"})
    assert logged(run) == [0]
    resume(tmp_path, "limited", **{"-e": "9"})
    assert logged(run) == [0, 1]  # two more steps, in the second epoch
    state = json.loads((run / "backup" / "state.json").read_text())
    assert [value for key, value in state["callbacks"].items() if key.endswith("StepLimit")] == [{"steps": 6}]
    resume(tmp_path, "limited", **{"-e": "9"})
    assert logged(run) == [0, 1]  # nothing left to train


# ---------------------------------------------------------------- resume gaps
def test_resume_without_e_keeps_the_runs_epoch_count(tmp_path, event_data):
    run = train(tmp_path, event_data, "counted", **{"-e": "2"})
    resume(tmp_path, "counted")  # no -e: the run's own 2, not the flag default of 10
    assert logged(run) == [0, 1]
    assert json.loads((run / "config.json").read_text())["args"]["epochs"] == 2


def redo_last_epoch(run: Path, older_backup: Path) -> None:
    """Puts back the backup of an epoch before: as if the run had been killed after writing the last epoch's
    checkpoints and logs but before committing its state.json."""
    shutil.rmtree(run / "backup")
    shutil.copytree(older_backup, run / "backup")


def test_kill_between_best_and_state_does_not_replace_a_better_best(tmp_path, event_data):
    from zoo.core.checkpoints import read_model_metadata

    run = train(tmp_path, event_data, "best", **{"-e": "1", "--steps_per_epoch": "4"})
    shutil.copytree(run / "backup", tmp_path / "epoch-1-backup")
    resume(tmp_path, "best", **{"-e": "2"})
    best = run / "checkpoints" / "best.keras"
    best_val_loss = read_model_metadata(best)["val_loss"]
    assert best_val_loss == logged(run, "val_loss")[1] < logged(run, "val_loss")[0]
    best_bytes = best.read_bytes()
    redo_last_epoch(run, tmp_path / "epoch-1-backup")
    # The redone epoch trains one step (not four), so it ends better than epoch 1 but worse than best.keras.
    resume(tmp_path, "best", **{"-e": "2", "--max_steps": "5"})
    assert best_val_loss < logged(run, "val_loss")[1] < logged(run, "val_loss")[0]
    assert best.read_bytes() == best_bytes
    assert json.loads((run / "backup" / "state.json").read_text())["best_val_loss"] == best_val_loss


def epoch_loss_steps(log_dir: Path) -> list[int]:
    import tensorflow as tf

    steps = []
    for path in sorted(log_dir.glob("events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            steps += [event.step for value in event.summary.value if value.tag == "epoch_loss"]
    return sorted(steps)


def test_tensorboard_shows_a_redone_epoch_once(tmp_path, event_data):
    run = train(tmp_path, event_data, "board", **{"-e": "1"})
    shutil.copytree(run / "backup", tmp_path / "epoch-1-backup")
    resume(tmp_path, "board", **{"-e": "2"})
    assert epoch_loss_steps(tmp_path / "logs" / "board" / "train") == [0, 1]
    redo_last_epoch(run, tmp_path / "epoch-1-backup")
    resume(tmp_path, "board", **{"-e": "2"})
    assert epoch_loss_steps(tmp_path / "logs" / "board" / "train") == [0, 1]
    assert epoch_loss_steps(tmp_path / "logs" / "board" / "validation") == [0, 1]


def test_a_sample_killed_mid_write_leaves_no_half_file(tmp_path, monkeypatch, corpus_scores):
    import zoo.music.midi
    from zoo.music.io import write_piece

    stem = tmp_path / "samples" / "epoch-0001"
    write_piece(corpus_scores[0], stem)
    before = (tmp_path / "samples" / "epoch-0001.mid").read_bytes()

    def dies_half_way(score, path):
        Path(path).write_bytes(b"MThd\x00\x00")  # the start of a MIDI file, then the kill
        raise KeyboardInterrupt

    monkeypatch.setattr(zoo.music.midi, "write_midi", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        write_piece(corpus_scores[1], stem)
    assert (tmp_path / "samples" / "epoch-0001.mid").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [
        "epoch-0001.mid", "epoch-0001.png", "epoch-0001.wav"]
