"""Real scores for the encoding round-trip tests: the music21 corpus and Nottingham MIDI files."""
from __future__ import annotations

import pytest

from helpers import NOTTINGHAM_MIDI, needs_shared
from zoo.music.midi import read_midi
from zoo.music.music21_io import score_from_music21
from zoo.music.score import Score

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
