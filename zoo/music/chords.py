"""Chord symbols as Impro-Visor writes them: root + quality [+ /bass] -> pitch classes.

The quality table holds lstmprovisor's 111 qualities (specs/lstmprovisor.md §1.3), built here from
chord theory as interval lists (semitones above the root). Its `7b5b9` is {0, 1, 4, 6, 10}: the
original's extra natural fifth was a typo. A few spellings the original did not know (`maj7`,
`dim`, `mMaj7`, ...) are mapped to their Impro-Visor names (ALIASES); any other quality is an
`UnknownChordError`, never a silent "no chord".
"""
from __future__ import annotations

import re

import numpy as np

from zoo.errors import ScoreReadError

# Pitch class of every root/bass spelling Impro-Visor uses (enharmonics included).
NOTE_OFFSETS = {
    "C": 0, "B#": 0, "C#": 1, "Db": 1, "D": 2, "D#": 3, "Eb": 3, "E": 4, "Fb": 4, "E#": 5, "F": 5,
    "F#": 6, "Gb": 6, "G": 7, "G#": 8, "Ab": 8, "A": 9, "A#": 10, "Bb": 10, "B": 11, "Cb": 11,
}
# Names used when writing a chord from its pitch classes (flats, as Impro-Visor's lead sheets mostly do).
ROOT_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")

_TRIAD, _MINOR, _DIM, _AUG = (0, 4, 7), (0, 3, 7), (0, 3, 6), (0, 4, 8)

CHORD_INTERVALS: dict[str, tuple[int, ...]] = {
    "": _TRIAD, "M": _TRIAD, "m": _MINOR, "o": _DIM, "aug": _AUG, "M#5": _AUG, "m+": (0, 3, 8), "m#5": (0, 3, 8),
    "6": (0, 4, 7, 9), "M6": (0, 4, 7, 9), "m6": (0, 3, 7, 9), "mb6": (0, 3, 7, 8),
    "69": (0, 2, 4, 7, 9), "M69": (0, 2, 4, 7, 9), "m69": (0, 2, 3, 7, 9),
    "7": (0, 4, 7, 10), "9": (0, 2, 4, 7, 10), "11": (0, 2, 4, 5, 7, 10), "13": (0, 2, 4, 7, 9, 10),
    "+7": (0, 4, 8, 10), "7+": (0, 4, 8, 10), "7#5": (0, 4, 8, 10), "7aug": (0, 4, 8, 10), "aug7": (0, 4, 8, 10),
    "9+": (0, 2, 4, 8, 10), "9#5": (0, 2, 4, 8, 10),
    "M7": (0, 4, 7, 11), "M9": (0, 2, 4, 7, 11), "M7+": (0, 4, 8, 11), "M7#5": (0, 4, 8, 11),
    "M7b5": (0, 4, 6, 11), "M9#5": (0, 2, 4, 8, 11), "M7#11": (0, 4, 6, 7, 11), "M9#11": (0, 2, 4, 6, 7, 11),
    "NC": (),
    "h7": (0, 3, 6, 10), "m7b5": (0, 3, 6, 10), "m9b5": (0, 2, 3, 6, 10), "m11b5": (0, 2, 3, 5, 6, 10),
    "m7": (0, 3, 7, 10), "m9": (0, 2, 3, 7, 10), "m11": (0, 2, 3, 5, 7, 10), "m13": (0, 2, 3, 5, 7, 9, 10),
    "m7#5": (0, 3, 8, 10), "m9#5": (0, 2, 3, 8, 10), "m11#5": (0, 2, 3, 5, 8, 10),
    "mM7": (0, 3, 7, 11), "mM9": (0, 2, 3, 7, 11), "mM7b6": (0, 3, 7, 8, 11), "mb6M7": (0, 3, 7, 8, 11),
    "madd9": (0, 2, 3, 7), "mb6b9": (0, 1, 3, 7, 8),
    "o7": (0, 3, 6, 9),
    "7#9": (0, 3, 4, 7, 10), "7b5": (0, 4, 6, 10), "7b6": (0, 4, 7, 8, 10), "7b9": (0, 1, 4, 7, 10),
    "9b5": (0, 2, 4, 6, 10), "7#11": (0, 4, 6, 7, 10), "7alt": (0, 3, 4, 8, 10), "7b13": (0, 4, 7, 8, 10),
    "7no5": (0, 4, 10), "9#11": (0, 2, 4, 6, 7, 10), "9b13": (0, 2, 4, 7, 8, 10), "9no5": (0, 2, 4, 10),
    "13#9": (0, 3, 4, 7, 9, 10), "13b5": (0, 2, 4, 6, 9, 10), "13b9": (0, 1, 4, 7, 9, 10),
    "13#11": (0, 2, 4, 6, 7, 9, 10),
    "7sus": (0, 5, 7, 10), "7sus4": (0, 5, 7, 10), "9sus": (0, 2, 5, 7, 10), "9sus4": (0, 2, 5, 7, 10),
    "13sus": (0, 2, 5, 7, 9, 10), "13sus4": (0, 2, 5, 7, 9, 10),
    "sus2": (0, 2, 7), "Msus2": (0, 2, 7), "sus4": (0, 5, 7), "Msus4": (0, 5, 7), "susb9": (0, 1, 5, 7),
    "Bass": (0,), "Blues": (0, 3, 4, 7, 10),
    "+add9": (0, 2, 4, 8), "M#5add9": (0, 2, 4, 8),
    "7#5#9": (0, 3, 4, 8, 10), "7#5b9": (0, 1, 4, 8, 10), "7b5#9": (0, 3, 4, 6, 10), "7b5b9": (0, 1, 4, 6, 10),
    "7#9#11": (0, 3, 4, 6, 7, 10), "7#9b13": (0, 3, 4, 7, 8, 10), "7b5b13": (0, 4, 6, 8, 10),
    "7b9#11": (0, 1, 4, 6, 7, 10), "7b9b13": (0, 1, 4, 7, 8, 10),
    "7b9sus": (0, 1, 5, 7, 10), "7susb9": (0, 1, 5, 7, 10), "7b9sus4": (0, 1, 5, 7, 10), "7sus4b9": (0, 1, 5, 7, 10),
    "9#5#11": (0, 2, 4, 6, 8, 10), "9b5b13": (0, 2, 4, 6, 8, 10), "9#11b13": (0, 2, 4, 6, 7, 8, 10),
    "13#9#11": (0, 3, 4, 6, 7, 9, 10), "13b9#11": (0, 1, 4, 6, 7, 9, 10), "7#11b13": (0, 4, 6, 7, 8, 10),
    "7#5b9#11": (0, 1, 4, 6, 8, 10), "7b5b9b13": (0, 1, 4, 6, 8, 10),
    "7#9#11b13": (0, 3, 4, 6, 7, 8, 10), "7b9#11b13": (0, 1, 4, 6, 7, 8, 10), "7b9b13#11": (0, 1, 4, 6, 7, 8, 10),
    "7b9b13sus4": (0, 1, 5, 7, 8, 10), "7sus4b9b13": (0, 1, 5, 7, 8, 10),
}

