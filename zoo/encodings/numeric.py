"""MechanicalBach's `numeric` encoding: one string token per onset, a note name or a chord.

Token strings (before the id mapping):
    * one pitch class sounding at an onset -> its spelled name with octave, as music21 spells a
      MIDI pitch by default: pitch classes 0..11 -> C C# D E- E F F# G G# A B- B, octave
      `pitch // 12 - 1` (61 -> 'C#4', 63 -> 'E-4', 0 -> 'C-1'). Several notes of the same pitch
      class (octave doublings) give the lowest one.
    * two or more pitch classes -> the chord's normal order (as `music21.chord.Chord.normalOrder`)
      joined by '.', octave-less: [C4, E4, G4, C5] -> '0.4.7', G7 -> '11.2.5.7'.
Timing, durations and velocities are not encoded.

No music21 here: the spelling and the normal order are computed in plain Python/numpy.
"""
from __future__ import annotations

import functools
import re
from typing import Any, Iterable

import numpy as np

from zoo.encodings.base import EOS_ID, NUM_SPECIAL, PAD_ID, Encoding, as_token_ids, register_encoding
from zoo.errors import EncodingError, UsageError
from zoo.music.score import DEFAULT_RESOLUTION, Score, Tempo, Track, make_notes

UNK_ID = NUM_SPECIAL  # 2: a token outside the fitted vocabulary
NUM_RESERVED = NUM_SPECIAL + 1  # PAD, EOS, UNK

PITCH_CLASS_NAMES = ("C", "C#", "D", "E-", "E", "F", "F#", "G", "G#", "A", "B-", "B")
_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_NOTE_RE = re.compile(r"^([A-G])(#|-)?(-?\d+)$")

STEP_QUARTERS = 0.5  # spacing of decoded events (quarter notes)
DURATION_QUARTERS = 1.0  # length of each decoded event (quarter notes)
DECODE_VELOCITY = 80
DECODE_CHORD_OCTAVE_BASE = 60  # chord pitch classes decode into octave 4 (MIDI 60..71)


def pitch_name(pitch: int) -> str:
    """MIDI pitch -> music21's default spelling with octave: 61 -> 'C#4', 63 -> 'E-4', 0 -> 'C-1'."""
    pitch = int(pitch)
    return f"{PITCH_CLASS_NAMES[pitch % 12]}{pitch // 12 - 1}"


def parse_pitch_name(token: str) -> int | None:
    """'C#4' -> 61; None when `token` is not a note name or lies outside MIDI 0..127.

    '-' is read as a flat only after E and B (the only flats of the default spelling), and is
    preferred there: 'E-1' is E-flat 1 (27), never E at octave -1 (4), which music21 spells the
    same way. Pitches 0..11 are practically unused, and the token sequence round-trips either way.
    """
    match = _NOTE_RE.match(token)
    if match is None:
        return None
    letter, accidental, octave = match.groups()
    if accidental == "-" and letter not in "EB":
        octave, accidental = "-" + octave, None
    pitch = _LETTER_PC[letter] + {"#": 1, "-": -1, None: 0}[accidental] + 12 * (int(octave) + 1)
    return pitch if 0 <= pitch <= 127 else None


def normal_order(pitch_classes: Iterable[int]) -> list[int]:
    """Normal order of a pitch-class set, exactly as `music21.chord.Chord.normalOrder` gives it.

    Forte's algorithm: among the rotations of the sorted set, take the one with the smallest span
    (first to last); break ties by the smallest interval from the first to the second, then to the
    third, and so on; a full tie (symmetric sets) keeps the rotation starting on the lowest pitch
    class. Examples: {0, 4, 7} -> [0, 4, 7]; {7, 11, 2, 5} -> [11, 2, 5, 7]; {} -> [].
    """
    mask = 0
    for pc in pitch_classes:
        mask |= 1 << (int(pc) % 12)
    return list(_normal_order_of_mask(mask))


@functools.lru_cache(maxsize=4096)
def _normal_order_of_mask(mask: int) -> tuple[int, ...]:
    pcs = [pc for pc in range(12) if mask >> pc & 1]
    best_key, best = None, ()
    for r in range(len(pcs)):
        rotation = pcs[r:] + pcs[:r]
        intervals = [(pc - rotation[0]) % 12 for pc in rotation]
        key = (intervals[-1], *intervals[1:-1])
        if best_key is None or key < best_key:  # strict: the lowest start wins a full tie
            best_key, best = key, tuple(rotation)
    return best


@functools.lru_cache(maxsize=4096)
def _chord_token(mask: int) -> str:
    return ".".join(str(pc) for pc in _normal_order_of_mask(mask))


def score_tokens(score: Score) -> list[str]:
    """The token strings of `score`: one per distinct onset tick of its non-drum notes."""
    notes = score.all_notes()  # sorted by (start, pitch)
    if len(notes) == 0:
        return []
    starts = notes["start"]
    first = np.flatnonzero(np.r_[True, starts[1:] != starts[:-1]])
    pitches = notes["pitch"].astype(np.int64)
    masks = np.bitwise_or.reduceat(np.left_shift(1, pitches % 12), first)
    lowest = pitches[first]  # sorted by pitch within an onset
    single = (masks & (masks - 1)) == 0
    return [pitch_name(p) if s else _chord_token(int(m)) for p, m, s in zip(lowest, masks, single)]


