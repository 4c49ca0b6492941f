"""The cross-modal family's figures (matplotlib, Agg backend, imported when a figure is drawn).

`plot_transcription` (generate.py `--mode audio`: the input's CQT with the transcribed pitches over
it, and the signal VAE's resynthesis), `plot_reconstructions` (the training callback: validation
frames beside their reconstruction and synthesis from labels), `plot_confusions` and
`plot_latents` (`python -m zoo evaluate`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from zoo.atomic import atomic_path
from zoo.families.crossmodal.note_labels import midi_of
from zoo.music import cqt


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_transcription(original: np.ndarray, rebuilt: np.ndarray, labels: dict[str, np.ndarray], config, path: Path
                       ) -> None:
    """Linear CQT magnitudes of the input and of its resynthesis [T, 410], the transcribed labels [T, instruments]."""
    plt = _pyplot()
    fig, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    for ax, mags, title in ((axes[0], original, "input"), (axes[1], rebuilt, "signal VAE reconstruction")):
        ax.imshow(np.log(np.maximum(mags, 1e-6)).T, origin="lower", aspect="auto", cmap="magma")
        ax.set_title(title)
        ax.set_ylabel("CQT bin (30 Hz - 11 kHz)")
    centres = np.log(cqt.bin_frequencies())
    for i, name in enumerate(config["instruments"]):
        midi = np.where(labels["octave"][:, i] >= 0, midi_of(labels["octave"][:, i], labels["pitch"][:, i]), -1)
        freq = 440.0 * 2.0 ** ((midi - 69) / 12.0)
        bins = np.interp(np.log(freq), centres, np.arange(cqt.NUM_BINS))
        axes[0].plot(np.where(midi >= 0, bins, np.nan), ".", markersize=3, label=f"transcribed {name}")
    axes[0].legend(loc="upper right")
    axes[1].set_xlabel(f"frame ({cqt.FRAME_SAMPLES / cqt.SAMPLE_RATE * 1000:.1f} ms)")
    fig.tight_layout()
    _save(plt, fig, path, dpi=80)


def plot_reconstructions(inputs: np.ndarray, reconstructions: np.ndarray, transfers: np.ndarray, epoch: int,
                         path: Path) -> None:
    """Normalised log-magnitude frames [K, 410]: the inputs, their reconstruction and the synthesis from labels."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(inputs), 1, figsize=(9, 8), sharex=True)
    for k, ax in enumerate(axes):
        ax.plot(inputs[k], label="input", linewidth=1)
        ax.plot(reconstructions[k], label="reconstruction", linewidth=1)
        ax.plot(transfers[k], label="from labels", linewidth=1)
    axes[0].legend(loc="upper right")
    axes[0].set_title(f"epoch {epoch}: normalised log magnitudes")
    axes[-1].set_xlabel("CQT bin")
    fig.tight_layout()
    _save(plt, fig, path, dpi=70)


def plot_confusions(confusions: dict, path: Path, direction: str) -> None:
    """One panel per (instrument, label) head: its confusion matrix as rates per true class."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(confusions), figsize=(4 * len(confusions), 4), squeeze=False)
    for ax, ((instrument, label), matrix) in zip(axes[0], confusions.items()):
        rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
        ax.set_title(f"{instrument} {label}")
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
    fig.suptitle(f"{direction} confusion (rows: true class, last = silent)")
    fig.tight_layout()
    _save(plt, fig, path, dpi=70)


def plot_latents(signal_points: np.ndarray, symbol_points: np.ndarray, classes: np.ndarray, config, path: Path) -> None:
    """Both posteriors' means, projected to 2-d [N, 2] by the caller, coloured by the first instrument's labels."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(config["labels"]), figsize=(5 * len(config["labels"]), 4.5), squeeze=False)
    for ax, (h, label) in zip(axes[0], enumerate(config["labels"])):
        colour = classes[:, 0, h]
        for p, marker, name in ((signal_points, "o", "signal"), (symbol_points, "x", "symbol")):
            ax.scatter(p[:, 0], p[:, 1], c=colour, marker=marker, s=6, cmap="tab20", label=name)
        ax.set_title(f"latent means by {label} ({config['instruments'][0]})")
        ax.legend(loc="upper right")
    fig.tight_layout()
    _save(plt, fig, path, dpi=70)


def _save(plt, fig, path: Path, dpi: int) -> None:
    """Writes the figure as a PNG atomically (a reader never sees half a file) and closes it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    plt.close(fig)
