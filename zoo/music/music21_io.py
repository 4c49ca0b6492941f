"""MusicXML (.xml, .musicxml, .mxl), ABC (.abc) and Humdrum (.krn) <-> `Score`, through music21.

music21 is slow to import, so it is imported inside the functions that need it. Times become
ticks at `RESOLUTION` (480 per quarter), rounded to the nearest tick.
"""
from __future__ import annotations

import os
import re
from fractions import Fraction
from pathlib import Path

import numpy as np

from zoo.errors import ScoreReadError
from zoo.music.keys import normalize_key_name
from zoo.music.limits import FileLimit, LimitExceeded, time_limited
from zoo.music.score import ChordSymbol, KeySignature, Score, Tempo, TimeSignature, Track, make_notes

RESOLUTION = 480
WRITE_STEPS_PER_QUARTER = 12  # write_musicxml quantises to 1/12 quarter (16ths and triplets)
DEFAULT_VELOCITY = 80
MAX_FILE_BYTES = 16 * 1024 * 1024
# music21 builds a meter's beat hierarchy in time that explodes with the numerator (M:999/4 takes
# seconds, M:99999/1 hours), so larger meters are refused before parsing (.mxl is zipped: not checked).
MAX_METER_BEATS = 64
_METER_FIELDS = {
    ".abc": re.compile(rb"(?:^|\[)[ \t]*M:[ \t]*([0-9+ \t]+)/", re.MULTILINE),
    ".xml": re.compile(rb"<beats>\s*([0-9+ \t]+)\s*<"),
    ".musicxml": re.compile(rb"<beats>\s*([0-9+ \t]+)\s*<"),
    ".krn": re.compile(rb"\*M([0-9+]+)/"),
}
# Likewise a note of thousands of unit lengths (A22222: 11,111 quarters) costs music21 minutes; an ABC
# body line (not a field line, quoted chord symbols removed) with a length above this is refused.
MAX_ABC_NOTE_UNITS = 999
_ABC_FIELD_OR_COMMENT = re.compile(rb"^\s*(?:[A-Za-z+]:|%)")
_ABC_LONG_NOTE = re.compile(rb"[A-Ga-gxzZ][,']*(\d{%d,})" % len(str(MAX_ABC_NOTE_UNITS + 1)))
# Whatever else makes music21 spin is stopped after this much (user) CPU time (the 130 KB Nottingham jigs.abc
# of 340 tunes takes ~40 s), where a limit can be set (the main thread of a Unix process), unless the caller
# has set a limit of its own (prepare's per-file limit).
PARSE_CPU_SECONDS = 30.0
PARSE_CPU_SECONDS_PER_KB = 1.0


