"""Generation for the lead-sheet model types: the chord grids to play over, the sampler call, the output files.

A grid is {"root" [B, T] int32, "chord" [B, T, 12] float32} plus, where its source has a melody,
{"pitch" [B, T], "onset" [B, T]} (the stored-piece layout of leadsheet_encoding.py). Grids come from a
chord chart (`chart_grid`, the ii-V-I `DEFAULT_CHART` by default), from the run folder's own `primer.ls`
(`primer_chunks`, the default when the folder has one), from the chunks of a score (`--generate_over`,
`source_chunks`) or from random segments of the validation data (`--generate`, `split_chunks`);
`sample_over` runs the compiled `LeadSheetGenerator` over them and `write_generated` writes what generate.py
promises: per chunk a lead sheet with its MIDI/WAV/PNG, its source line and its .npy diagnostics, named by
`zoo.music.io.output_stem`.
"""
from __future__ import annotations

import sys
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from zoo.atomic import atomic_path
from zoo.core.model_cache import per_model
from zoo.data.dataset import EncodedSplit
from zoo.errors import DataError, EncodingError, RunError, ScoreReadError, UsageError
from zoo.families.leadsheet import leadsheet_encoding as ls
from zoo.families.leadsheet.leadsheet_data import long_enough, parse_time, segment_starts
from zoo.families.leadsheet.leadsheet_network import LeadSheetGenerator
from zoo.music.chords import chord_root_and_type, parse_chord
from zoo.music.score import Score

DEFAULT_CHART = ("Dm7", "G7", "CM7", "CM7")  # sample_scores' chords, one per bar
DEFAULT_BARS = 4  # bars of DEFAULT_CHART that generate.py plays over without --bars
# A run folder's own chart (and melody, which compae answers): generate.py's default when the folder has one. A
# preset ships one of ours (zoo/families/leadsheet/primers/), never a lead sheet of its (GPL) training data.
PRIMER_FILE = "primer.ls"


def chart_grid(chart: tuple[str, ...], bars: int) -> dict[str, np.ndarray]:
    """{"root" [T], "chord" [T, 12]} of `bars` bars of `chart` (one chord symbol a bar, repeated)."""
    roots, chords = [], []
    for bar in range(bars):
        root, vector = chord_root_and_type(*parse_chord(chart[bar % len(chart)]))
        roots += [root] * ls.STEPS_PER_BAR
        chords += [vector] * ls.STEPS_PER_BAR
    return {"root": np.array(roots, np.int32), "chord": np.array(chords, np.float32)}


