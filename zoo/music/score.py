"""The one in-memory representation of a piece: `Score`.

Time is in integer ticks at `resolution` ticks per quarter note. Notes are kept as a numpy
structured array per track (`NOTE_DTYPE`), so encodings vectorise instead of walking objects.
No format library is imported here: readers and writers live beside this module.
"""
from __future__ import annotations

import dataclasses

import numpy as np

# The longest piece a reader hands on. Encodings allocate per time step, so a corrupt file whose last
# event sits at tick 2**31 (or that plays a few notes at 3 quarters a minute) must stop here, not as
# gigabytes of piano-roll. 20,000 quarters is ~2.8 hours at 120 qpm; 4 hours of sound at any tempo.
MAX_PIECE_QUARTERS = 20_000
MAX_PIECE_SECONDS = 4 * 3600.0

NOTE_DTYPE = np.dtype([("pitch", np.int16), ("start", np.int64), ("end", np.int64), ("velocity", np.int16)])
DEFAULT_RESOLUTION = 480
DEFAULT_TEMPO_QPM = 120.0


def make_notes(pitch=(), start=(), end=(), velocity=None) -> np.ndarray:
    """Builds a `NOTE_DTYPE` array sorted by (start, pitch); velocity defaults to 80."""
    pitch = np.asarray(pitch, dtype=np.int64)
    notes = np.zeros(len(pitch), dtype=NOTE_DTYPE)
    notes["pitch"] = pitch
    notes["start"] = np.asarray(start, dtype=np.int64)
    notes["end"] = np.asarray(end, dtype=np.int64)
    notes["velocity"] = 80 if velocity is None else np.asarray(velocity, dtype=np.int64)
    return np.sort(notes, order=["start", "pitch"])


@dataclasses.dataclass
class Track:
    """One instrument: a General MIDI `program` (0-127), a drum flag and its notes (`NOTE_DTYPE`)."""

    name: str = ""
    program: int = 0
    is_drum: bool = False
    notes: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, dtype=NOTE_DTYPE))


@dataclasses.dataclass
class Tempo:
    time: int
    qpm: float


@dataclasses.dataclass
class TimeSignature:
    time: int
    numerator: int
    denominator: int


@dataclasses.dataclass
class KeySignature:
    """`key` as in MIDI meta messages and music21 (e.g. 'C', 'F#m', 'Bb')."""

    time: int
    key: str


@dataclasses.dataclass
class ChordSymbol:
    """A chord symbol at `time`: root pitch class, the pitch classes it sounds, and its bass."""

    time: int
    root: int
    pitch_classes: tuple[int, ...]
    bass: int | None = None
    text: str = ""


@dataclasses.dataclass
class Score:
    """A piece of music: tracks of notes plus tempo, meter, key and chord context.

    Attributes:
        resolution: ticks per quarter note (int > 0).
        tracks: list of `Track`.
        tempos, time_signatures, key_signatures, chords: time-ordered context events (ticks).
        metadata: free-form strings (title, source path, composer).
    """

    resolution: int = DEFAULT_RESOLUTION
    tracks: list[Track] = dataclasses.field(default_factory=list)
    tempos: list[Tempo] = dataclasses.field(default_factory=list)
    time_signatures: list[TimeSignature] = dataclasses.field(default_factory=list)
    key_signatures: list[KeySignature] = dataclasses.field(default_factory=list)
    chords: list[ChordSymbol] = dataclasses.field(default_factory=list)
    metadata: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def num_notes(self) -> int:
        return sum(len(track.notes) for track in self.tracks)

    @property
    def end(self) -> int:
        """Tick at which the last note ends (0 for an empty score)."""
        ends = [int(track.notes["end"].max()) for track in self.tracks if len(track.notes)]
        return max(ends, default=0)

    def all_notes(self, include_drums: bool = False) -> np.ndarray:
        """Every note of every (non-drum, unless asked) track in one array sorted by (start, pitch)."""
        parts = [t.notes for t in self.tracks if include_drums or not t.is_drum]
        if not parts:
            return np.zeros(0, dtype=NOTE_DTYPE)
        return np.sort(np.concatenate(parts), order=["start", "pitch"])

    def qpm_at_start(self) -> float:
        return self.tempos[0].qpm if self.tempos else DEFAULT_TEMPO_QPM

    def seconds(self, ticks: np.ndarray | int) -> np.ndarray:
        """Converts ticks to seconds, following every tempo change."""
        ticks = np.asarray(ticks, dtype=np.float64)
        tempos = sorted(self.tempos, key=lambda t: t.time) or [Tempo(0, DEFAULT_TEMPO_QPM)]
        if tempos[0].time > 0:
            tempos.insert(0, Tempo(0, DEFAULT_TEMPO_QPM))
        change_ticks = np.array([t.time for t in tempos], dtype=np.float64)
        sec_per_tick = np.array([60.0 / (t.qpm * self.resolution) for t in tempos])
        change_seconds = np.concatenate([[0.0], np.cumsum(np.diff(change_ticks) * sec_per_tick[:-1])])
        index = np.searchsorted(change_ticks, ticks, side="right") - 1
        return change_seconds[index] + (ticks - change_ticks[index]) * sec_per_tick[index]

    def resampled(self, resolution: int) -> "Score":
        """A copy at another resolution; times are rounded to the nearest new tick."""
        scale = resolution / self.resolution

        def convert(ticks):
            return np.round(np.asarray(ticks) * scale).astype(np.int64)

        tracks = []
        for track in self.tracks:
            notes = track.notes.copy()
            notes["start"] = convert(notes["start"])
            notes["end"] = np.maximum(convert(notes["end"]), notes["start"] + 1)
            tracks.append(dataclasses.replace(track, notes=notes))

        def moved(events):
            return [dataclasses.replace(e, time=int(convert(e.time))) for e in events]

        return dataclasses.replace(
            self,
            resolution=resolution,
            tracks=tracks,
            tempos=moved(self.tempos),
            time_signatures=moved(self.time_signatures),
            key_signatures=moved(self.key_signatures),
            chords=moved(self.chords),
            metadata=dict(self.metadata),
        )
