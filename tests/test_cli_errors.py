"""Bad input on the command line: one `error: ...` line on stderr, exit code 2, no traceback, no damage.

Most cases call the entry points in-process through `run_cli` (fast); a few run training.py and
generate.py as real processes to check what a user actually sees on stderr.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import mido
import pytest

from helpers import ROOT, train_args
from zoo.cli import generate_main, parse_training_args, run_cli, training_main, zoo_main
from zoo.errors import UsageError

# TensorFlow / absl C++ log lines ("I0000 00:00:... ] ..."), which are not the zoo's output.
_CPP_LOG = re.compile(r"^[EIWF]\d{4} ")


def snapshot(folder: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under `folder` (empty when it does not exist)."""
    folder = Path(folder)
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


def assert_one_error_line(err: str, *fragments: str) -> str:
    """`err` is exactly one line `error: ...`, without a traceback, holding every fragment."""
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one stderr line, got:\n{err}"
    line = lines[0]
    assert line.startswith("error: "), line
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    return line


def run_in_process(capfd, main, argv) -> str:
    """Runs `main` through run_cli; asserts exit code 2 and returns the single error line."""
    capfd.readouterr()
    code = run_cli(main, [str(a) for a in argv])
    err = capfd.readouterr().err
    assert code == 2, err
    return err


def run_process(script: str, argv) -> subprocess.CompletedProcess:
    """Runs training.py / generate.py as a user would (no TF_CPP_MIN_LOG_LEVEL set by us)."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run([sys.executable, script, *[str(a) for a in argv]], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def zoo_stderr_lines(err: str) -> list[str]:
    """stderr without TensorFlow's C++ log lines (there should be none; see the module docstring)."""
    return [line for line in err.splitlines() if not _CPP_LOG.match(line)]


def training_flags(tmp_path: Path, name: str, data: Path | str, **overrides) -> list[str]:
    return train_args(**{"-n": name, "-p": str(data), "-w": str(tmp_path / "weights"),
                         "-t": str(tmp_path / "logs"), **overrides})


@pytest.fixture
def run_copy(tmp_path, trained_run) -> tuple[Path, str]:
    """A private copy of the trained run: (weights folder, name)."""
    weights, name = trained_run
    shutil.copytree(weights / name, tmp_path / "weights" / name)
    return tmp_path / "weights", name


# ---------------------------------------------------------------- model type and flags
def test_unknown_model_type_in_a_real_process(tmp_path):
    result = run_process("training.py", ["-m", "lstmm", "-n", "x", "-w", tmp_path / "weights",
                                         "-t", tmp_path / "logs"])
    assert result.returncode == 2, result.stderr
    stray = [line for line in result.stderr.splitlines() if _CPP_LOG.match(line)]
    assert not stray, f"TensorFlow C++ log lines leaked to stderr: {stray}"
    assert_one_error_line(result.stderr, "unknown model type 'lstmm'", "lstm")
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_model_type_is_case_insensitive():
    assert parse_training_args(["-m", "LSTM", "-n", "x"])["model_type"] == "lstm"
    assert parse_training_args(["-m", "Lstm", "-n", "x", "--lstm_size", "8"])["lstm_size"] == 8


def test_flag_of_no_model_type_is_a_usage_error(capfd):
    with pytest.raises(UsageError, match="--embed_dim"):
        parse_training_args(["-m", "lstm", "-n", "x", "--embed_dim", "3"])
    assert_one_error_line(run_in_process(capfd, training_main, ["-m", "lstm", "-n", "x", "--embed_dim", "3"]),
                          "--embed_dim")


# ---------------------------------------------------------------- training data
def test_missing_data_path(tmp_path, capfd):
    err = run_in_process(capfd, training_main, training_flags(tmp_path, "x", "/nonexistent/train.pkl"))
    assert_one_error_line(err, "/nonexistent/train.pkl")
    assert not (tmp_path / "weights").exists() and not (tmp_path / "logs").exists()


def test_folder_without_train_pickle(tmp_path, capfd):
    empty = tmp_path / "empty"
    empty.mkdir()
    err = run_in_process(capfd, training_main, training_flags(tmp_path, "x", empty))
    assert_one_error_line(err, str(empty))
    assert not (tmp_path / "weights").exists()


def test_pickle_with_zero_pieces(tmp_path, capfd, event_data):
    from zoo.data.dataset import load_split
    from zoo.data.safe_pickle import dump_pickle
    from zoo.data.splits import DATA_FORMAT

    encoding = load_split(event_data / "train.pkl").encoding
    data = tmp_path / "nothing" / "train.pkl"
    dump_pickle({"format": DATA_FORMAT, "encoding": encoding, "pieces": [], "sources": []}, data)
    err = run_in_process(capfd, training_main, training_flags(tmp_path, "x", data))
    assert_one_error_line(err, str(data), "no pieces")
    assert not (tmp_path / "weights").exists()


class _Evil:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_malicious_pickle_is_refused(tmp_path, capfd):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil" / "train.pkl"
    evil.parent.mkdir()
    evil.write_bytes(pickle.dumps({"format": "zoo-encoded/1", "pieces": [_Evil(marker)]}))
    err = run_in_process(capfd, training_main, training_flags(tmp_path, "x", evil))
    assert_one_error_line(err, "refusing", "system")
    assert not marker.exists()
    assert not (tmp_path / "weights").exists()