# Spellings from other sources (the imaginary book, music21) mapped to an Impro-Visor quality.
ALIASES = {
    "maj": "M", "maj7": "M7", "maj9": "M9", "maj6": "M6", "Maj7": "M7", "Maj9": "M9", "^7": "M7", "^": "M7",
    "min": "m", "min7": "m7", "min9": "m9", "mi7": "m7", "-": "m", "-7": "m7", "-9": "m9", "-6": "m6",
    "dim": "o", "dim7": "o7", "°": "o", "°7": "o7", "ø": "h7", "ø7": "h7", "mMaj7": "mM7", "mmaj7": "mM7",
    "m(maj7)": "mM7", "sus": "sus4", "+": "aug",
}

_SYMBOL = re.compile(r"^([A-G])([#b]?)(.*)$")


class UnknownChordError(ScoreReadError):
    """A chord symbol whose root, quality or bass is not in the vocabulary."""


def note_offset(name: str) -> int:
    """Pitch class of a root or bass name such as 'Bb' or 'F#'; UnknownChordError otherwise."""
    if name not in NOTE_OFFSETS:
        raise UnknownChordError(f"unknown note name '{name}'")
    return NOTE_OFFSETS[name]


def quality_template(quality: str) -> np.ndarray:
    """12-bit uint8 template of `quality` relative to the root (index 0 = root)."""
    quality = ALIASES.get(quality, quality)
    if quality not in CHORD_INTERVALS:
        raise UnknownChordError(f"unknown chord quality '{quality}'")
    template = np.zeros(12, dtype=np.uint8)
    template[list(CHORD_INTERVALS[quality])] = 1
    return template


def parse_chord(symbol: str) -> tuple[int, np.ndarray, int | None]:
    """Parses one chord symbol.

    Returns:
        (root pitch class 0-11, absolute pitch-class vector uint8 [12], bass pitch class or None).
        `NC` is (0, zeros, None). A slash chord adds its bass to the pitch classes (as the original does).

    Raises:
        UnknownChordError: bad root, unknown quality, or a bass that is not a note name.
    """
    if symbol == "NC":
        return 0, np.zeros(12, dtype=np.uint8), None
    match = _SYMBOL.match(symbol)
    if not match:
        raise UnknownChordError(f"chord symbol '{symbol}' does not start with a root A-G")
    root = note_offset(match.group(1) + match.group(2))
    rest = match.group(3)
    quality, _, bass_name = rest.partition("/")
    absolute = np.roll(quality_template(quality), root)
    if not bass_name:
        return root, absolute, None
    bass = note_offset(bass_name)
    absolute[bass] = 1
    return root, absolute, bass


def chord_root_and_type(root: int, pitch_classes: np.ndarray, bass: int | None) -> tuple[int, np.ndarray]:
    """The encodings' view of a chord (spec §1.3): (root, type vector relative to it); a slash chord's root is its bass."""
    base = root if bass is None else bass
    return base, np.roll(np.asarray(pitch_classes, dtype=np.uint8), -base)


def chord_name(root: int, pitch_classes, bass: int | None = None) -> str:
    """A symbol Impro-Visor reads for these pitch classes: the first quality whose template matches, else NC.

    A slash chord is tried as quality-over-bass first, then any root of the set over the bass.
    """
    pcs = np.zeros(12, dtype=np.uint8)
    pcs[[int(p) % 12 for p in pitch_classes]] = 1
    if not pcs.any():
        return "NC"
    roots = [root % 12] + [r for r in range(12) if pcs[r] and r != root % 12]
    for candidate_root in roots:
        for quality, intervals in CHORD_INTERVALS.items():
            if quality == "NC":
                continue
            template = np.zeros(12, dtype=np.uint8)
            template[[(candidate_root + i) % 12 for i in intervals]] = 1
            if bass is not None and bass % 12 != candidate_root:
                template[bass % 12] = 1
            if np.array_equal(template, pcs):
                name = ROOT_NAMES[candidate_root] + quality
                return name if bass is None or bass % 12 == candidate_root else f"{name}/{ROOT_NAMES[bass % 12]}"
    return "NC"
