"""Key names as MIDI key-signature meta messages spell them ('C', 'F#m', 'Bb'); pure Python."""
from __future__ import annotations

import re

MAJOR_KEYS = ("Cb", "Gb", "Db", "Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#")
MINOR_KEYS = ("Abm", "Ebm", "Bbm", "Fm", "Cm", "Gm", "Dm", "Am", "Em", "Bm", "F#m", "C#m", "G#m", "D#m", "A#m")
_KEY_RE = re.compile(r"^\s*([A-Ga-g])([#b\-]?)\s*(m|min|minor|maj|major)?\s*$")


def normalize_key_name(key: str) -> str | None:
    """Spells a key name the MIDI way, or returns None when MIDI cannot express it.

    Accepts 'C', 'F#m', 'Bb', music21's 'B-', 'a minor', 'E- major'; a lower-case tonic without
    a mode is minor (music21's convention).
    """
    match = _KEY_RE.match(key)
    if not match:
        return None
    tonic, accidental, mode = match.groups()
    minor = mode in ("m", "min", "minor") or (mode is None and tonic.islower())
    name = tonic.upper() + accidental.replace("-", "b") + ("m" if minor else "")
    return name if name in MAJOR_KEYS or name in MINOR_KEYS else None
