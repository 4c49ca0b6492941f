"""Shared fixtures: a small real corpus prepared once, and a tiny trained LSTM run."""
from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
NOTTINGHAM_MIDI = SHARED_DATA / "nottingham" / "MIDI"
# Sixteen Bach chorales from the music21 corpus: always installed, so the core suite needs no ../shared.
CHORALES = [f"bach/bwv{n}" for n in ("66.6", "1.6", "10.7", "101.7", "102.7", "103.6", "104.6", "108.6",
                                     "11.6", "110.7", "111.6", "113.8", "117.4", "114.7", "115.6", "116.6")]

TINY_LSTM = ["--lstm_size", "32", "--lstm_num_layers", "2", "--lstm_hidden_dense_size", "32",
             "--lstm_num_hidden_dense", "1", "--lstm_embedding_size", "16"]


def needs_shared(path: Path):
    """Skips a test (with the reason) on a clone that has no ../shared beside it."""
    if not path.exists():
        pytest.skip(f"{path} is not here (tests that read ../shared/data run in CI)")
    return path


def chorale_paths() -> list[str]:
    from music21 import corpus

    return [str(corpus.getWork(name)) for name in CHORALES]


@pytest.fixture(scope="session")
def chorale_files() -> list[str]:
    return chorale_paths()


@pytest.fixture(scope="session")
def event_data(tmp_path_factory, chorale_files) -> Path:
    """16 chorales prepared with the event encoding: 12 train / 2 valid / 2 test pieces."""
    from zoo.data.prepare import prepare

    folder = tmp_path_factory.mktemp("event-data")
    prepare(chorale_files, "event", folder, valid_fraction=0.125, test_fraction=0.125, progress=False)
    return folder


def train_args(**overrides) -> list[str]:
    """training.py flags for a tiny, quick LSTM run."""
    args = {"-m": "lstm", "-e": "2", "-s": "32", "-b": "16", "--steps_per_epoch": "4",
            "--sample_every": "0", "--verbose": "0"}
    args.update(overrides)
    return [str(x) for kv in args.items() for x in kv if x != ""] + TINY_LSTM


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, event_data) -> tuple[Path, str]:
    """A tiny LSTM trained for two short epochs; returns (weights folder, run name)."""
    from zoo.cli import run_cli, training_main

    root = tmp_path_factory.mktemp("runs")
    argv = train_args(**{"-n": "tiny", "-p": str(event_data / "train.pkl"), "-w": str(root / "weights"),
                         "-t": str(root / "logs"), "--sample_every": "1", "--sample_length": "48"})
    assert run_cli(training_main, argv) == 0
    return root / "weights", "tiny"
