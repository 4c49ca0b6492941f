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
import pytest

from helpers import ROOT, train_args
from zoo.cli import run_cli, training_main
from zoo.core.checkpoints import load_model
from zoo.core.registry import get_model_type

CHECKPOINT_FILES = {"last.keras", "best.keras"}


def backup_files(run: Path) -> set[str]:
    """state.json and the one weights file it names."""
    return {"state.json", json.loads((run / "backup" / "state.json").read_text())["weights"]}


def backup_iterations(run: Path) -> int:
    """The optimizer's step count in run/backup/, loaded into a freshly built model as a resume would."""
    from zoo.encodings import encoding_from_config
    from zoo.engine.train import build_compiled

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



def assert_backup_reads_back(run: Path) -> set[str]:
    """state.json parses and names a weights file; every weights file there reads back. Returns the stale ones."""
    import h5py

    named = backup_files(run)
    stale = {path.name for path in (run / "backup").glob("epoch-*.weights.h5")} - named
    assert len(stale) <= 1, stale
    for name in named - {"state.json"} | stale:
        with h5py.File(run / "backup" / name, "r") as file:  # a truncated file fails to open or to read
            file.visititems(lambda _, item: item[()] if isinstance(item, h5py.Dataset) else None)
    return stale


def temporaries(run: Path) -> list[Path]:
    """Hidden temporary files of zoo.atomic writes in the run's folders."""
    return [path for folder in (run, run / "checkpoints", run / "backup") for path in folder.glob(".*.tmp-*")]


def test_killed_custom_train_step_run_resumes_and_generates(tmp_path, capfd):
    """rnn_nade (its own train_step): SIGKILL as a checkpoint is being written, then --resume_auto and generate.py."""
    import keras

    from zoo.cli import generate_main
    from zoo.families.rnn_piano.polyphonic import BUNDLED_JSB

    jsb = json.loads(BUNDLED_JSB.read_text())
    data = tmp_path / "jsb_slice.json"
    data.write_text(json.dumps({"train": jsb["train"][:16], "valid": jsb["valid"][:4], "test": jsb["test"][:2]}))
    weights, name, steps = tmp_path / "weights", "nade", 2
    run = weights / name
    common = ["-m", "rnn_nade", "-n", name, "-w", str(weights), "-t", str(tmp_path / "logs"), "--dataset", str(data),
              "--num_hidden", "8", "--rnn_units", "12", "-b", "8", "-s", "16", "--steps_per_epoch", str(steps),
              "--sample_every", "0", "--verbose", "0", "--intra_op_threads", "1", "--inter_op_threads", "1"]
    with open(tmp_path / "stderr", "w") as err:
        process = subprocess.Popen([sys.executable, "training.py", *common, "-e", "500"], cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=err)
        try:
            # After epoch 2 is committed, kill as soon as a write's temporary file shows (mid-checkpoint); if the
            # polling misses every write until epoch 4 is committed, kill there (between steps): the checks
            # below hold for both.
            deadline, mid_write = time.monotonic() + 240, False
            while time.monotonic() < deadline and process.poll() is None:
                epoch = (read_state(run) or {}).get("epoch", 0)
                mid_write = epoch >= 2 and bool(temporaries(run))
                if mid_write or epoch >= 4:
                    break
                time.sleep(0.002)
            assert process.poll() is None, f"training ended early:\n{(tmp_path / 'stderr').read_text()}"
            process.send_signal(signal.SIGKILL)
        finally:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    epoch = read_state(run)["epoch"]
    assert epoch >= 2

    # Every file the kill left is complete: the checkpoints load, the backup reads back.
    assert_only_expected_files(run / "checkpoints", CHECKPOINT_FILES)
    for file in CHECKPOINT_FILES:
        assert_finite_model(run / "checkpoints" / file)
    assert_only_expected_files(run / "backup", backup_files(run) | assert_backup_reads_back(run))
    assert backup_iterations(run) == steps * epoch  # the custom train_step counted its steps
    keras.backend.clear_session()

    capfd.readouterr()
    assert run_cli(training_main, [*common, "-e", str(epoch + 2), "--resume_auto"]) == 0
    err = capfd.readouterr().err
    assert re.search(rf"resuming '{name}' from its backup after epoch {epoch}\b", err), err
    # Continued, not restarted: the optimizer came back at its step count and ran two more epochs; the log
    # holds every epoch once (a row written for an epoch the kill left uncommitted was trimmed).
    assert backup_iterations(run) == steps * (epoch + 2)
    assert logged_epochs(run) == list(range(epoch + 2))
    assert not temporaries(run), temporaries(run)
    assert_only_expected_files(run / "backup", backup_files(run))
    assert_finite_model(run / "model.keras")

    output = tmp_path / "generated"
    assert run_cli(generate_main, ["-n", name, "-w", str(weights), "--output_dir", str(output), "--num_outputs", "1",
                                   "--length", "8"]) == 0
    assert any(path.suffix == ".mid" and path.stat().st_size for path in output.iterdir()), list(output.iterdir())


def read_state(run: Path) -> dict | None:
    """backup/state.json, or None before the first commit (it is replaced atomically, never seen half-written)."""
    path = run / "backup" / "state.json"
    return json.loads(path.read_text()) if path.is_file() else None


def test_resume_trims_log_rows_of_uncommitted_epochs(tmp_path):
    """A row for an epoch the kill left uncommitted, or a row cut short, goes; the header and earlier rows stay."""
    from zoo.engine.train import trim_log

    log = tmp_path / "training_log.csv"
    log.write_bytes(b"epoch,loss\r\n0,2.5\r\n1,2.0\r\n2,1.5\r\n3,")  # Keras's CSVLogger ends rows in CRLF
    trim_log(log, 2)
    assert log.read_bytes() == b"epoch,loss\r\n0,2.5\r\n1,2.0\r\n"
    trim_log(log, 2)
    assert log.read_bytes() == b"epoch,loss\r\n0,2.5\r\n1,2.0\r\n"
    trim_log(tmp_path / "missing.csv", 1)  # nothing to trim, no error
    assert not (tmp_path / "missing.csv").exists()


def test_remove_temporaries_clears_only_what_killed_atomic_writes_left(tmp_path):
    from zoo.atomic import atomic_path, remove_temporaries

    (tmp_path / "last.keras").write_text("complete")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(tmp_path / "last.keras") as tmp:
            tmp.write_text("half")
            leftover = tmp.with_name(tmp.name.replace(".keras", "-copy.keras"))
            leftover.write_text("what a SIGKILL leaves")  # a SIGKILL runs no finally: simulate its leftover
            raise KeyboardInterrupt
    assert (tmp_path / "last.keras").read_text() == "complete"
    (tmp_path / ".hidden-user-file").write_text("not ours")
    assert remove_temporaries(tmp_path) == [leftover]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hidden-user-file", "last.keras"]

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

    from zoo.engine.callbacks import Checkpointer
    from zoo.core.optimizers import RelativeReduceLROnPlateau

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
