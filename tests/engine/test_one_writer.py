"""One writer per run (zoo.locks): a second writer is refused, naming the holder; readers never wait."""
from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from helpers import ROOT, train_args
from zoo.cli import generate_main, run_cli, training_main, zoo_main
from zoo.core.run_folder import RunFolder
from zoo.errors import RunBusy
from zoo.locks import hold_lock

_HOLD = textwrap.dedent("""
    import sys, time
    from zoo.locks import hold_lock
    with hold_lock(sys.argv[1], "the test's lock"):
        print("held", flush=True)
        time.sleep(120)
""")


@contextlib.contextmanager
def held_elsewhere(lock_file: Path):
    """Another process holds `lock_file` for the block (and is killed after it)."""
    process = subprocess.Popen([sys.executable, "-c", _HOLD, str(lock_file)], cwd=ROOT, stdout=subprocess.PIPE,
                               text=True)
    try:
        assert process.stdout.readline().strip() == "held"
        yield process
    finally:
        if process.poll() is None:  # still holding at the end of the block: killed here, its name removed with it
            process.kill()
            process.wait()
            lock_file.unlink(missing_ok=True)  # else the next writer of a shared fixture would say it takes over
        process.stdout.close()


def test_a_second_writer_is_refused_at_once_naming_the_holder(tmp_path):
    lock = tmp_path / "locks" / "x.lock"
    with held_elsewhere(lock) as holder:
        with pytest.raises(RunBusy, match=rf"run 'x' is in use by pid {holder.pid} \(-c .*started 20\d\d-"):
            with hold_lock(lock, "run 'x'"):
                pytest.fail("the lock was taken twice")


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path, capfd):
    lock = tmp_path / "x.lock"
    with held_elsewhere(lock) as holder:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    capfd.readouterr()
    with hold_lock(lock, "run 'x'"):
        assert json.loads(lock.read_text())["pid"] != holder.pid  # the new holder's name replaced the old one
    assert f"note: taking over run 'x' from pid {holder.pid}" in capfd.readouterr().err
    assert not lock.exists()  # a clean end leaves nothing behind: the next writer says nothing
    with hold_lock(lock, "run 'x'"):
        pass
    assert "taking over" not in capfd.readouterr().err


def test_a_refused_or_failed_start_leaves_no_folder(tmp_path):
    lock = tmp_path / "weights" / ".locks" / "x.lock"
    with hold_lock(lock, "run 'x'"):
        assert lock.is_file()
    assert not (tmp_path / "weights").exists()
    (tmp_path / "weights" / "kept").mkdir(parents=True)  # a folder with a run in it stays
    with hold_lock(lock, "run 'x'"):
        pass
    assert sorted(p.name for p in (tmp_path / "weights").iterdir()) == ["kept"]