def stack_grids(chunks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Stored-piece windows of one length -> one batched grid (chords as float32)."""
    grid = {k: np.stack([c[k] for c in chunks]) for k in chunks[0]}
    grid["chord"] = grid["chord"].astype(np.float32)
    return grid


def generator_of(model: keras.Model, experts: tuple[str, ...]) -> LeadSheetGenerator:
    """The model's compiled sampling loop, built (and traced) once per loaded model: samples, generate, export."""
    return per_model(model, "generator", lambda: LeadSheetGenerator(model, experts, ls.LOW))


def sample_over(model: keras.Model, experts: tuple[str, ...], roots: np.ndarray, chords: np.ndarray,
                seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(chosen [B, T], probs [B, T, V], expert probs [E, B, T, V]) sampled over roots [B, T] and chords
    [B, T, 12], the interval expert starting at DEFAULT_START_POSITION."""
    generator = generator_of(model, experts)
    start = np.full(len(roots), ls.DEFAULT_START_POSITION, np.int32)
    chosen, probs, expert_probs = generator.generate(
        tf.constant(roots, tf.int32), tf.constant(chords, tf.float32), tf.constant(start, tf.int32),
        tf.constant([seed, 0], tf.int32))
    return chosen.numpy(), probs.numpy(), expert_probs.numpy()


def grid_score(chosen: np.ndarray, roots: np.ndarray, chords: np.ndarray, title: str = "") -> Score:
    """A generated melody (output indices [T]) over its chords -> Score with a melody and a chord track."""
    from zoo.music.leadsheet import chord_track

    score = ls.grid_to_score(chosen, roots, chords, low=ls.LOW, title=title)
    score.tracks.append(chord_track(score))
    return score


def source_chunks(source: str, width: str) -> tuple[dict[str, np.ndarray], list[int], list[str]]:
    """`--generate_over SOURCE DIV_WIDTH`: (grid, real lengths, source lines) of SOURCE's chords (and melody)
    in independent chunks of DIV_WIDTH (Nbar, steps or 'full'); the last chunk is padded, its length real."""
    from zoo.music.io import load_score

    try:
        score = load_score(source)
    except ScoreReadError as error:
        raise ScoreReadError(f"--generate_over: {error}") from None
    try:
        grid = ls.score_to_grid(score)
    except EncodingError as error:  # no chords, not 4/4
        raise UsageError(f"--generate_over {source}: {error}") from None
    total = len(grid["root"])
    step = total if width == "full" else parse_time(width, "--generate_over DIV_WIDTH")
    if step > total:
        raise UsageError(f"--generate_over DIV_WIDTH {width} ({step} steps) is longer than {source} "
                         f"({total} steps = {total // ls.STEPS_PER_BAR} bars)")
    starts = list(range(0, total, step))
    chunks, lengths = [], []
    for s in starts:
        idx = np.minimum(np.arange(s, s + step), total - 1)  # the last chunk's extra steps are cut off
        chunks.append(ls.window({k: v[idx] for k, v in grid.items()}, 0, step))
        lengths.append(min(step, total - s))
    lines = [f"{source}: starting at {s} = bar {s / ls.STEPS_PER_BAR:g}" for s in starts]
    return stack_grids(chunks), lengths, lines


def primer_chunks(path: Path, bars: int | None, count: int) -> tuple[dict[str, np.ndarray], list[int], list[str]]:
    """The run's primer (`PRIMER_FILE`) as `count` equal chunks: (grid, lengths, source lines) of its chords and
    melody, as written or repeated (cut) to `bars` bars; RunError when it does not read as a 4/4 lead sheet."""
    from zoo.music.io import load_score

    try:
        grid = ls.score_to_grid(load_score(path))
    except (ScoreReadError, EncodingError) as error:
        raise RunError(f"the run's primer {path} is not a usable lead sheet ({error}); fix or remove it") from None
    length = len(grid["root"]) if bars is None else bars * ls.STEPS_PER_BAR
    idx = np.arange(length) % len(grid["root"])
    chunk = ls.window({k: v[idx] for k, v in grid.items()}, 0, length)
    return stack_grids([chunk] * count), [length] * count, [f"{path}: starting at 0 = bar 0"] * count


def split_chunks(split: EncodedSplit, seg_len: int, seg_step: int, num_outputs: int,
                 seed: int) -> tuple[dict[str, np.ndarray], list[int], list[str]]:
    """`--generate`: (grid, lengths, source lines) of `num_outputs` random segments of the run's validation split."""
    split = long_enough(split, seg_len)
    if not split.pieces:
        raise DataError(f"the run's validation data has no piece of {seg_len} steps")
    rng = np.random.default_rng(seed)
    chunks, lines = [], []
    for _ in range(num_outputs):
        i = int(rng.integers(len(split.pieces)))
        starts = segment_starts(len(split.pieces[i]["pitch"]), seg_len, seg_step)
        s = int(starts[rng.integers(len(starts))])
        chunks.append(ls.window(split.pieces[i], s, seg_len))
        source = split.sources[i] if split.sources else f"piece {i}"
        lines.append(f"{source}: starting at {s} = bar {s / ls.STEPS_PER_BAR:g}")
    return stack_grids(chunks), [seg_len] * len(chunks), lines


def write_generated(out: Path, run: str, seed: int, grid: dict[str, np.ndarray], lengths: list[int],
                    lines: list[str], chosen: np.ndarray, probs: np.ndarray, info: dict[str, np.ndarray]) -> list[Path]:
    """Writes chunk k (cut to lengths[k]) as the next free `output_stem(run, "sample", seed, index)` in `out`:
    .ls/.mid/.wav/.png, -source.txt (lines[k]), -chosen.npy [L], -probs.npy [L, V] and -{part}.npy of each
    {part: [B, T, ...]} of `info`; returns the paths written."""
    from zoo.music.io import output_stems, write_piece
    from zoo.music.leadsheet import write_leadsheet

    roots, chords = grid["root"], grid["chord"].astype(np.float32)
    written = []
    for k, stem in enumerate(output_stems(out, run, "sample", seed, len(lengths))):
        length = lengths[k]
        score = grid_score(chosen[k, :length], roots[k, :length], chords[k, :length], title=stem.name)
        sheet, source = stem.with_name(f"{stem.name}.ls"), stem.with_name(f"{stem.name}-source.txt")
        write_leadsheet(score, sheet)
        paths, _ = write_piece(score, stem)
        with atomic_path(source) as tmp:
            tmp.write_text(lines[k] + "\n")
        written += [sheet, *paths.values(), source]
        for part, array in {"chosen": chosen, "probs": probs, **info}.items():
            written.append(stem.with_name(f"{stem.name}-{part}.npy"))
            with atomic_path(written[-1]) as tmp:
                np.save(tmp, array[k, :length])
        print(f"wrote {stem}.ls with its .mid, .wav, .png, -source.txt and .npy diagnostics", file=sys.stderr)
    return written
