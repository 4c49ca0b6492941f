"""Shared fixtures: real scores (music21 corpus, Nottingham), a small corpus prepared once, a tiny trained LSTM run."""
from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

from helpers import NOTTINGHAM_MIDI, chorale_paths, needs_shared, train_args
from zoo.music.midi import read_midi
from zoo.music.music21_io import score_from_music21
from zoo.music.score import Score


@pytest.fixture(scope="session", autouse=True)
def data_cache(tmp_path_factory) -> Path:
    """One data cache (zoo/data/corpus.py) for the session, outside the repository's data/."""
    with pytest.MonkeyPatch.context() as patch:
        folder = tmp_path_factory.mktemp("data-cache")
        patch.setenv("ZOO_DATA_CACHE", str(folder))
        yield folder


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

NOTTINGHAM_FILES = ["ashover1.mid", "ashover2.mid", "hpps1.mid", "jigs10.mid", "waltzes1.mid"]
CORPUS_PIECES = ["bach/bwv66.6", "bach/bwv1.6", "beethoven/opus18no1"]


@pytest.fixture(scope="session")
def corpus_scores() -> list[Score]:
    import music21

    return [score_from_music21(music21.corpus.parse(name)) for name in CORPUS_PIECES]


@pytest.fixture(scope="session")
def nottingham_scores() -> list[Score]:
    folder = needs_shared(NOTTINGHAM_MIDI)
    return [read_midi(folder / name) for name in NOTTINGHAM_FILES]


@pytest.fixture(scope="session", params=["music21-corpus", "nottingham"])
def real_scores(request) -> list[Score]:
    """Real scores, one parameter per source: the music21 corpus, then Nottingham MIDI files."""
    name = "corpus_scores" if request.param == "music21-corpus" else "nottingham_scores"
    return request.getfixturevalue(name)
