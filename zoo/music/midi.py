"""Standard MIDI files <-> `Score`, through mido.

`read_midi` reads types 0, 1 and 2 (type 2 tracks are each timed from zero, like type 1) and gives
one `Track` per (file track, channel) that holds notes. `write_midi` writes a type-1 file: a
conductor track (tempo, time and key signatures, title) and one track per `Track`.
"""
from __future__ import annotations

import collections
import io
import os
import re
from pathlib import Path

import mido
import numpy as np

from zoo.errors import ScoreReadError
from zoo.music.keys import normalize_key_name
from zoo.music.score import KeySignature, Score, Tempo, TimeSignature, Track, make_notes

DRUM_CHANNEL = 9
# A larger "MIDI file" is refused before parsing: mido keeps every event as an object (~60 bytes of
# memory per byte of file), so 8 MB of MIDI is already ~0.5 GB; real pieces are well under 1 MB.
MAX_FILE_BYTES = 8 * 1024 * 1024
# A variable-length number is at most 4 bytes, but mido reads one for as long as the high bit is set, in
# time quadratic in its length; a longer run of high bytes than this (text is the only place one occurs)
# is refused before parsing.
MAX_HIGH_BYTE_RUN = 16384  # UTF-8 lyrics in CJK scripts are all high bytes; mido reads 16 KiB in ~0.02 s
# Far beyond any piece (zoo.music.io refuses a piece past 20,000 quarters) but within int64: a file whose
# deltas add up to more is refused while it is read (a 16,384-byte delta is a 115,000-bit number).
MAX_TICK = 2 ** 40
_HIGH_BYTE_RUN = re.compile(rb"[\x80-\xff]{%d}" % (MAX_HIGH_BYTE_RUN + 1))
_MELODIC_CHANNELS = tuple(c for c in range(16) if c != DRUM_CHANNEL)


def read_midi(path: str | os.PathLike) -> Score:
    """Reads a Standard MIDI file into a `Score` at the file's resolution.

    Note-on with velocity 0 counts as note-off; overlapping notes of one pitch pair first-in
    first-out; notes still sounding at the end close at the track's last tick; zero-length notes
    are dropped. Channel 10 (index 9) is a drum track. Corrupt context events are skipped: a tempo
    of 0 microseconds a quarter, a time signature with numerator 0 or denominator above 64.
    The length of the piece is checked by `zoo.music.io.load_score` (`check_piece_length`).

    Args:
        path: str or PathLike, the `.mid` file.

    Returns:
        `Score`; `metadata` holds `source` and, when the first track is named, `title`.

    Raises:
        ScoreReadError: missing, too large (`MAX_FILE_BYTES`), truncated or corrupt file.
    """
    midi = _parse(path)
    score = Score(resolution=midi.ticks_per_beat, metadata={"source": str(path)})
    read = []  # (channel, Track)
    for index, mtrack in enumerate(midi.tracks):
        tracks, name = _read_track(mtrack, score)
        if index == 0 and name:
            score.metadata["title"] = name
        read.extend(tracks)
    _fill_programs(midi, read)
    score.tracks = [track for _, track in read]
    for events in (score.tempos, score.time_signatures, score.key_signatures):
        _sort_dedupe(events)
    return score


def _parse(path) -> mido.MidiFile:
    """Parses with mido from an in-memory copy, turning every failure into `ScoreReadError`."""
    try:
        size = os.path.getsize(path)
        if size > MAX_FILE_BYTES:
            raise ValueError(f"{size} bytes is larger than the {MAX_FILE_BYTES} byte limit")
        data = Path(path).read_bytes()
        if _HIGH_BYTE_RUN.search(data):
            raise ValueError(f"more than {MAX_HIGH_BYTE_RUN} bytes in a row have the high bit set (a corrupt length)")
        # From BytesIO, a header declaring a huge chunk reads only the bytes that exist.
        midi = mido.MidiFile(file=io.BytesIO(data), clip=True)
        if midi.type not in (0, 1, 2):
            raise ValueError(f"unknown MIDI file type {midi.type}")
        if midi.ticks_per_beat <= 0:
            raise ValueError(f"unsupported time division {midi.ticks_per_beat} (SMPTE or zero)")
    except ScoreReadError:
        raise
    except Exception as error:  # mido raises OSError, EOFError, ValueError, KeyError, ... on bad bytes
        reason = "unexpected end of file" if isinstance(error, EOFError) else str(error) or type(error).__name__
        raise ScoreReadError(f"cannot read MIDI file {path}: {reason}") from error
    return midi


