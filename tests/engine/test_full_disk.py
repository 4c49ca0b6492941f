"""A disk that refuses a write (full, quota, permissions, read-only) stops the zoo with one line naming the file,
keeps the last committed epoch, and the resume finishes once the disk has room.

On a real small file system where the test may mount one (tmpfs, as root), and by failures injected at each
write of the trainer (permissions cannot be tested for real as root).
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
from pathlib import Path

import keras
import pytest
import tensorflow as tf

from helpers import train_args
from zoo.atomic import temporaries
from zoo.cli import generate_main, run_cli, training_main
from zoo.core.checkpoints import load_model


def _mount_tmpfs(folder: Path, size: str) -> None:
    """Mounts a tmpfs of `size` at `folder`, or skips the test saying why it cannot."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small file system needs root and mount(8)")
    folder.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")


@pytest.fixture
def small_disk(tmp_path):
    disk = tmp_path / "disk"
    _mount_tmpfs(disk, "32m")
    yield disk
    subprocess.run(["umount", str(disk)], check=True)


def _argv(event_data: Path, weights: Path, logs: Path, epochs: int, resume: bool = False) -> list[str]:
    argv = train_args(**{"-n": "run", "-p": str(event_data / "train.pkl"), "-w": str(weights), "-t": str(logs),
                         "-e": str(epochs), "--steps_per_epoch": "2"})
    return argv + (["--resume_auto"] if resume else [])


def _fill(folder: Path) -> Path:
    """Writes a file into `folder` until its file system is full; returns it."""
    filler = folder / "filler"
    with open(filler, "wb") as file:
        try:
            while True:
                file.write(b"\0" * (1 << 16))
                file.flush()
        except OSError as error:
            assert error.errno == errno.ENOSPC
    return filler


def _assert_epoch_committed(run: Path, epoch: int) -> None:
    """state.json names `epoch` and its weights file, the checkpoints load, and no half-written file is left."""
    state = json.loads((run / "backup" / "state.json").read_text())
    assert state["epoch"] == epoch and (run / "backup" / state["weights"]).is_file()
    load_model(run / "checkpoints" / "last.keras")
    for folder in (run, run / "checkpoints", run / "backup"):
        assert not temporaries(folder), temporaries(folder)


