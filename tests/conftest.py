"""Shared fixtures: a small real corpus prepared once, and a tiny trained LSTM run."""
from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

from helpers import chorale_paths, train_args


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


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, event_data) -> tuple[Path, str]:
    """A tiny LSTM trained for two short epochs; returns (weights folder, run name)."""
    from zoo.cli import run_cli, training_main

    root = tmp_path_factory.mktemp("runs")
    argv = train_args(**{"-n": "tiny", "-p": str(event_data / "train.pkl"), "-w": str(root / "weights"),
                         "-t": str(root / "logs"), "--sample_every": "1", "--sample_length": "48"})
    assert run_cli(training_main, argv) == 0
    return root / "weights", "tiny"
