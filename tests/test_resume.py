"""Crash safety of training: a killed run resumes from its backup; --check_nan stops at a NaN loss."""
from __future__ import annotations

import csv
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from helpers import ROOT, train_args
from zoo.checkpoints import load_model
from zoo.cli import run_cli, training_main

CHECKPOINT_FILES = {"last.keras", "best.keras"}


def backup_files(run: Path) -> set[str]:
    """state.json and the one weights file it names."""
    return {"state.json", json.loads((run / "backup" / "state.json").read_text())["weights"]}


def backup_iterations(run: Path) -> int:
    """The optimizer's step count in run/backup/, loaded into a freshly built model as a resume would."""
    from zoo.encodings import encoding_from_config
    from zoo.models import get_model_type
    from zoo.train import build_compiled

    config = json.loads((run / "config.json").read_text())
    encoding = encoding_from_config(config["encoding"])
    model = build_compiled(get_model_type(config["model_type"]), config["args"], encoding)
    model.optimizer.build(model.trainable_variables)
    model.load_weights(run / "backup" / json.loads((run / "backup" / "state.json").read_text())["weights"])
    return int(model.optimizer.iterations.numpy())


def logged_epochs(run: Path) -> list[int]:
    with open(run / "training_log.csv", newline="") as file:
        return [int(row["epoch"]) for row in csv.DictReader(file)]


def assert_only_expected_files(folder: Path, expected: set[str]) -> None:
    """Nothing but the expected names, and atomic temp files (hidden, so no loader picks them up)."""
    for path in folder.iterdir():
        assert path.name in expected or path.name.startswith("."), f"unexpected file {path}"


def assert_finite_model(path: Path) -> None:
    model = load_model(path)  # RunError if corrupt or truncated
    weights = model.get_weights()
    assert weights and all(np.all(np.isfinite(w)) for w in weights), f"{path} holds non-finite weights"


def test_killed_run_resumes_from_its_backup(tmp_path, event_data, capfd):
    weights, name = tmp_path / "weights", "crash"
    run = weights / name
    argv = train_args(**{"-n": name, "-p": str(event_data / "train.pkl"), "-w": str(weights),
                         "-t": str(tmp_path / "logs"), "-e": "200", "--steps_per_epoch": "3"})
    state_path = run / "backup" / "state.json"
    with open(tmp_path / "stdout", "w") as out, open(tmp_path / "stderr", "w") as err:
        process = subprocess.Popen([sys.executable, "training.py", *argv], cwd=ROOT, stdout=out, stderr=err)
        try:
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline and process.poll() is None:
                if state_path.is_file() and json.loads(state_path.read_text())["epoch"] >= 2:
                    break
                time.sleep(0.05)
            assert process.poll() is None, f"training ended early:\n{(tmp_path / 'stderr').read_text()}"
            assert state_path.is_file(), "no backup within 240 s"
            process.send_signal(signal.SIGKILL)
        finally:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL

    # What the kill left behind: only the expected names (temp files from zoo.atomic are hidden).
    assert_only_expected_files(run / "checkpoints", CHECKPOINT_FILES)
    # A kill between two steps of the backup leaves one complete but uncommitted weights file beside
    # the committed ones (the previous epoch's, not yet deleted, or the next one's, not yet named by
    # state.json); the next epoch's commit removes it.
    stale = {path.name for path in (run / "backup").glob("epoch-*.weights.h5")} - backup_files(run)
    assert len(stale) <= 1, stale
    assert_only_expected_files(run / "backup", backup_files(run) | stale)
    assert not (run / "model.keras").exists()
    for file in CHECKPOINT_FILES:
        assert_finite_model(run / "checkpoints" / file)
    state = json.loads(state_path.read_text())
    epoch = state["epoch"]
    assert epoch >= 2 and np.isfinite(state["best_val_loss"])
    iterations_before = backup_iterations(run)
    assert iterations_before >= 3 * epoch
    logged_before = logged_epochs(run)
    assert logged_before == list(range(len(logged_before))) and len(logged_before) >= epoch - 1

    # Restart with --resume_auto: the saved flags are used (the -p / sizes here are ignored except -e).
    capfd.readouterr()
    resume = train_args(**{"-n": name, "-w": str(weights), "-t": str(tmp_path / "logs"),
                           "-e": str(epoch + 2), "--resume_auto": ""})
    assert run_cli(training_main, resume) == 0
    err = capfd.readouterr().err
    assert re.search(rf"resuming '{name}' .*after epoch {epoch}\b", err), err

    # Keras numbers epochs from 0 in the log: the resumed run wrote epochs N and N+1, not 0 and 1.
    logged = logged_epochs(run)
    assert logged[-2:] == [epoch, epoch + 1], logged
    assert logged.count(0) == 1, logged
    assert json.loads(state_path.read_text())["epoch"] == epoch + 2
    # The optimizer state came back: two more epochs of 3 steps on top of the saved count.
    assert backup_iterations(run) == iterations_before + 2 * 3
    assert_only_expected_files(run / "checkpoints", CHECKPOINT_FILES)
    assert_finite_model(run / "model.keras")