class _TrackNotes:
    """Collects the notes of one (track, channel) pair with FIFO pairing per pitch."""

    def __init__(self):
        self.open = collections.defaultdict(collections.deque)  # pitch -> deque[(start, velocity)]
        self.pitch, self.start, self.end, self.velocity = [], [], [], []
        self.program = None

    def note_on(self, tick, pitch, velocity):
        self.open[pitch].append((tick, velocity))

    def note_off(self, tick, pitch):
        if self.open[pitch]:
            start, velocity = self.open[pitch].popleft()
            self._add(pitch, start, tick, velocity)

    def close(self, tick):
        for pitch, queue in self.open.items():
            for start, velocity in queue:
                self._add(pitch, start, tick, velocity)
        self.open.clear()

    def _add(self, pitch, start, end, velocity):
        if end > start:
            self.pitch.append(pitch)
            self.start.append(start)
            self.end.append(end)
            self.velocity.append(velocity)


def _read_track(mtrack, score: Score) -> tuple[list[tuple[int, Track]], str]:
    """Reads one mido track: its notes per channel, plus context events appended to `score`."""
    channels: dict[int, _TrackNotes] = {}
    name = ""
    tick = 0
    for message in mtrack:
        tick += message.time
        if tick > MAX_TICK:
            raise ScoreReadError(f"cannot read MIDI file {score.metadata['source']}: an event at tick 2**{tick.bit_length()}"
                                 f" (more than 2**40: a corrupt delta time)")
        kind = message.type
        if kind == "note_on" or kind == "note_off":
            notes = channels.setdefault(message.channel, _TrackNotes())
            if kind == "note_on" and message.velocity > 0:
                notes.note_on(tick, message.note, message.velocity)
            else:
                notes.note_off(tick, message.note)
        elif kind == "program_change":
            notes = channels.setdefault(message.channel, _TrackNotes())
            if notes.program is None:
                notes.program = message.program
        elif kind == "set_tempo":
            if message.tempo > 0:  # zero microseconds a quarter has no tempo: the event is skipped
                score.tempos.append(Tempo(tick, float(mido.tempo2bpm(message.tempo))))
        elif kind == "time_signature":
            # A numerator of 0 or a denominator past 2**6 (mido gives 2**byte) is corrupt: skipped.
            if message.numerator > 0 and message.denominator <= 64:
                score.time_signatures.append(TimeSignature(tick, message.numerator, message.denominator))
        elif kind == "key_signature":
            score.key_signatures.append(KeySignature(tick, message.key))
        elif kind == "track_name" and not name:
            name = message.name.strip()
    tracks = []
    for channel in sorted(channels):
        notes = channels[channel]
        notes.close(tick)
        if not notes.pitch:
            continue
        track = Track(
            name=name,
            program=-1 if notes.program is None else notes.program,  # -1: filled in by _fill_programs
            is_drum=channel == DRUM_CHANNEL,
            notes=make_notes(notes.pitch, notes.start, notes.end, notes.velocity),
        )
        tracks.append((channel, track))
    return tracks, name


def _fill_programs(midi: mido.MidiFile, tracks: list[tuple[int, Track]]) -> None:
    """A track without its own program change takes the first one on its channel in the file."""
    first = {}
    for mtrack in midi.tracks:
        for message in mtrack:
            if message.type == "program_change":
                first.setdefault(message.channel, message.program)
    for channel, track in tracks:
        if track.program < 0:
            track.program = first.get(channel, 0)


