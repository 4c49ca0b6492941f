"""The cross-modal training callbacks: `EpochSaver` (`--save_epochs`) and `ReconstructionPlotter` (`--plot_epochs`)."""
from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from zoo.core.checkpoints import save_model
from zoo.families.crossmodal.mixtures import evaluation_mixtures
from zoo.families.crossmodal.plots import plot_reconstructions


class EpochSaver(keras.callbacks.Callback):
    """`--save_epochs N`: keeps `checkpoints/epoch-NNNN.keras` every N epochs (written atomically)."""

    def __init__(self, folder: Path, every: int):
        super().__init__()
        self.folder, self.every = Path(folder), every

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            save_model(self.model, self.folder / f"epoch-{epoch + 1:04d}.keras")


class ReconstructionPlotter(keras.callbacks.Callback):
    """`--plot_epochs N`: every N epochs, four validation frames beside their reconstruction and their
    symbol -> signal transfer, as samples/reconstruction-epoch-NNNN.png."""

    def __init__(self, folder: Path, every: int, valid_pieces: list, config: dict, encoding):
        super().__init__()
        self.folder, self.every, self.examples = Path(folder), every, None
        self.valid_pieces, self.config, self.encoding = valid_pieces, config, encoding

    def on_train_begin(self, logs=None):
        if self.valid_pieces:
            x, y, _, _ = evaluation_mixtures(self.valid_pieces, self.config, self.encoding)
            picks = np.linspace(0, len(x) - 1, 4).astype(int)
            self.examples = (x[picks], y[picks])

    def on_epoch_end(self, epoch, logs=None):
        if self.examples is None or (epoch + 1) % self.every:
            return
        outputs = self.model({"signal": self.examples[0], "symbol": self.examples[1]}, training=False)
        plot_reconstructions(self.examples[0], keras.ops.convert_to_numpy(outputs["signal_mean"]),
                             keras.ops.convert_to_numpy(outputs["synthesis_mean"]), epoch + 1,
                             self.folder / f"reconstruction-epoch-{epoch + 1:04d}.png")