def test_check_nan_stops_and_keeps_the_last_good_checkpoint(tmp_path, event_data, capfd):
    weights, name = tmp_path / "weights", "diverge"
    run = weights / name
    # One step per epoch: epoch 1's loss is computed on the initial weights (finite), then the absurd
    # learning rate throws the weights so far that the next loss overflows.
    argv = train_args(**{"-n": name, "-p": str(event_data / "train.pkl"), "-w": str(weights),
                         "-t": str(tmp_path / "logs"), "-e": "5", "--steps_per_epoch": "1",
                         "-o": "sgd", "--learning_rate": "1e30", "--check_nan": ""})
    capfd.readouterr()
    assert run_cli(training_main, argv) == 2
    err = capfd.readouterr().err
    # Training had started, so its "training '...'" line comes first; the error is the one last line.
    lines = err.splitlines()
    assert "Traceback" not in err and [line for line in lines if line.startswith("error:")] == lines[-1:], err
    match = re.fullmatch(r"error: loss became NaN at epoch (\d+), step (\d+); stopped \((.*)\)", lines[-1])
    assert match, lines[-1]
    # Epoch 1's only step is computed on the initial weights; its update makes epoch 2's first loss NaN.
    assert (int(match[1]), int(match[2])) == (2, 1)
    assert str(run / "checkpoints" / "last.keras") in match[3]
    assert not (run / "model.keras").exists()
    assert json.loads((run / "backup" / "state.json").read_text())["epoch"] == 1  # nothing saved for epoch 2
    assert_finite_model(run / "checkpoints" / "last.keras")
    assert_only_expected_files(run / "checkpoints", CHECKPOINT_FILES)
    assert_only_expected_files(run / "backup", backup_files(run))


def test_without_check_nan_a_diverged_run_trains_on_but_writes_no_nan_model(tmp_path, event_data, capfd):
    """Without --check_nan the run is not stopped, but a NaN model is never saved as model.keras."""
    weights, name = tmp_path / "weights", "diverge"
    argv = train_args(**{"-n": name, "-p": str(event_data / "train.pkl"), "-w": str(weights),
                         "-t": str(tmp_path / "logs"), "-e": "2", "--steps_per_epoch": "1",
                         "-o": "sgd", "--learning_rate": "1e30"})
    assert run_cli(training_main, argv) == 2
    assert "model.keras not written" in capfd.readouterr().err
    assert not (weights / name / "model.keras").exists()
    with open(weights / name / "training_log.csv", newline="") as file:
        losses = [float(row["loss"]) for row in csv.DictReader(file)]
    assert len(losses) == 2 and np.isfinite(losses[0]) and not np.isfinite(losses[1]), losses


def test_callback_counters_survive_a_resume(tmp_path):
    """Plateau and early-stopping counters go into state.json and come back after the callbacks' own reset."""
    import keras

    from zoo.callbacks import Checkpointer
    from zoo.models.musicvae_callbacks import RelativeReduceLROnPlateau

    def callbacks():
        return [keras.callbacks.ReduceLROnPlateau(patience=50), keras.callbacks.EarlyStopping(patience=50),
                RelativeReduceLROnPlateau(factor=0.5, patience=50)]

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).standard_normal((16, 3)).astype(np.float32)
    first = callbacks()
    model.fit(x, x[:, :1], validation_data=(x, x[:, :1]), epochs=3, verbose=0,
              callbacks=[*first, Checkpointer(tmp_path / "ckpt", tmp_path / "backup", stateful=first)])
    saved = json.loads((tmp_path / "backup" / "state.json").read_text())["callbacks"]
    assert set(saved) == {"0-ReduceLROnPlateau", "1-EarlyStopping", "2-RelativeReduceLROnPlateau"}
    assert saved["2-RelativeReduceLROnPlateau"]["best"] == first[2].best < float("inf")

    second = callbacks()
    restorer = Checkpointer(tmp_path / "ckpt", tmp_path / "backup", stateful=second, restored=saved)
    for callback in [*second, restorer]:  # the order Model.fit calls them in
        callback.set_model(model)
        callback.on_train_begin()
    for old, new in zip(first, second):
        for attribute in ("wait", "best", "cooldown_counter", "best_epoch", "bad_epochs"):
            if hasattr(old, attribute):
                assert getattr(new, attribute) == getattr(old, attribute), attribute