def _sort_dedupe(events: list) -> None:
    """Sorts context events by time and drops exact repeats (several tracks often carry them)."""
    seen, unique = set(), []
    for event in sorted(events, key=lambda e: e.time):
        key = tuple(vars(event).values())
        if key not in seen:
            seen.add(key)
            unique.append(event)
    events[:] = unique


def write_midi(score: Score, path: str | os.PathLike) -> None:
    """Writes `score` as a type-1 MIDI file at `score.resolution`.

    Track 0 is the conductor (title, tempos, time and key signatures); then one track per `Track`
    with its name and program change. Drum tracks play on channel 9; the others take channels
    0-15 in order, skipping 9 and wrapping after 15. At equal ticks note-offs come before
    note-ons. Zero-length notes are left out; pitches and velocities are clipped to 0-127 / 1-127.

    Args:
        score: `Score`.
        path: str or PathLike, the file to write.
    """
    midi = mido.MidiFile(type=1, ticks_per_beat=int(score.resolution))
    midi.tracks.append(_conductor_track(score))
    melodic = 0
    for track in score.tracks:
        if track.is_drum:
            channel = DRUM_CHANNEL
        else:
            channel = _MELODIC_CHANNELS[melodic % len(_MELODIC_CHANNELS)]
            melodic += 1
        midi.tracks.append(_note_track(track, channel))
    midi.save(os.fspath(path))


def _conductor_track(score: Score) -> mido.MidiTrack:
    events = []  # (tick, message)
    title = score.metadata.get("title", "")
    if title:
        events.append((0, mido.MetaMessage("track_name", name=title)))
    for tempo in score.tempos:
        microseconds = int(np.clip(round(mido.bpm2tempo(tempo.qpm)), 1, 0xFFFFFF))
        events.append((tempo.time, mido.MetaMessage("set_tempo", tempo=microseconds)))
    for sig in score.time_signatures:
        if sig.denominator > 0 and sig.denominator & (sig.denominator - 1) == 0 and 0 < sig.numerator < 256:
            meta = mido.MetaMessage("time_signature", numerator=sig.numerator, denominator=sig.denominator)
            events.append((sig.time, meta))
    for sig in score.key_signatures:
        key = normalize_key_name(sig.key)
        if key is not None:
            events.append((sig.time, mido.MetaMessage("key_signature", key=key)))
    events.sort(key=lambda e: e[0])
    return _delta_track(events)


def _note_track(track: Track, channel: int) -> mido.MidiTrack:
    notes = track.notes[track.notes["end"] > track.notes["start"]]
    pitch = np.clip(notes["pitch"], 0, 127).astype(np.int64)
    velocity = np.clip(notes["velocity"], 1, 127).astype(np.int64)
    # Event table: tick, kind (0 = off, 1 = on), pitch, velocity; sorted so offs precede ons.
    ticks = np.concatenate([notes["end"], notes["start"]])
    kinds = np.concatenate([np.zeros(len(notes), np.int64), np.ones(len(notes), np.int64)])
    pitches = np.concatenate([pitch, pitch])
    velocities = np.concatenate([np.zeros(len(notes), np.int64), velocity])
    order = np.lexsort((pitches, kinds, ticks))
    events = []
    if track.name:
        events.append((0, mido.MetaMessage("track_name", name=track.name)))
    if not track.is_drum or track.program:
        events.append((0, mido.Message("program_change", channel=channel, program=int(track.program) & 127)))
    for i in order:
        kind = "note_on" if kinds[i] else "note_off"
        events.append((int(ticks[i]), mido.Message(kind, channel=channel, note=int(pitches[i]), velocity=int(velocities[i]))))
    return _delta_track(events)


def _delta_track(events) -> mido.MidiTrack:
    """Builds a track from (absolute tick, message) pairs already sorted by tick."""
    mtrack = mido.MidiTrack()
    last = 0
    for tick, message in events:
        tick = max(int(tick), last)
        mtrack.append(message.copy(time=tick - last))
        last = tick
    mtrack.append(mido.MetaMessage("end_of_track", time=0))
    return mtrack