def _one_error_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.startswith("error:") or "Traceback" in line]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_a_full_disk_stops_training_with_one_line_and_the_resume_finishes(small_disk, event_data, tmp_path, capfd):
    weights, logs = small_disk / "weights", tmp_path / "logs"
    assert run_cli(training_main, _argv(event_data, weights, logs, epochs=1)) == 0
    filler = _fill(small_disk)
    capfd.readouterr()
    for _ in range(2):  # the resume on a disk still full says the same
        assert run_cli(training_main, _argv(event_data, weights, logs, epochs=2, resume=True)) == 2
        line = _one_error_line(capfd.readouterr().err)
        assert f"cannot write {weights / 'run'}" in line and "no space left on the device (ENOSPC)" in line, line
        assert "the run keeps epoch 1" in line and "--resume_auto" in line, line
        _assert_epoch_committed(weights / "run", 1)
    filler.unlink()
    assert run_cli(training_main, _argv(event_data, weights, logs, epochs=2, resume=True)) == 0
    _assert_epoch_committed(weights / "run", 2)
    rows = (weights / "run" / "training_log.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in rows] == ["epoch", "0", "1"]
    load_model(weights / "run" / "model.keras")


def test_a_read_only_file_system_is_one_line(small_disk, event_data, tmp_path, capfd):
    weights, logs = small_disk / "weights", tmp_path / "logs"
    assert run_cli(training_main, _argv(event_data, weights, logs, epochs=1)) == 0
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    try:
        capfd.readouterr()
        assert run_cli(training_main, _argv(event_data, weights, logs, epochs=2, resume=True)) == 2
        assert "the file system is read-only (EROFS)" in _one_error_line(capfd.readouterr().err)
        # generate.py writes its own files only: into the run's samples/ it cannot, elsewhere it can
        assert run_cli(generate_main, ["-n", "run", "-w", str(weights), "--length", "8"]) == 2
        line = _one_error_line(capfd.readouterr().err)
        assert str(weights / 'run' / 'samples') in line and "read-only (EROFS)" in line, line
        assert run_cli(generate_main, ["-n", "run", "-w", str(weights), "--length", "8",
                                       "--output_dir", str(tmp_path / "out")]) == 0
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    _assert_epoch_committed(weights / "run", 1)


@pytest.fixture(scope="module")
def one_epoch_run(tmp_path_factory, event_data) -> Path:
    """A tiny LSTM run with epoch 1 committed; tests copy it."""
    weights = tmp_path_factory.mktemp("one-epoch") / "weights"
    assert run_cli(training_main, _argv(event_data, weights, weights.parent / "logs", epochs=1)) == 0
    return weights


def _refuse_replacing(name: str, code: int):
    """os.replace that fails with `code` when it would put the file `name` in place (zoo.atomic's commit)."""
    replace = os.replace

    def failing(source, target, *args, **kwargs):
        if Path(target).name == name:
            raise OSError(code, os.strerror(code))
        return replace(source, target, *args, **kwargs)
    return failing


@pytest.mark.parametrize("name, code", [
    ("config.json", errno.EACCES),
    ("last.keras", errno.ENOSPC),
    ("best.keras", errno.EDQUOT),
    ("epoch-0002.weights.h5", errno.EROFS),
    ("state.json", errno.EPERM),
])
def test_a_refused_write_at_each_file_of_the_trainer(name, code, one_epoch_run, event_data, tmp_path, monkeypatch,
                                                      capfd):
    weights = tmp_path / "weights"
    shutil.copytree(one_epoch_run, weights)
    argv = _argv(event_data, weights, tmp_path / "logs", epochs=2, resume=True)
    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", _refuse_replacing(name, code))
        capfd.readouterr()
        assert run_cli(training_main, argv) == 2
    line = _one_error_line(capfd.readouterr().err)
    assert f"cannot write {weights / 'run'}" in line and line.split(": ")[1].endswith(name), line
    assert f"({errno.errorcode[code]})" in line and "the run keeps epoch 1" in line, line
    _assert_epoch_committed(weights / "run", 1)
    assert run_cli(training_main, argv) == 0
    _assert_epoch_committed(weights / "run", 2)


@pytest.mark.parametrize("writer", ["csv log", "tensorboard"])
def test_a_refused_write_by_keras_or_tensorflow_is_one_line(writer, one_epoch_run, event_data, tmp_path, monkeypatch,
                                                            capfd):
    """Writers the zoo does not wrap: Keras's CSV log says no file name, TensorFlow's error is not an OSError."""
    weights = tmp_path / "weights"
    shutil.copytree(one_epoch_run, weights)
    events = tmp_path / "logs" / "run" / "train" / "events.out.tfevents.1.v2"

    def refuse(*args, **kwargs):
        if writer == "csv log":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        raise tf.errors.ResourceExhaustedError(None, None, f"{events}; No space left on device\n\tFailed to flush")

    callback = keras.callbacks.CSVLogger if writer == "csv log" else keras.callbacks.TensorBoard
    monkeypatch.setattr(callback, "on_epoch_end", refuse)
    capfd.readouterr()
    assert run_cli(training_main, _argv(event_data, weights, tmp_path / "logs", epochs=2, resume=True)) == 2
    line = _one_error_line(capfd.readouterr().err)
    named = f"into {weights / 'run'}" if writer == "csv log" else str(events)
    assert f"cannot write {named}: no space left on the device (ENOSPC)" in line, line
    _assert_epoch_committed(weights / "run", 1)
