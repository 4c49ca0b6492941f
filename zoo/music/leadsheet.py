"""Impro-Visor lead sheets (`.ls`) <-> `Score` (melody track + chord symbols).

Reading (specs/lstmprovisor.md §1): apostrophes are dropped, the text is read as a flat list of
S-expressions; top-level atoms belong to the current `(part ...)`; every other list is ignored
except `(meter N D)`, `(title ...)`, `(composer ...)` and `(tempo ...)`. The chord part (or the
atoms before any part) gives the chart: `|` closes a bar, `/` repeats the last chord; every melody
part is a chorus over the chart, padded with a rest to a whole number of charts, and the chart is
repeated under every chorus.

Time: the Score is exact at 120 ticks per quarter (Impro-Visor's 480 "slots" per whole note), so
32nd notes (15 ticks) and quintuplets (`16/5` = 24 ticks) read without loss; the 48-steps-a-bar
encodings quantise later (zoo/families/leadsheet/leadsheet_encoding.py). Corrected behaviour of the original (§10):
the meter is read (not assumed); a bar of n chords always sums to a whole bar (the first
`steps mod n` chords get one step more); chords after the last `|` form a final bar; an empty bar
repeats the previous chord with a warning; an unknown chord quality or bad slash bass is a
`LeadSheetWarning` naming the file and bar (the chord becomes NC, or drops the bad bass).
"""
from __future__ import annotations

import dataclasses
import functools
import math
import os
import re
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np

from zoo.atomic import atomic_path
from zoo.errors import ScoreReadError
from zoo.music.chords import ROOT_NAMES, UnknownChordError, chord_name, parse_chord
from zoo.music.score import MAX_PIECE_QUARTERS, ChordSymbol, Score, Tempo, TimeSignature, Track, make_notes

LS_RESOLUTION = 120  # ticks per quarter = Impro-Visor slots (480 per whole note)
WHOLE = 4 * LS_RESOLUTION
STEPS_PER_WHOLE = 48  # the encodings' grid (spec §1.6): one step = 10 ticks
TICKS_PER_STEP = WHOLE // STEPS_PER_WHOLE
MELODY_TRACK = "melody"

_NOTE = re.compile(r"^([a-gr])([#b]?)([+-]*)(.*)$")
# At most 6 digits and 5 dots: longer values are no notated duration (480 slots = 2**5 * 15, so a 6th dot
# never gives whole slots) and would only cost time (int() of thousands of digits raises, too).
_DURATION_PART = re.compile(r"^(\d{1,6})(?:/(\d{1,6}))?(\.{0,5})$")
MAX_FILE_BYTES = 4 * 1024 * 1024  # real lead sheets are tens of kilobytes
MAX_METER_NUMERATOR = 64
TEMPO_RANGE = (1.0, 10_000.0)  # quarters a minute; another (tempo ...) value is ignored
_PITCH_OFFSETS = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
_NOTE_NAMES = ("c", "db", "d", "eb", "e", "f", "gb", "g", "ab", "a", "bb", "b")


class LeadSheetWarning(UserWarning):
    """Something in a lead sheet was read with a stated correction (unknown chord, empty bar, ...)."""


# ---------------------------------------------------------------- lexing
def _sexp_items(text: str, path: str) -> list:
    """Top-level items of the file: atoms (str) and lists (nested Python lists)."""
    tokens = re.findall(r"\(|\)|[^\s()]+", text.replace("'", ""))
    stack: list[list] = [[]]
    for token in tokens:
        if token == "(":
            stack.append([])
        elif token == ")":
            if len(stack) == 1:
                raise ScoreReadError(f"{path}: unbalanced ')' in the lead sheet")
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(token)
    if len(stack) != 1:
        raise ScoreReadError(f"{path}: a '(' is never closed")
    return stack[0]


def _child(form: list, key: str) -> list | None:
    for item in form[1:]:
        if isinstance(item, list) and item and item[0] == key:
            return item[1:]
    return None


# ---------------------------------------------------------------- durations
def duration_ticks(text: str) -> int:
    """Ticks (slots) of a duration string such as '4', '8/3', '4.', '2+8'; ScoreReadError when malformed.

    `N` = 480/N slots, `N/T` = 480(T-1)/(NT) (a tuplet), each dot x3/2, `+` adds (a tie).
    """
    total = Fraction(0)
    shown = text if len(text) <= 24 else text[:20] + "..."
    for part in text.split("+"):
        match = _DURATION_PART.match(part)
        if not match or int(match.group(1)) == 0:
            raise ScoreReadError(f"bad duration '{shown}'")
        value = Fraction(WHOLE, int(match.group(1)))
        if match.group(2):
            tuplet = int(match.group(2))
            if tuplet < 2:
                raise ScoreReadError(f"bad tuplet in duration '{shown}'")
            value = value * (tuplet - 1) / tuplet
        value *= Fraction(3, 2) ** len(match.group(3))
        total += value
    if total.denominator != 1:
        raise ScoreReadError(f"duration '{shown}' is not a whole number of Impro-Visor slots")
    return int(total)