def test_many_writers_at_once_only_one_holds_the_lock(tmp_path):
    """Holders that come and go (and remove the file) never let two processes hold it at the same time."""
    script = textwrap.dedent("""
        import os, sys, time
        from pathlib import Path
        from zoo.errors import RunBusy
        from zoo.locks import hold_lock
        lock, marker, held = Path(sys.argv[1]), Path(sys.argv[2]), 0
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                with hold_lock(lock, "x"):
                    fd = os.open(marker, os.O_CREAT | os.O_EXCL)  # fails if another holder is inside
                    os.close(fd)
                    held += 1
                    time.sleep(0.001)
                    marker.unlink()
            except RunBusy:
                pass
        print(held)
    """)
    lock, marker = tmp_path / "locks" / "x.lock", tmp_path / "inside"
    processes = [subprocess.Popen([sys.executable, "-c", script, str(lock), str(marker)], cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outputs = [process.communicate(timeout=60) for process in processes]
    assert all(process.returncode == 0 for process in processes), [err for _, err in outputs]
    assert sum(int(out) for out, _ in outputs) > 10


def test_while_a_run_is_written_other_writers_are_refused_and_readers_are_not(trained_run, tmp_path, capfd):
    weights, name = trained_run
    run = RunFolder(weights, name)
    with held_elsewhere(run.lock_path) as holder:
        capfd.readouterr()
        writers = {
            "resume": (training_main, ["-m", "lstm", "-n", name, "-w", str(weights), "-t", str(tmp_path / "logs"),
                                       "--resume_auto", "-e", "3"]),
            "evaluate": (zoo_main, ["evaluate", "-n", name, "-w", str(weights), "--num_samples", "0"]),
            "export": (zoo_main, ["export", "-n", name, "-w", str(weights)]),  # into the run folder
        }
        for what, (main, argv) in writers.items():
            assert run_cli(main, argv) == 2, what
            err = capfd.readouterr().err.strip()
            assert err.startswith(f"error: run '{name}' is in use by pid {holder.pid}"), (what, err)
            assert len(err.splitlines()) == 1, err
        out = tmp_path / "samples"
        assert run_cli(generate_main, ["-n", name, "-w", str(weights), "--output_dir", str(out), "--length", "8"]) == 0
        assert any(out.glob("*.mid"))
        # An export to a folder of the user's writes nothing of the run: it needs no lock.
        assert run_cli(zoo_main, ["export", "-n", name, "-w", str(weights), "--output", str(tmp_path / "export")]) == 0
    assert not (weights / name / "export").exists()


def test_two_trainings_started_at_once_give_one_run_and_one_refusal(event_data, tmp_path):
    """The issue's scenario: same name, other sizes, started together; both used to print 'done'."""
    weights = tmp_path / "weights"
    processes = {}
    for size in ("16", "24"):
        argv = train_args(**{"-n": "same", "-p": str(event_data / "train.pkl"), "-w": str(weights),
                             "-t": str(tmp_path / "logs"), "-e": "2", "--steps_per_epoch": "2"})
        argv[argv.index("--lstm_size") + 1] = size
        processes[size] = subprocess.Popen([sys.executable, "training.py", *argv], cwd=ROOT, text=True,
                                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    results = {size: (process.communicate(timeout=300)[1], process.returncode) for size, process in processes.items()}
    codes = sorted(code for _, code in results.values())
    assert codes == [0, 2], results
    winner = next(size for size, (_, code) in results.items() if code == 0)
    refusal = next(err for err, code in results.values() if code == 2).strip()
    # Almost always the lock refuses the second start; on a machine loaded enough that the first finished before
    # the second got past importing TensorFlow, the finished run refuses it. One line either way, never a mix.
    assert refusal.startswith(("error: run 'same' is in use by pid ", "error: run 'same' already exists")), refusal
    assert "Traceback" not in refusal
    config = json.loads((weights / "same" / "config.json").read_text())
    assert str(config["args"]["lstm_size"]) == winner  # the run is the winner's, whole
    rows = (weights / "same" / "training_log.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in rows] == ["epoch", "0", "1"]
    assert len({row.count(",") for row in rows}) == 1  # no stray fragment of another process's row
    assert run_cli(generate_main, ["-n", "same", "-w", str(weights), "--output_dir", str(tmp_path / "out"),
                                   "--length", "8"]) == 0


def test_prepare_refuses_a_second_writer_of_its_output_folder(chorale_files, tmp_path, capfd):
    from zoo.data.prepare import PREPARE_LOCK

    output = tmp_path / "data"
    argv = ["prepare", "--input", *chorale_files[:4], "-o", str(output), "--workers", "1"]
    with held_elsewhere(output / PREPARE_LOCK) as holder:
        capfd.readouterr()
        assert run_cli(zoo_main, argv) == 2
        err = capfd.readouterr().err.strip()
        assert err.startswith(f"error: data folder {output} is in use by pid {holder.pid}"), err
        assert not (output / "train.pkl").exists()
    assert run_cli(zoo_main, argv) == 0
    assert sorted(path.name for path in output.iterdir()) == ["manifest.json", "test.pkl", "train.pkl", "valid.pkl"]