@register_encoding
class NumericEncoding(Encoding):
    """MechanicalBach's note/chord string tokens (see the module docstring) with a learnt vocabulary.

    Ids (int32): 0 PAD, 1 EOS, 2 UNK (a token not in the vocabulary), then `vocabulary[i]` at
    `i + 3`; `vocab_size = 3 + len(vocabulary)`. The vocabulary is the string-sorted set of the
    training split's tokens (`fit`).

    Resolution: only the sequence of onset tokens is kept. Decoding places one event every
    0.5 quarter notes, each lasting one quarter note, as the original did, so consecutive events
    overlap by half their length (a same-pitch note is cut where the pitch is struck again).
    Note tokens keep their pitch; chord tokens come back in octave 4 (MIDI 60..71), so
    `tokens(decode(encode(x))) == tokens(x)` when every token of x is in the vocabulary.

    Args:
        vocabulary: list[str] | None = None. The token strings in id order (None: unfitted;
            `encode` then raises `EncodingError`).
    """

    name = "numeric"

    def __init__(self, vocabulary: list[str] | None = None):
        if vocabulary is not None:
            vocabulary = [str(token) for token in vocabulary]
            if len(set(vocabulary)) != len(vocabulary):
                duplicates = sorted({t for t in vocabulary if vocabulary.count(t) > 1})
                raise UsageError(f"numeric vocabulary has duplicate tokens {duplicates[:5]}; give each once")
        self.vocabulary = vocabulary
        self._ids = {t: i + NUM_RESERVED for i, t in enumerate(vocabulary or [])}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NumericEncoding) and self.vocabulary == other.vocabulary

    def __repr__(self) -> str:
        size = "unfitted" if self.vocabulary is None else f"{len(self.vocabulary)} tokens"
        return f"NumericEncoding({size})"

    @property
    def vocab_size(self) -> int:
        return NUM_RESERVED + len(self.vocabulary or [])

    def fit(self, scores: Iterable[Score]) -> "NumericEncoding":
        """A new encoding whose vocabulary is the string-sorted set of the tokens of `scores`."""
        seen: set[str] = set()
        for score in scores:
            seen.update(score_tokens(score))
        return NumericEncoding(sorted(seen))

    def tokens(self, score: Score) -> list[str]:
        """The token strings of `score` (before the id mapping); needs no vocabulary."""
        return score_tokens(score)

    def encode(self, score: Score) -> np.ndarray:
        """Score -> int32 ids in [0, vocab_size), one per onset; unknown tokens -> UNK (2)."""
        if self.vocabulary is None:
            raise EncodingError(
                "the numeric encoding has no vocabulary yet; call fit(training_scores) first "
                "or pass NumericEncoding(vocabulary=[...])"
            )
        return np.array([self._ids.get(t, UNK_ID) for t in score_tokens(score)], dtype=np.int32)

    def token_name(self, token_id: int) -> str:
        token_id = int(token_id)
        if token_id == UNK_ID:
            return "UNK"
        if NUM_RESERVED <= token_id < self.vocab_size:
            return self.vocabulary[token_id - NUM_RESERVED]
        return super().token_name(token_id)

    def decode(self, tokens: np.ndarray) -> Score:
        """ids -> a one-track piano Score at resolution 480 and 120 qpm. Never raises.

        Event i (counting note, chord and UNK tokens) starts at i * 0.5 quarter notes and lasts one
        quarter note, velocity 80. A note token gives its pitch; a chord token (digits and '.')
        each of its pitch classes in octave 4. UNK advances time as a rest; PAD and ids outside
        [0, vocab_size) are skipped; EOS ends decoding.
        """
        ids = as_token_ids(tokens)
        step = int(round(STEP_QUARTERS * DEFAULT_RESOLUTION))
        length = int(round(DURATION_QUARTERS * DEFAULT_RESOLUTION))
        pitches: list[int] = []
        starts: list[int] = []
        time = 0
        for token_id in ids.tolist():
            if token_id == EOS_ID:
                break
            if token_id == PAD_ID or not 0 <= token_id < self.vocab_size:
                continue
            if token_id >= NUM_RESERVED:
                event = _token_pitches(self.vocabulary[token_id - NUM_RESERVED])
                pitches.extend(event)
                starts.extend([time] * len(event))
            time += step
        notes = make_notes(pitches, starts, np.asarray(starts, dtype=np.int64) + length)
        _cut_restruck(notes)
        track = Track(name="Piano", program=0, notes=notes)
        return Score(resolution=DEFAULT_RESOLUTION, tracks=[track], tempos=[Tempo(0, 120.0)])

    def to_config(self) -> dict[str, Any]:
        return {"name": self.name, "vocabulary": None if self.vocabulary is None else list(self.vocabulary)}


@functools.lru_cache(maxsize=8192)
def _token_pitches(token: str) -> tuple[int, ...]:
    """Pitches of one token string: a note name, or a chord ('0.4.7', '4') in octave 4; () if neither."""
    if token and all(part.isdigit() for part in token.split(".")):
        pcs = sorted({int(part) for part in token.split(".") if int(part) < 12})
        return tuple(DECODE_CHORD_OCTAVE_BASE + pc for pc in pcs)
    pitch = parse_pitch_name(token)
    return () if pitch is None else (pitch,)


def _cut_restruck(notes: np.ndarray) -> None:
    """In place: a note ends no later than the next onset of the same pitch (notes sorted by start)."""
    if len(notes) < 2:
        return
    order = np.lexsort((notes["start"], notes["pitch"]))
    same = notes["pitch"][order][1:] == notes["pitch"][order][:-1]
    current, following = order[:-1][same], order[1:][same]
    notes["end"][current] = np.minimum(notes["end"][current], notes["start"][following])