def parse_note(token: str) -> tuple[int | None, int]:
    """'c+2+4' -> (72, 360): MIDI pitch (None for a rest) and duration in ticks. An absent duration is an eighth."""
    match = _NOTE.match(token)
    if not match:
        raise ScoreReadError(f"'{token}' is not a note")
    letter, accidental, octaves, duration = match.groups()
    ticks = duration_ticks(duration) if duration else WHOLE // 8
    if letter == "r":
        return None, ticks
    pitch = 60 + 12 * (octaves.count("+") - octaves.count("-")) + _PITCH_OFFSETS[letter]
    pitch += {"#": 1, "b": -1, "": 0}[accidental]
    return pitch, ticks


# ---------------------------------------------------------------- reading
def read_leadsheet(path: str | os.PathLike) -> Score:
    """Reads an Impro-Visor `.ls` file into a Score (see the module docstring).

    Raises:
        ScoreReadError: unreadable or too large (`MAX_FILE_BYTES`) text, malformed notes or durations, a
            meter numerator above `MAX_METER_NUMERATOR`, several chord parts, no chord chart, nothing
            at all, or more than `zoo.music.score.MAX_PIECE_QUARTERS` quarter notes.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ScoreReadError(f"cannot read {path}: {size} bytes is larger than the {MAX_FILE_BYTES} byte "
                                 "limit of a lead sheet")
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise ScoreReadError(f"cannot read {path}: {error.strerror}") from None
    if not text.strip():
        raise ScoreReadError(f"cannot read {path}: the file is empty")
    items = _sexp_items(text, str(path))
    meter, title, composer, tempo = (4, 4), "", "", None
    parts: list[tuple[str, list[str]]] = [("default", [])]
    for item in items:
        if not isinstance(item, list):
            parts[-1][1].append(item)
            continue
        head = item[0] if item else None
        if head == "part":
            kind = _child(item, "type")
            parts.append((kind[0] if kind and isinstance(kind[0], str) else "unknown", []))
        elif head == "meter" and len(item) >= 3:
            try:
                meter = (int(item[1]), int(item[2]))  # a nested form raises TypeError; a huge number ValueError
            except (TypeError, ValueError):
                shown = " ".join(x if isinstance(x, str) else "(...)" for x in item[1:3])
                raise ScoreReadError(f"{path}: bad meter '{shown[:40]}'") from None
        elif head == "title" and len(item) > 1:
            title = " ".join(str(x) for x in item[1:] if not isinstance(x, list))
        elif head == "composer" and len(item) > 1:
            composer = " ".join(str(x) for x in item[1:] if not isinstance(x, list))
        elif head == "tempo" and len(item) > 1:
            try:
                value = float(item[1])
            except (TypeError, ValueError):
                value = math.nan
            if TEMPO_RANGE[0] <= value <= TEMPO_RANGE[1]:  # NaN, 0, negative and absurd tempos are ignored
                tempo = value
    if not 1 <= meter[0] <= MAX_METER_NUMERATOR or meter[1] not in (1, 2, 4, 8, 16, 32):
        raise ScoreReadError(f"{path}: unsupported meter {meter[0]}/{meter[1]}")
    bar_ticks = WHOLE * meter[0] // meter[1]
    chord_parts = [tokens for kind, tokens in parts if kind == "chords"]
    if len(chord_parts) > 1:
        raise ScoreReadError(f"{path}: {len(chord_parts)} chord parts (a lead sheet has one)")
    chart_tokens = chord_parts[0] if chord_parts else parts[0][1]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LeadSheetWarning)
        chart = _read_chart([t for t in chart_tokens if t in ("|", "/") or t[:1].isupper()], bar_ticks, path)
    for warning in caught:  # re-issued here so the caller's filters apply; counted in the metadata below
        warnings.warn(warning.message, warning.category, stacklevel=2)
    if not chart:
        raise ScoreReadError(f"{path}: no chord chart (a lead sheet needs chord symbols)")
    chart_ticks = chart[-1][2]

    pitches, starts, ends = [], [], []
    offset = 0
    for kind, tokens in parts:
        if kind != "melody":
            continue
        time = offset
        for token in tokens:
            if not token[:1].islower():
                continue
            try:
                pitch, ticks = parse_note(token)
            except ScoreReadError as error:
                raise ScoreReadError(f"{path}: bar {(time - offset) // bar_ticks + 1}: {error}") from None
            if pitch is not None:
                pitches.append(pitch)
                starts.append(time)
                ends.append(time + ticks)
            time += ticks
        # Each chorus covers a whole number of charts (a short one is padded with a rest).
        offset += max(1, math.ceil((time - offset) / chart_ticks)) * chart_ticks
    total_ticks = max(offset, chart_ticks)
    if total_ticks > MAX_PIECE_QUARTERS * LS_RESOLUTION:  # before the chart is repeated under every chorus
        raise ScoreReadError(f"{path}: {total_ticks / LS_RESOLUTION:.0f} quarter notes is longer than the "
                             f"{MAX_PIECE_QUARTERS} quarter limit of a piece")

    chords = []
    for repeat_start in range(0, total_ticks, chart_ticks):
        for symbol, start, _ in chart:
            if symbol is None:
                continue
            chords.append(dataclasses.replace(symbol, time=repeat_start + start))
    chords = _merge_repeats(chords)
    track = Track(name=MELODY_TRACK, program=0, notes=make_notes(pitches, starts, ends))
    metadata = {"title": title, "composer": composer, "source": str(path), "end_tick": str(total_ticks),
                "chord_warnings": str(sum(issubclass(w.category, LeadSheetWarning) for w in caught))}
    return Score(
        resolution=LS_RESOLUTION,
        tracks=[track],
        tempos=[Tempo(0, tempo)] if tempo else [],
        time_signatures=[TimeSignature(0, *meter)],
        chords=chords,
        metadata=metadata,
    )


def _merge_repeats(chords: list[ChordSymbol]) -> list[ChordSymbol]:
    """Drops a chord that repeats the one sounding (a `/` or the same symbol again): chords are change points."""
    merged: list[ChordSymbol] = []
    for chord in chords:
        if merged and (merged[-1].root, merged[-1].pitch_classes, merged[-1].bass) == (
                chord.root, chord.pitch_classes, chord.bass):
            continue
        merged.append(chord)
    return merged


def _symbol(token: str, path: Path, bar: int) -> ChordSymbol:
    try:
        root, pcs, bass = parse_chord(token)
    except UnknownChordError as error:
        name, _, bass_name = token.partition("/")
        if bass_name:  # a bad bass: keep the chord above it
            try:
                root, pcs, _ = parse_chord(name)
                warnings.warn(f"{path}: bar {bar}: {error} in '{token}'; read as {name}", LeadSheetWarning,
                              stacklevel=3)
                return ChordSymbol(0, root, tuple(int(i) for i in np.flatnonzero(pcs)), None, name)
            except UnknownChordError:
                pass
        warnings.warn(f"{path}: bar {bar}: {error} in '{token}'; read as NC (no chord)", LeadSheetWarning,
                      stacklevel=3)
        return ChordSymbol(0, 0, (), None, "NC")
    return ChordSymbol(0, root, tuple(int(i) for i in np.flatnonzero(pcs)), bass, token)


def _read_chart(tokens: list[str], bar_ticks: int, path: Path) -> list[tuple[ChordSymbol | None, int, int]]:
    """Chord tokens -> [(symbol, start, end)] in ticks; the last entry's end is the chart length."""
    bar_steps = bar_ticks // TICKS_PER_STEP
    chart: list[tuple[ChordSymbol | None, int, int]] = []
    last: ChordSymbol | None = None
    pending: list[ChordSymbol] = []
    bar_index = 0
    if tokens and tokens[-1] != "|":
        tokens = tokens + ["|"]  # chords after the last bar line form a final bar
    for token in tokens:
        if token == "/":
            if last is None:
                warnings.warn(f"{path}: bar {bar_index + 1}: '/' before any chord; read as NC", LeadSheetWarning,
                              stacklevel=2)
                last = ChordSymbol(0, 0, (), None, "NC")
            pending.append(last)
        elif token != "|":
            last = _symbol(token, path, bar_index + 1)
            pending.append(last)
        else:
            start = bar_index * bar_ticks
            if not pending:
                warnings.warn(f"{path}: bar {bar_index + 1} is empty; it repeats the previous chord",
                              LeadSheetWarning, stacklevel=2)
                pending = [last] if last is not None else []
            if pending:
                base, extra = divmod(bar_steps, len(pending))
                for i, symbol in enumerate(pending):
                    steps = base + (1 if i < extra else 0)
                    chart.append((symbol, start, start + steps * TICKS_PER_STEP))
                    start += steps * TICKS_PER_STEP
            else:
                chart.append((None, start, start + bar_ticks))
            pending = []
            bar_index += 1
    if chart and all(symbol is None for symbol, _, _ in chart):
        return []
    return chart