def _check_before_parsing(path: Path) -> float:
    """Refuses a file too large or with a meter music21 would spin on; returns the file's CPU-time budget."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ScoreReadError(f"cannot read {path}: {size} bytes is larger than the {MAX_FILE_BYTES} byte limit")
    data = path.read_bytes()
    if path.suffix.lower() == ".abc":
        for line in data.splitlines():
            if _ABC_FIELD_OR_COMMENT.match(line):
                continue
            match = _ABC_LONG_NOTE.search(re.sub(rb'"[^"]*"', b"", line))
            if match and int(match.group(1)[:12]) > MAX_ABC_NOTE_UNITS:
                raise ScoreReadError(f"cannot read {path}: a note of {match.group(1)[:12].decode()} unit lengths "
                                     f"(more than {MAX_ABC_NOTE_UNITS})")
    pattern = _METER_FIELDS.get(path.suffix.lower())
    if pattern is not None:
        for match in pattern.finditer(data):
            numbers = re.findall(rb"\d+", match.group(1))
            if any(len(n) > 6 for n in numbers) or sum(int(n) for n in numbers) > MAX_METER_BEATS:
                shown = match.group(1).decode("ascii", "replace").strip()[:20]
                raise ScoreReadError(f"cannot read {path}: a meter of {shown} beats (more than {MAX_METER_BEATS})")
    return PARSE_CPU_SECONDS + PARSE_CPU_SECONDS_PER_KB * size / 1024


def read_music21(path: str | os.PathLike) -> Score:
    """Reads a MusicXML, compressed MusicXML, ABC or Humdrum file into a `Score` (480 ticks/quarter).

    An ABC file holding several tunes gives its first tune (`read_music21_tunes` gives them all).

    Args:
        path: str or PathLike.

    Returns:
        `Score` with one `Track` per part; `metadata` holds `source`, and `title`/`composer`
        when the file names them.

    Raises:
        ScoreReadError: missing file, or a file music21 cannot parse.
    """
    return read_music21_tunes(path)[0]


def read_music21_tunes(path: str | os.PathLike) -> list[Score]:
    """Every tune of a music21-readable file: one `Score` for most files, one per tune of a
    multi-tune ABC file (Nottingham's), in file order, each with its `X:` number as metadata["tune"].

    Raises:
        ScoreReadError: missing file, a file larger than `MAX_FILE_BYTES`, a meter of more than
            `MAX_METER_BEATS` beats, a file music21 cannot parse (or parses for longer than
            `PARSE_CPU_SECONDS` + `PARSE_CPU_SECONDS_PER_KB` per KB of CPU time, where no
            `zoo.music.limits.FileLimit` of the caller's is in force), or one with no tune.
    """
    from music21 import converter, stream

    if not Path(path).is_file():
        raise ScoreReadError(f"cannot read {path}: no such file")
    budget = _check_before_parsing(Path(path))
    try:
        # Inside a caller's time limit (prepare's per-file limit) that limit governs, not this default.
        with FileLimit(None if time_limited() else budget):
            parsed = converter.parse(os.fspath(path), forceSource=True)
        if isinstance(parsed, stream.Opus):
            if not parsed.scores:
                raise ValueError("the file holds no tune")
            tunes = list(parsed.scores)
        else:
            tunes = [parsed]
        scores = []
        for index, tune in enumerate(tunes, 1):
            score = score_from_music21(tune)
            score.metadata["source"] = str(path)
            if len(tunes) > 1:
                number = getattr(tune.metadata, "number", None) if tune.metadata is not None else None
                score.metadata["tune"] = str(number or index)
            scores.append(score)
    except ScoreReadError:
        raise
    except LimitExceeded:
        reason = f"music21 was still parsing it after {budget:.0f} s of CPU time"
        raise ScoreReadError(f"cannot read {path}: {reason}") from None
    except Exception as error:  # music21 raises many exception types on malformed input
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ScoreReadError(f"cannot read {path}: {reason}") from error
    return scores


def score_from_music21(music) -> Score:
    """Converts a music21 stream (Score, Part or any Stream) into a `Score` at 480 ticks/quarter.

    Each part is flattened; notes and chord members become notes, tied notes are joined (per
    pitch, across voices). Unpitched
    percussion is left out. Context (tempo marks, time/key signatures, chord symbols) is read from
    the whole stream and de-duplicated.

    Args:
        music: `music21.stream.Stream`, e.g. `music21.corpus.parse('bach/bwv66.6')`.
    """
    parts = list(music.parts) if hasattr(music, "parts") and len(music.parts) else [music]
    score = Score(resolution=RESOLUTION)
    for index, part in enumerate(parts):
        score.tracks.append(_track(part, index))
    _context(music, score)
    md = music.metadata
    if md is not None:
        for field, value in (("title", md.title or md.movementName), ("composer", md.composer)):
            if value:
                score.metadata[field] = str(value)
    return score


def _ticks(quarters) -> int:
    return int(round(float(quarters) * RESOLUTION))


def _track(part, index: int) -> Track:
    from music21 import chord, harmony, instrument, note

    flat = part.flatten()
    pitch, start, end, velocity = [], [], [], []
    open_ties: dict[tuple[int, int], int] = {}  # (pitch, tick where the tied note ends) -> index
    for element in flat.notes:
        if isinstance(element, harmony.Harmony):
            continue
        if isinstance(element, note.Note):
            members = [element]
        elif isinstance(element, chord.Chord):
            members = list(element.notes)
        else:  # unpitched percussion
            continue
        on = _ticks(element.offset)
        off = _ticks(element.offset + element.quarterLength)
        if off <= on:  # grace notes
            continue
        vel = element.volume.velocity if element.hasVolumeInformation() else None
        vel = DEFAULT_VELOCITY if vel is None else int(np.clip(vel, 1, 127))
        for member in members:
            p = int(round(member.pitch.ps))
            tie = member.tie or element.tie
            kind = tie.type if tie is not None else None
            index = open_ties.pop((p, on), None) if kind in ("stop", "continue") else None
            if index is None:  # a new note (also when a tie has nothing to continue)
                index = len(pitch)
                pitch.append(p)
                start.append(on)
                end.append(off)
                velocity.append(vel)
            else:
                end[index] = off
            if kind in ("start", "continue"):
                open_ties[(p, off)] = index
    inst = part.getInstrument(returnDefault=False) if hasattr(part, "getInstrument") else None
    program = inst.midiProgram if inst is not None and inst.midiProgram is not None else 0
    is_drum = inst is not None and (
        inst.midiChannel == 9 or isinstance(inst, instrument.UnpitchedPercussion)
    )
    name = getattr(part, "partName", None) or (inst.partName if inst is not None else None) or ""
    notes = make_notes(pitch, start, end, velocity)
    notes = notes[(notes["pitch"] >= 0) & (notes["pitch"] <= 127)]
    return Track(name=str(name), program=int(program), is_drum=bool(is_drum), notes=notes)


def _key_name(k) -> str:
    """music21 Key/KeySignature -> 'C', 'F#m', 'Bb' (modes other than major/minor by signature)."""
    from music21 import key

    if not isinstance(k, key.Key) or k.mode not in ("major", "minor"):
        k = key.KeySignature(k.sharps).asKey("major")
    return k.tonic.name.replace("-", "b") + ("m" if k.mode == "minor" else "")


def _context(music, score: Score) -> None:
    from music21 import harmony, key, meter, tempo

    flat = music.flatten()
    seen = set()

    def add(target, event, identity):
        if identity not in seen:
            seen.add(identity)
            target.append(event)

    for element in flat.getElementsByClass(tempo.MetronomeMark):
        qpm = element.getQuarterBPM()
        if qpm:
            t = _ticks(element.offset)
            add(score.tempos, Tempo(t, float(qpm)), ("tempo", t, float(qpm)))
    for element in flat.getElementsByClass(meter.TimeSignature):
        t = _ticks(element.offset)
        sig = TimeSignature(t, int(element.numerator), int(element.denominator))
        add(score.time_signatures, sig, ("meter", t, sig.numerator, sig.denominator))
    for element in flat.getElementsByClass(key.KeySignature):
        t = _ticks(element.offset)
        name = _key_name(element)
        add(score.key_signatures, KeySignature(t, name), ("key", t, name))
    for element in flat.getElementsByClass(harmony.ChordSymbol):
        if isinstance(element, harmony.NoChord) or not element.pitches:
            continue
        t = _ticks(element.offset)
        root = element.root().pitchClass
        bass = element.bass().pitchClass if element.bass() is not None else None
        classes = tuple(sorted({p.pitchClass for p in element.pitches}))
        text = str(element.figure or "")
        add(score.chords, ChordSymbol(t, root, classes, bass, text), ("chord", t, text, classes))
    for events in (score.tempos, score.time_signatures, score.key_signatures, score.chords):
        events.sort(key=lambda e: e.time)


def write_musicxml(score: Score, path: str | os.PathLike) -> None:
    """Writes `score` as uncompressed MusicXML via music21.

    One part per track; times are quantised to the nearest 1/12 quarter (a note lasts at least
    that). Notes of one track that start and end together form a chord; overlapping notes go to
    separate voices. Drum tracks are written as pitched notes; velocities are not written.

    Args:
        score: `Score`.
        path: str or PathLike, the `.xml`/`.musicxml` file to write.
    """
    from music21 import metadata, stream, tempo

    music = stream.Score()
    music.metadata = metadata.Metadata()
    music.metadata.title = score.metadata.get("title", "")
    music.metadata.composer = score.metadata.get("composer", "")
    end = _quantise(max(score.end, 1), score.resolution)
    tracks = score.tracks or [Track()]
    for index, track in enumerate(tracks):
        part = _part(track, score, end)
        if index == 0:
            for t in score.tempos:
                _insert_in_measure(part, _quantise(t.time, score.resolution), tempo.MetronomeMark(number=round(t.qpm, 3)))
        music.insert(0, part)
    music.write("musicxml", fp=os.fspath(path))


def _quantise(ticks, resolution: int):
    return np.round(np.asarray(ticks, dtype=np.float64) * WRITE_STEPS_PER_QUARTER / resolution).astype(np.int64)


def _part(track: Track, score: Score, end_steps: int):
    from music21 import chord, instrument, meter, note, stream

    q = WRITE_STEPS_PER_QUARTER
    starts = _quantise(track.notes["start"], score.resolution)
    ends = np.maximum(_quantise(track.notes["end"], score.resolution), starts + 1)
    groups: dict[tuple[int, int], set[int]] = {}
    for s, e, p in zip(starts.tolist(), ends.tolist(), track.notes["pitch"].tolist()):
        groups.setdefault((s, e), set()).add(int(p))
    voices: list[list[tuple[int, int, list[int]]]] = []  # each voice: non-overlapping (start, end, pitches)
    for (s, e), pitches in sorted(groups.items()):
        for voice in voices:
            if voice[-1][1] <= s:
                voice.append((s, e, sorted(pitches)))
                break
        else:
            voices.append([(s, e, sorted(pitches))])
    total = max(int(end_steps), max((e for (_, e) in groups), default=0), 1)
    container = stream.Part()
    container.partName = track.name or None
    try:
        inst = instrument.instrumentFromMidiProgram(int(track.program))
    except Exception:  # unknown program: fall back to a piano
        inst = instrument.Piano()
    inst.partName = track.name or None
    container.insert(0, inst)
    for number, voice in enumerate(voices or [[]], start=1):
        v = stream.Voice(id=str(number))
        cursor = 0
        for s, e, pitches in voice:
            if s > cursor:
                v.insert(Fraction(cursor, q), note.Rest(quarterLength=Fraction(s - cursor, q)))
            length = Fraction(e - s, q)
            element = note.Note(pitches[0], quarterLength=length) if len(pitches) == 1 else chord.Chord(pitches, quarterLength=length)
            v.insert(Fraction(s, q), element)
            cursor = e
        if cursor < total:
            v.insert(Fraction(cursor, q), note.Rest(quarterLength=Fraction(total - cursor, q)))
        container.insert(0, v)
    meters = stream.Stream()
    for sig in score.time_signatures:
        meters.insert(Fraction(int(_quantise(sig.time, score.resolution)), q), meter.TimeSignature(f"{sig.numerator}/{sig.denominator}"))
    if not len(meters):
        meters.insert(0, meter.TimeSignature("4/4"))
    part = container.makeMeasures(meterStream=meters)
    part.makeTies(inPlace=True)
    for sig in score.key_signatures:
        k = _music21_key(sig.key)
        if k is not None:
            _insert_in_measure(part, _quantise(sig.time, score.resolution), k)
    return part


def _music21_key(name: str):
    from music21 import key

    normal = normalize_key_name(name)
    if normal is None:
        return None
    minor = normal.endswith("m")
    tonic = normal[:-1] if minor else normal
    tonic = tonic[0] + tonic[1:].replace("b", "-")
    return key.Key(tonic.lower() if minor else tonic)


def _insert_in_measure(part, steps: int, element) -> None:
    """Inserts `element` in the measure of `part` that holds time `steps` (1/12 quarters)."""
    offset = Fraction(int(steps), WRITE_STEPS_PER_QUARTER)
    measures = list(part.getElementsByClass("Measure"))
    for measure in reversed(measures):
        if measure.offset <= offset:
            measure.insert(offset - Fraction(measure.offset), element)
            return
