"""Reading and writing a `Score` by file suffix: one entry point for every format.

The format modules (and their libraries: mido, music21) are imported only when a file of their
kind is read or written.
"""
from __future__ import annotations

import itertools
import os
import re
import sys
from pathlib import Path
from typing import Iterable

import numpy as np

from zoo.atomic import atomic_path
from zoo.errors import ScoreReadError, UsageError
from zoo.music.score import MAX_PIECE_QUARTERS, MAX_PIECE_SECONDS, Score

MIDI_SUFFIXES = (".mid", ".midi")
MUSIC21_SUFFIXES = (".xml", ".musicxml", ".mxl", ".abc", ".krn")
LEADSHEET_SUFFIXES = (".ls",)  # Impro-Visor lead sheets (zoo/music/leadsheet.py)
SCORE_SUFFIXES = MIDI_SUFFIXES + MUSIC21_SUFFIXES + LEADSHEET_SUFFIXES  # what a folder scan picks up
WRITE_SUFFIXES = MIDI_SUFFIXES + (".xml", ".musicxml") + LEADSHEET_SUFFIXES


def load_score(path: str | os.PathLike) -> Score:
    """Reads a MIDI, MusicXML (.xml, .musicxml, .mxl), ABC or Humdrum file into a `Score`.

    Args:
        path: str or PathLike; the format is chosen by its suffix (case-insensitive).

    Raises:
        ScoreReadError: missing file, unknown suffix, a file its reader cannot parse, or a piece that
            `check_piece_length` refuses (longer than `MAX_PIECE_QUARTERS` / `MAX_PIECE_SECONDS`).
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

        return check_piece_length(read_midi(path), path)
    if suffix in LEADSHEET_SUFFIXES:
        from zoo.music.leadsheet import read_leadsheet

        return check_piece_length(read_leadsheet(path), path)
    from zoo.music.music21_io import read_music21

    return check_piece_length(read_music21(path), path)


def check_piece_length(score: Score, path: str | os.PathLike) -> Score:
    """Returns `score` when it ends within `MAX_PIECE_QUARTERS` quarters and `MAX_PIECE_SECONDS` seconds.

    The end is the latest of every note end, chord, tempo, meter and key event and a lead sheet's
    `end_tick`, so no later step (encodings, rendering) sizes an array by an absurd time.

    Raises:
        ScoreReadError: naming the file, for a longer piece, an event at a negative time, or a tempo
            that is not a positive number.
    """
    events = [*score.tempos, *score.time_signatures, *score.key_signatures, *score.chords]
    starts = [int(t.notes["start"].min()) for t in score.tracks if len(t.notes)] + [int(e.time) for e in events]
    if min(starts, default=0) < 0:  # music21 gives these for a corrupt file (e.g. <divisions>-1)
        raise ScoreReadError(f"cannot read {path}: an event at negative time (tick {min(starts)})")
    try:
        end = max([score.end, int(score.metadata.get("end_tick", 0) or 0)] + [int(e.time) for e in events])
    except ValueError:
        raise ScoreReadError(f"cannot read {path}: its end tick '{score.metadata.get('end_tick')}' is not a number") from None
    quarters = end / max(int(score.resolution), 1)
    if quarters > MAX_PIECE_QUARTERS:
        raise ScoreReadError(f"cannot read {path}: it lasts {quarters:.4g} quarter notes (tick {end}), longer than "
                             f"the {MAX_PIECE_QUARTERS} quarter limit of a piece (a corrupt time or a huge duration?)")
    bad = [t.qpm for t in score.tempos if not (np.isfinite(t.qpm) and t.qpm > 0)]
    if bad:
        raise ScoreReadError(f"cannot read {path}: tempo {bad[0]} is not a positive number of quarters a minute")
    seconds = float(score.seconds(end)) if end > 0 else 0.0
    if seconds > MAX_PIECE_SECONDS:
        raise ScoreReadError(f"cannot read {path}: it lasts {seconds / 3600:.3g} hours, longer than the "
                             f"{MAX_PIECE_SECONDS / 3600:g} hour limit of a piece (an absurd tempo?)")
    return score


def load_tunes(path: str | os.PathLike) -> list[Score]:
    """Every piece in a file: one `Score`, or one per tune of a multi-tune ABC file (each with
    metadata["tune"], its `X:` number). Raises ScoreReadError like `load_score`."""
    if Path(path).suffix.lower() in MUSIC21_SUFFIXES and Path(path).is_file():
        from zoo.music.music21_io import read_music21_tunes

        return [check_piece_length(score, path) for score in read_music21_tunes(path)]
    return [load_score(path)]


def save_score(score: Score, path: str | os.PathLike) -> None:
    """Writes `score` as MIDI (.mid, .midi) or MusicXML (.xml, .musicxml), chosen by suffix, atomically.

    Raises:
        UsageError: a suffix that no writer handles (names the known ones).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in MIDI_SUFFIXES:
        from zoo.music.midi import write_midi

        with atomic_path(path) as tmp:
            write_midi(score, tmp)
    elif suffix in (".xml", ".musicxml"):
        from zoo.music.music21_io import write_musicxml

        with atomic_path(path) as tmp:
            write_musicxml(score, tmp)
    elif suffix in LEADSHEET_SUFFIXES:
        from zoo.music.leadsheet import write_leadsheet

        write_leadsheet(score, path)
    else:
        raise UsageError(f"cannot write {path}: unknown format '{suffix or '(none)'}' (known: {', '.join(WRITE_SUFFIXES)})")


