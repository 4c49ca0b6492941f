"""Formats <-> `Score`: MIDI (mido), MusicXML/ABC/Humdrum (music21), WAV, piano-roll PNG.

Importing this package is cheap: mido, music21 and matplotlib load only when a function of
their format runs.
"""
from zoo.music.audio import render_wav
from zoo.music.io import SCORE_SUFFIXES, load_score, save_score
from zoo.music.pianoroll import pianoroll_image, save_pianoroll_png
from zoo.music.score import Score, Track, make_notes

__all__ = [
    "SCORE_SUFFIXES",
    "Score",
    "Track",
    "load_score",
    "make_notes",
    "pianoroll_image",
    "render_wav",
    "save_pianoroll_png",
    "save_score",
]
