"""Reading and writing a `Score` by file suffix: one entry point for every format.

The format modules (and their libraries: mido, music21) are imported only when a file of their
kind is read or written.
"""
from __future__ import annotations

import os
from pathlib import Path

from zoo.errors import ScoreReadError, UsageError
from zoo.music.score import Score

MIDI_SUFFIXES = (".mid", ".midi")
MUSIC21_SUFFIXES = (".xml", ".musicxml", ".mxl", ".abc", ".krn")
SCORE_SUFFIXES = MIDI_SUFFIXES + MUSIC21_SUFFIXES  # what a folder scan picks up
WRITE_SUFFIXES = MIDI_SUFFIXES + (".xml", ".musicxml")


def load_score(path: str | os.PathLike) -> Score:
    """Reads a MIDI, MusicXML (.xml, .musicxml, .mxl), ABC or Humdrum file into a `Score`.

    Args:
        path: str or PathLike; the format is chosen by its suffix (case-insensitive).

    Raises:
        ScoreReadError: missing file, unknown suffix, or a file its reader cannot parse.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SCORE_SUFFIXES:
        raise ScoreReadError(
            f"cannot read {path}: unknown score format '{suffix or '(none)'}' (known: {', '.join(SCORE_SUFFIXES)})"
        )
    if not path.is_file():
        raise ScoreReadError(f"cannot read {path}: no such file")
    if suffix in MIDI_SUFFIXES:
        from zoo.music.midi import read_midi

        return read_midi(path)
    from zoo.music.music21_io import read_music21

    return read_music21(path)


def save_score(score: Score, path: str | os.PathLike) -> None:
    """Writes `score` as MIDI (.mid, .midi) or MusicXML (.xml, .musicxml), chosen by suffix.

    Raises:
        UsageError: a suffix that no writer handles (names the known ones).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in MIDI_SUFFIXES:
        from zoo.music.midi import write_midi

        write_midi(score, path)
    elif suffix in (".xml", ".musicxml"):
        from zoo.music.music21_io import write_musicxml

        write_musicxml(score, path)
    else:
        raise UsageError(f"cannot write {path}: unknown format '{suffix or '(none)'}' (known: {', '.join(WRITE_SUFFIXES)})")