def write_piece(score: Score, stem: Path, sample_rate: int = 22050) -> tuple[dict[str, Path], np.ndarray]:
    """Writes `stem`.mid, .wav and .png; returns their paths and the rendered audio (float32 mono)."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    # Appended, not with_suffix: a dotted run name ("my.run-0") must not lose its tail and collide.
    paths = {kind: stem.with_name(f"{stem.name}.{ext}") for kind, ext in (("midi", "mid"), ("wav", "wav"), ("png", "png"))}
    from zoo.music.audio import render_wav
    from zoo.music.midi import write_midi
    from zoo.music.pianoroll import save_pianoroll_png

    # Each file is written beside its name and renamed into place: a kill mid-write leaves the earlier file
    # (or none), never half a MIDI file that a player or the next epoch's reader chokes on.
    with atomic_path(paths["midi"]) as tmp:
        write_midi(score, tmp)
    with atomic_path(paths["wav"]) as tmp:
        audio = render_wav(score, tmp, sample_rate=sample_rate)
    with atomic_path(paths["png"]) as tmp:
        save_pianoroll_png(score, tmp, title=stem.name)
    return paths, audio


def output_stem(run: str, mode: str, seed: int, index: int) -> str:
    """The name, without suffix, of output `index` that generate.py writes: `{run}-{mode}-s{seed}-{index}`.

    One rule for every model type. `mode` is the generate mode: the type's --mode (musicvae's reconstruct,
    crossmodal's audio, ...) or "sample"; `seed` is the command's --seed. An output's files are `{stem}.{ext}`
    (.mid, .wav, .png, .ls, ...) and `{stem}-{part}.{ext}` where it has several of a kind (crossmodal's
    -transcription.mid) or per-output arrays (lead sheets' -probs.npy); a file about a whole call (musicvae's
    interpolation -all.mid) takes the stem of the call's first output. See `next_output_index`.
    """
    return f"{_output_prefix(run, mode, seed)}{index}"


def _output_prefix(run: str, mode: str, seed: int) -> str:
    return f"{run}-{mode}-s{seed}-"


def next_output_index(output_dir: str | os.PathLike, run: str, mode: str, seed: int) -> int:
    """One past the highest index of any file in `output_dir` named by `output_stem(run, mode, seed, index)`
    (0 when none): a generate call numbers its outputs from here, so a rerun with the same run, mode and
    seed adds files instead of overwriting the earlier ones."""
    # The index ends the name or is followed by a suffix or part; "run-sample-s0-1x" or a hidden temporary is not one.
    pattern = re.compile(re.escape(_output_prefix(run, mode, seed)) + r"(\d+)(?:[.-]|$)")
    folder = Path(output_dir)
    names = [path.name for path in folder.iterdir()] if folder.is_dir() else []
    return max((int(m.group(1)) + 1 for m in map(pattern.match, names) if m), default=0)


def output_stems(output_dir: str | os.PathLike, run: str, mode: str, seed: int, count: int) -> list[Path]:
    """`output_dir / output_stem(...)` of the `count` outputs of one generate call, numbered from
    `next_output_index`; call it before writing any of them."""
    first = next_output_index(output_dir, run, mode, seed)
    return [Path(output_dir) / output_stem(run, mode, seed, first + i) for i in range(count)]


def write_pieces(scores: Iterable[Score], output_dir: str | os.PathLike, run: str, mode: str, seed: int,
                 call_parts: dict[str, Score] | None = None) -> list[Path]:
    """Writes each score as `output_stem(run, mode, seed, index)`.mid/.wav/.png in `output_dir`, numbered from
    `next_output_index` (no earlier output is overwritten), then each {part: score} of `call_parts` (about the
    whole call, e.g. an interpolation joined) as the first output's stem + `-{part}`; says so on stderr and
    returns every path."""
    first = next_output_index(output_dir, run, mode, seed)
    stem = Path(output_dir) / output_stem(run, mode, seed, first)
    pieces = itertools.chain(
        ((stem.with_name(output_stem(run, mode, seed, first + i)), score) for i, score in enumerate(scores)),
        ((stem.with_name(f"{stem.name}-{part}"), score) for part, score in (call_parts or {}).items()))
    written = []
    for path, score in pieces:
        paths, _ = write_piece(score, path)
        written.extend(paths.values())
        print(f"wrote {paths['midi']}, {paths['wav'].name}, {paths['png'].name}", file=sys.stderr)
    return written
