"""The `melody` encoding: MusicVAE's 90 monophonic melody classes at 16 steps a bar."""
from __future__ import annotations

from typing import Any

import numpy as np

from zoo.encodings.base import Encoding, register_encoding
from zoo.errors import EncodingError, UsageError
from zoo.music.score import DEFAULT_RESOLUTION, Score, Track, make_notes

NO_EVENT = 0
NOTE_OFF = 1
MIN_PITCH = 21
MAX_PITCH = 108
PITCH_OFFSET = 2  # class of pitch p = p - MIN_PITCH + 2
NUM_CLASSES = PITCH_OFFSET + MAX_PITCH - MIN_PITCH + 1  # 90
STEPS_PER_QUARTER = 4
STEPS_PER_BAR = 16
GAP = -1  # segment id of the steps between melodies


def pitch_class_id(pitch: np.ndarray | int) -> np.ndarray:
    """MIDI pitch (21..108) -> melody class (2..89)."""
    return np.asarray(pitch, np.int64) - MIN_PITCH + PITCH_OFFSET


@register_encoding
class MelodyEncoding(Encoding):
    """Magenta's melody one-hot classes (MusicVAE), 16 steps a bar (4 a quarter note).

    Classes (int32):

        0        NO_EVENT  hold the sounding note, or keep resting
        1        NOTE_OFF  end the sounding note
        2..89    NOTE_ON   pitch p = class - 2 + 21  (piano range 21..108)

    `encode(score)` returns a dict of two int32 arrays of the same length, one entry per step of
    the whole score:
        "melody":  the class at each step;
        "segment": which melody the step belongs to (0, 1, ...), GAP = -1 between melodies.
    Extraction (after Magenta's `extract_melodies`): the notes of every non-drum track in 21..108
    are merged and made monophonic by keeping the highest pitch of notes struck on the same step;
    a later onset ends the sounding note. Times are quantised to the nearest step of the ticks
    grid (resolution / 4 ticks a step, round half up); a note rounded to zero length lasts one
    step. A rest of at least `gap_bars` bars ends a melody; each melody starts at the bar of its
    first onset and is padded to whole bars, so windows of whole bars inside one segment are
    bar-aligned (the model type cuts them). A "bar" is 16 steps = 4 quarter notes whatever the
    time signature, unless `require_4_4` refuses scores with another meter (as Magenta does).
    Unlike Magenta the note-off after a melody's last note is kept when it falls inside the padded
    bar, so durations round-trip.

    Resolution: onsets and ends within half a sixteenth note; velocity and tempo are not kept
    (decoded notes have velocity 80 at 120 qpm).

    Args:
        gap_bars: float = 1.0. A rest this long (in 16-step bars) ends a melody.
        require_4_4: bool = False. Raise EncodingError for scores with a time signature other than 4/4.
    """

    name = "melody"

    def __init__(self, gap_bars: float = 1.0, require_4_4: bool = False):
        if not float(gap_bars) > 0:
            raise UsageError(f"gap_bars must be positive, got {gap_bars}")
        self.gap_bars = float(gap_bars)
        self.require_4_4 = bool(require_4_4)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MelodyEncoding) and self.to_config() == other.to_config()

    @property
    def vocab_size(self) -> int:
        return NUM_CLASSES

    def to_config(self) -> dict[str, Any]:
        return {"name": self.name, "gap_bars": self.gap_bars, "require_4_4": self.require_4_4}

    @classmethod
    def add_arguments(cls, parser) -> None:
        parser.add_argument("--gap_bars", type=float, default=1.0, help="a rest this many bars long ends a melody")
        parser.add_argument("--require_4_4", action="store_true",
                            help="skip scores with a time signature other than 4/4 (as Magenta does)")

    def token_name(self, token_id: int) -> str:
        i = int(token_id)
        if i == NO_EVENT:
            return "NO_EVENT"
        if i == NOTE_OFF:
            return "NOTE_OFF"
        if PITCH_OFFSET <= i < NUM_CLASSES:
            return f"NOTE_ON_{i - PITCH_OFFSET + MIN_PITCH}"
        return str(i)

    # Encode ------------------------------------------------------------------------------------
    def monophonic_steps(self, score: Score) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pitch, onset step, end step) of the monophonic line, sorted by onset."""
        if self.require_4_4 and any((ts.numerator, ts.denominator) != (4, 4) for ts in score.time_signatures):
            meters = sorted({f"{ts.numerator}/{ts.denominator}" for ts in score.time_signatures})
            raise EncodingError(f"time signature {', '.join(meters)} is not 4/4 (require_4_4 is set)")
        notes = score.all_notes()
        notes = notes[(notes["pitch"] >= MIN_PITCH) & (notes["pitch"] <= MAX_PITCH) & (notes["velocity"] > 0)]
        if len(notes) == 0:
            raise EncodingError("no melody: the score has no non-drum notes in the piano range 21..108")
        ticks_per_step = score.resolution / STEPS_PER_QUARTER
        on = np.floor(notes["start"] / ticks_per_step + 0.5).astype(np.int64)
        end = np.floor(notes["end"] / ticks_per_step + 0.5).astype(np.int64)
        end = np.maximum(end, on + 1)
        pitch = notes["pitch"].astype(np.int64)
        # Highest pitch first among notes on one step, then keep the first of each onset.
        order = np.lexsort((-pitch, on))
        pitch, on, end = pitch[order], on[order], end[order]
        first = np.ones(len(on), bool)
        first[1:] = on[1:] != on[:-1]
        pitch, on, end = pitch[first], on[first], end[first]
        # A later onset ends the sounding note.
        end[:-1] = np.minimum(end[:-1], on[1:])
        return pitch, on, end

    def encode(self, score: Score) -> dict[str, np.ndarray]:
        """Score -> {"melody": int32 classes [T], "segment": int32 melody ids or GAP [T]}."""
        pitch, on, end = self.monophonic_steps(score)
        gap_steps = self.gap_bars * STEPS_PER_BAR
        # New melody where the rest before an onset is at least the gap.
        starts_melody = np.ones(len(on), bool)
        starts_melody[1:] = (on[1:] - end[:-1]) >= gap_steps
        melody_id = np.cumsum(starts_melody) - 1
        first_onsets = on[starts_melody]
        last_ends = np.array([end[melody_id == i].max() for i in range(len(first_onsets))])
        seg_start = (first_onsets // STEPS_PER_BAR) * STEPS_PER_BAR
        seg_end = -(-last_ends // STEPS_PER_BAR) * STEPS_PER_BAR
        total = int(seg_end[-1])
        melody = np.full(total, NO_EVENT, np.int32)
        segment = np.full(total, GAP, np.int32)
        for i, (a, b) in enumerate(zip(seg_start, seg_end)):
            segment[a:b] = i
        # Note-offs first so that an onset on the same step overwrites them.
        inside = end < total
        melody[end[inside]] = NOTE_OFF
        melody[on] = pitch_class_id(pitch)
        return {"melody": melody, "segment": segment}

    def segments(self, piece: dict[str, np.ndarray] | np.ndarray) -> list[np.ndarray]:
        """The melodies of an encoded piece, each a whole number of bars (a bare array is one melody)."""
        if not isinstance(piece, dict):
            return [np.asarray(piece, np.int32)]
        melody, segment = piece["melody"], piece["segment"]
        return [melody[segment == i] for i in np.unique(segment[segment != GAP])]

    # Decode ------------------------------------------------------------------------------------
    def decode(self, tokens: np.ndarray | dict[str, np.ndarray]) -> Score:
        """Classes [T] (or an encoded dict) -> a one-track Score at 120 qpm, resolution 480.

        Never raises: ids outside 0..89 are treated as NO_EVENT.
        """
        classes = tokens["melody"] if isinstance(tokens, dict) else tokens
        try:
            classes = np.asarray(classes, np.int64).ravel()
        except (TypeError, ValueError):
            classes = np.zeros(0, np.int64)
        ticks_per_step = DEFAULT_RESOLUTION // STEPS_PER_QUARTER
        pitches, starts, ends = [], [], []
        sounding = None  # (pitch, onset step)
        for step, cls in enumerate(classes.tolist()):
            if cls == NOTE_OFF or PITCH_OFFSET <= cls < NUM_CLASSES:
                if sounding is not None:
                    pitches.append(sounding[0])
                    starts.append(sounding[1])
                    ends.append(step)
                    sounding = None
                if cls != NOTE_OFF:
                    sounding = (cls - PITCH_OFFSET + MIN_PITCH, step)
        if sounding is not None:
            pitches.append(sounding[0])
            starts.append(sounding[1])
            ends.append(len(classes))
        notes = make_notes(pitches, np.asarray(starts, np.int64) * ticks_per_step,
                           np.asarray(ends, np.int64) * ticks_per_step)
        return Score(resolution=DEFAULT_RESOLUTION, tracks=[Track(name="melody", notes=notes)])