# ---------------------------------------------------------------- run names and existing runs
def test_run_name_with_a_path_is_refused(tmp_path, capfd, event_data):
    weights = tmp_path / "a" / "b" / "weights"
    argv = train_args(**{"-n": "../../etc", "-p": str(event_data / "train.pkl"), "-w": str(weights),
                         "-t": str(tmp_path / "a" / "b" / "logs")})
    assert_one_error_line(run_in_process(capfd, training_main, argv), "../../etc")
    assert list(tmp_path.iterdir()) == []  # neither weights/ nor a/etc nor anything else
    # generate.py checks the name the same way before it looks at the disk
    err = run_in_process(capfd, generate_main, ["-n", "../../etc", "-w", weights])
    assert_one_error_line(err, "../../etc")
    assert list(tmp_path.iterdir()) == []


def test_training_into_an_existing_run_is_refused_in_a_real_process(run_copy, event_data):
    weights, name = run_copy
    before = snapshot(weights / name)
    result = run_process("training.py", train_args(**{"-n": name, "-p": str(event_data / "train.pkl"),
                                                      "-w": str(weights), "-t": str(weights.parent / "logs")}))
    assert result.returncode == 2, result.stderr
    assert len(zoo_stderr_lines(result.stderr)) == len(result.stderr.splitlines()), result.stderr
    assert_one_error_line(result.stderr, f"run '{name}' already exists", "--resume_auto")
    assert snapshot(weights / name) == before
    assert not (weights.parent / "logs").exists()


# ---------------------------------------------------------------- generate.py
def test_unknown_run_in_a_real_process(run_copy):
    weights, name = run_copy
    before = snapshot(weights)
    result = run_process("generate.py", ["-n", "nosuchrun", "-w", weights])
    assert result.returncode == 2, result.stderr
    stray = [line for line in result.stderr.splitlines() if _CPP_LOG.match(line)]
    assert not stray, f"TensorFlow C++ log lines leaked to stderr: {stray}"
    line = assert_one_error_line(result.stderr, "nosuchrun")
    assert re.search(rf"runs in .*\b{name}\b", line), line  # lists the runs that exist
    assert snapshot(weights) == before and not (weights / "nosuchrun").exists()


def _write_midi(path: Path) -> Path:
    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    for i in range(40):
        track.append(mido.Message("note_on", note=60 + i % 12, velocity=80, time=0))
        track.append(mido.Message("note_off", note=60 + i % 12, velocity=0, time=240))
    midi.save(str(path))
    return path


@pytest.mark.parametrize("kind", ["truncated", "random"])
def test_corrupt_primer(tmp_path, capfd, trained_run, kind):
    weights, name = trained_run
    before = snapshot(weights / name)
    primer = tmp_path / "primer.mid"
    if kind == "truncated":
        data = _write_midi(primer).read_bytes()
        primer.write_bytes(data[: len(data) // 2])
    else:
        primer.write_bytes(os.urandom(512))
    out = tmp_path / "out"
    err = run_in_process(capfd, generate_main, ["-n", name, "-w", weights, "--primer", primer,
                                                "--output_dir", out, "--num_outputs", 1, "--length", 8])
    assert_one_error_line(err, "--primer", str(primer))
    assert not out.exists()
    assert snapshot(weights / name) == before


def test_truncated_model_file(run_copy, trained_run, capfd, tmp_path):
    weights, name = run_copy
    original = snapshot(trained_run[0] / trained_run[1])
    for path in (weights / name / "checkpoints" / "best.keras", weights / name / "model.keras"):
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    out = tmp_path / "out"
    for which, file in [("best", "best.keras"), ("final", "model.keras")]:
        err = run_in_process(capfd, generate_main, ["-n", name, "-w", weights, "--checkpoint", which,
                                                    "--output_dir", out, "--num_outputs", 1, "--length", 8])
        assert_one_error_line(err, file, "corrupt")
    assert not out.exists()
    assert snapshot(trained_run[0] / trained_run[1]) == original


# ---------------------------------------------------------------- python -m zoo prepare
def test_prepare_folder_without_music(tmp_path, capfd):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "readme.txt").write_text("not music")
    (folder / "cover.png").write_bytes(os.urandom(64))
    out = tmp_path / "out"
    err = run_in_process(capfd, zoo_main, ["prepare", "--input", folder, "-o", out, "--workers", 1])
    assert_one_error_line(err, "no music files", str(folder))
    assert not out.exists()


def test_prepare_folder_of_corrupt_midi(tmp_path, capfd):
    folder = tmp_path / "bad"
    folder.mkdir()
    data = _write_midi(tmp_path / "ok.mid").read_bytes()
    (folder / "truncated.mid").write_bytes(data[: len(data) // 2])
    (folder / "random.mid").write_bytes(os.urandom(300))
    (folder / "empty.mid").write_bytes(b"")
    out = tmp_path / "out"
    err = run_in_process(capfd, zoo_main, ["prepare", "--input", folder, "-o", out, "--workers", 1])
    assert_one_error_line(err, "none of the 3 files could be used")
    assert not out.exists()