# ---------------------------------------------------------------- writing
@functools.lru_cache(maxsize=4096)
def duration_text(ticks: int) -> str:
    """Shortest Impro-Visor duration for `ticks` slots (e.g. 360 -> '2.', 600 -> '1+4'); '' for 0.

    Raises ValueError when no sum of notated durations gives `ticks` exactly.
    """
    if ticks <= 0:
        return ""
    wholes, rest = divmod(ticks, WHOLE)
    parts = ["1"] * wholes
    if rest:
        parts.extend(_shortest_sum(rest))
    return "+".join(parts)


_DURATION_NAMES: dict[int, str] = {}
for _n in (1, 2, 4, 8, 16, 32):
    for _suffix, _scale in (("", Fraction(1)), (".", Fraction(3, 2)), ("/3", Fraction(2, 3)), ("/5", Fraction(4, 5))):
        _value = Fraction(WHOLE, _n) * _scale
        if _value.denominator == 1 and int(_value) not in _DURATION_NAMES and _value <= WHOLE:
            _DURATION_NAMES[int(_value)] = f"{_n}{_suffix}"


def _shortest_sum(ticks: int) -> list[str]:
    """Fewest notated durations summing to `ticks` (< a whole note), longest first."""
    values = sorted(_DURATION_NAMES, reverse=True)
    best: list[list[int] | None] = [[]] + [None] * ticks
    for total in range(1, ticks + 1):
        for value in values:
            if value <= total and best[total - value] is not None:
                candidate = best[total - value] + [value]
                if best[total] is None or len(candidate) < len(best[total]):
                    best[total] = candidate
    if best[ticks] is None:
        raise ValueError(f"{ticks} slots is not a sum of notated durations")
    return [_DURATION_NAMES[v] for v in sorted(best[ticks], reverse=True)]


