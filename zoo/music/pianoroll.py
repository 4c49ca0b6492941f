"""Piano rolls of a `Score`: a boolean array, and a picture (PNG file or RGB array) via matplotlib.

matplotlib is imported inside the drawing functions and drawn with the Agg canvas directly
(no pyplot global state), so this works headless and from several threads.
"""
from __future__ import annotations

import os

import numpy as np

from zoo.errors import EncodingError
from zoo.music.score import Score

MAX_STEPS = 10_000_000  # a longer roll is refused rather than allocated
_TRACK_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")


def pianoroll(score: Score, steps_per_quarter: int = 12, include_drums: bool = False) -> np.ndarray:
    """Which pitches sound at each time step.

    A note covers steps [round(start), round(end)) in units of 1/`steps_per_quarter` quarter, at
    least one step.

    Args:
        score: `Score`.
        steps_per_quarter: int, time steps per quarter note (default 12).
        include_drums: bool, whether drum tracks are included (default False).

    Returns:
        bool array [T, 128], T = steps up to the end of the last included note (0 if none).

    Raises:
        EncodingError: the roll would be longer than `MAX_STEPS`.
    """
    notes = score.all_notes(include_drums=include_drums)
    notes = notes[(notes["pitch"] >= 0) & (notes["pitch"] < 128)]
    scale = steps_per_quarter / score.resolution
    start = np.round(notes["start"] * scale).astype(np.int64)
    end = np.maximum(np.round(notes["end"] * scale).astype(np.int64), start + 1)
    steps = int(end.max(initial=0))
    if steps > MAX_STEPS:
        raise EncodingError(f"a piano roll of {steps} steps is longer than the {MAX_STEPS} step limit")
    change = np.zeros((steps + 1, 128), dtype=np.int32)
    pitch = notes["pitch"].astype(np.int64)
    np.add.at(change, (start, pitch), 1)
    np.add.at(change, (end, pitch), -1)
    return np.cumsum(change, axis=0)[:steps] > 0


def _figure(score: Score, title: str | None = None):
    """Builds the piano-roll figure: one colour per track, quarters on x, used pitch range on y."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import PolyCollection
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    figure = Figure(figsize=(10, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    legend, low, high, last = [], 127, 0, 0.0
    for index, track in enumerate(score.tracks):
        notes = track.notes
        if not len(notes):
            continue
        color = _TRACK_COLORS[index % len(_TRACK_COLORS)]
        x0 = notes["start"] / score.resolution
        x1 = notes["end"] / score.resolution
        y = notes["pitch"].astype(np.float64)
        verts = np.stack(
            [np.stack([x0, y - 0.4], -1), np.stack([x1, y - 0.4], -1), np.stack([x1, y + 0.4], -1), np.stack([x0, y + 0.4], -1)],
            axis=1,
        )
        axes.add_collection(PolyCollection(verts, facecolors=color, edgecolors="none"))
        low, high, last = min(low, int(y.min())), max(high, int(y.max())), max(last, float(x1.max()))
        name = track.name or f"track {index + 1}"
        legend.append(Patch(color=color, label=name + (" (drums)" if track.is_drum else "")))
    if legend:
        axes.set_xlim(0, max(last, 1.0))
        axes.set_ylim(low - 1, high + 1)
        axes.legend(handles=legend, loc="upper right", fontsize="small")
    axes.set_xlabel("time (quarter notes)")
    axes.set_ylabel("MIDI pitch")
    if title:
        axes.set_title(title)
    figure.tight_layout()
    return figure


def save_pianoroll_png(score: Score, path: str | os.PathLike, title: str | None = None) -> None:
    """Draws the piano roll of `score` (one colour per track) to a PNG file at `path`."""
    _figure(score, title).savefig(os.fspath(path), format="png")


def pianoroll_image(score: Score, title: str | None = None) -> np.ndarray:
    """The same picture as `save_pianoroll_png`, as a uint8 RGB array [H, W, 3] (for TensorBoard)."""
    figure = _figure(score, title)
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()