def note_text(pitch: int | None, ticks: int) -> str:
    """One melody token: 'c+2+4', 'bb-8', 'r1+4' (a length no notation sums to is rounded to the 48-a-bar grid)."""
    try:
        duration_text(ticks)
    except ValueError:
        ticks = max(TICKS_PER_STEP, round(ticks / TICKS_PER_STEP) * TICKS_PER_STEP)
    if pitch is None:
        return "r" + duration_text(ticks)
    octave, pitch_class = divmod(int(pitch) - 60, 12)
    marks = "+" * octave if octave > 0 else "-" * (-octave)
    return _NOTE_NAMES[pitch_class] + marks + duration_text(ticks)


def melody_tokens(notes: np.ndarray, end: int) -> list[str]:
    """Note tokens of a monophonic line (ticks at 120 per quarter); overlaps are cut at the next onset."""
    tokens, time = [], 0
    order = np.argsort(notes["start"], kind="stable")
    starts, ends, pitches = notes["start"][order], notes["end"][order], notes["pitch"][order]
    for i, (start, stop, pitch) in enumerate(zip(starts, ends, pitches)):
        if i + 1 < len(starts) and starts[i + 1] == start:
            continue  # a chord in the melody: keep its top note (sorted last)
        if start > time:
            tokens.append(note_text(None, int(start - time)))
        start = max(int(start), time)
        stop = int(min(stop, starts[i + 1])) if i + 1 < len(starts) else int(stop)
        if stop > start:
            tokens.append(note_text(int(pitch), stop - start))
            time = stop
    if end > time:
        tokens.append(note_text(None, end - time))
    return tokens


def chord_text(chord: ChordSymbol) -> str:
    """The chord's own symbol when it still parses to the same chord, else one rebuilt from its pitch classes."""
    if chord.text:
        try:
            root, pcs, bass = parse_chord(chord.text)
            if (root, tuple(int(i) for i in np.flatnonzero(pcs)), bass) == (
                    chord.root % 12, tuple(sorted(p % 12 for p in chord.pitch_classes)), chord.bass):
                return chord.text
        except UnknownChordError:
            pass
    return chord_name(chord.root, chord.pitch_classes, chord.bass)


def chart_lines(chords: list[ChordSymbol], end: int, bar_ticks: int = WHOLE) -> list[str]:
    """Chord part lines, four bars each: per bar the chord of every step, run-lengths divided by their gcd."""
    bar_steps = bar_ticks // TICKS_PER_STEP
    num_bars = max(1, math.ceil(end / bar_ticks))
    ordered = sorted(chords, key=lambda c: c.time)
    times = np.array([c.time for c in ordered], dtype=np.int64)
    names = [chord_text(c) for c in ordered]
    bars = []
    for bar in range(num_bars):
        step_times = bar * bar_ticks + np.arange(bar_steps) * TICKS_PER_STEP
        index = np.searchsorted(times, step_times, side="right") - 1
        step_names = [names[i] if i >= 0 else "NC" for i in index]
        runs: list[list] = []
        for name in step_names:
            if runs and runs[-1][0] == name:
                runs[-1][1] += 1
            else:
                runs.append([name, 1])
        divisor = math.gcd(*[count for _, count in runs])
        bars.append(" ".join(name for name, count in runs for _ in range(count // divisor)) + " |")
    return [" ".join(bars[i:i + 4]) for i in range(0, len(bars), 4)]


def leadsheet_text(score: Score) -> str:
    """The `.ls` text of a Score: header, one chord part, one melody part (the first non-drum track)."""
    from_other_grid = score.resolution != LS_RESOLUTION
    score = score.resampled(LS_RESOLUTION) if from_other_grid else score
    meter = (score.time_signatures[0].numerator, score.time_signatures[0].denominator) if score.time_signatures else (4, 4)
    bar_ticks = WHOLE * meter[0] // meter[1]
    melody = next((t for t in score.tracks if t.name == MELODY_TRACK), None) or next(
        (t for t in score.tracks if not t.is_drum), None)
    notes = melody.notes if melody is not None else make_notes()
    end = max(int(score.metadata.get("end_tick", 0) or 0), score.end, max((c.time for c in score.chords), default=0) + 1)
    end = max(1, math.ceil(end / bar_ticks)) * bar_ticks
    # A score from another format (MIDI, ABC) is quantised to 1/48 of a whole note; a lead sheet is written exactly.
    grid = notes.copy()
    if from_other_grid:
        for field in ("start", "end"):
            grid[field] = np.round(grid[field] / TICKS_PER_STEP).astype(np.int64) * TICKS_PER_STEP
        grid = grid[grid["end"] > grid["start"]]
    title = score.metadata.get("title", "")
    lines = [
        f"(title {title})",
        f"(composer {score.metadata.get('composer', '')})",
        f"(meter {meter[0]} {meter[1]})",
        "(key 0)",
        f"(tempo {score.qpm_at_start():.1f})",
        "(part",
        "    (type chords)",
        "    (title )",
        "    (composer )",
        "    (instrument 0)",
        "    (volume 65)",
        "    (key 0)",
        ")",
        "",
        "(section (style swing))",
        "",
        *chart_lines(score.chords, end, bar_ticks),
        "",
        "(part",
        "    (type melody)",
        "    (title )",
        "    (composer )",
        "    (instrument 11)",
        "    (volume 85)",
        "    (key 0)",
        "    (stave treble)",
        ")",
    ]
    tokens = melody_tokens(grid, end)
    lines += [" ".join(tokens[i:i + 8]) for i in range(0, len(tokens), 8)]
    return "\n".join(lines) + "\n"


def write_leadsheet(score: Score, path: str | os.PathLike) -> None:
    """Writes `score` as an Impro-Visor `.ls` file (atomically)."""
    with atomic_path(path) as tmp:
        tmp.write_text(leadsheet_text(score), encoding="utf-8")


def chord_track(score: Score, low: int = 48, velocity: int = 60) -> Track:
    """A MIDI accompaniment track: each chord's pitch classes voiced once upwards from `low` (bass below it)."""
    pitches, starts, ends = [], [], []
    ordered = sorted(score.chords, key=lambda c: c.time)
    end = max(score.end, int(score.metadata.get("end_tick", 0) or 0))
    for i, chord in enumerate(ordered):
        stop = ordered[i + 1].time if i + 1 < len(ordered) else end
        if stop <= chord.time or not chord.pitch_classes:
            continue
        for pc in chord.pitch_classes:
            pitches.append(low + (int(pc) - chord.root) % 12 + chord.root % 12 - (12 if chord.root % 12 > 6 else 0))
            starts.append(chord.time)
            ends.append(stop)
        if chord.bass is not None:
            pitches.append(36 + chord.bass)
            starts.append(chord.time)
            ends.append(stop)
    return Track(name="chords", program=0, notes=make_notes(pitches, starts, ends, velocity=np.full(len(pitches), velocity)))


__all__ = ["LS_RESOLUTION", "LeadSheetWarning", "ROOT_NAMES", "chord_track", "duration_text", "leadsheet_text",
           "parse_note", "read_leadsheet", "write_leadsheet"]
