"""Callbacks of the shared training loop: atomic checkpoints, resume state, NaN guard, samples."""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import keras
import tensorflow as tf

from zoo.atomic import write_json
from zoo.core.checkpoints import read_model_metadata, save_model, save_weights
from zoo.core.optimizers import RelativeReduceLROnPlateau
from zoo.errors import RunError
from zoo.music.io import write_piece
from zoo.music.pianoroll import pianoroll_image


def _finite(logs, key="loss") -> bool:
    value = (logs or {}).get(key)
    return value is not None and math.isfinite(float(value))


class NaNGuard(keras.callbacks.Callback):
    """Stops training at the first non-finite batch loss and remembers where (`--check_nan`)."""

    def __init__(self):
        super().__init__()
        self.epoch = 0
        self.stopped_at: tuple[int, int] | None = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.stopped_at is None and not _finite(logs):
            self.stopped_at = (self.epoch + 1, batch + 1)
            self.model.stop_training = True


class StepLimit(keras.callbacks.Callback):
    """`--max_steps`: stops training once this many batches have been trained, counted across resumes."""

    resume_attributes = ("steps",)

    def __init__(self, max_steps: int, steps: int = 0):
        super().__init__()
        self.max_steps, self.steps = max_steps, steps

    @property
    def reached(self) -> bool:
        return self.steps >= self.max_steps

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.reached:
            self.model.stop_training = True


def early_stopping(patience: int | None, min_delta: float) -> keras.callbacks.EarlyStopping | None:
    """`--patience N --min_delta D` on the validation loss; None when N is unset or 0."""
    if not patience:
        return None
    return keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, min_delta=min_delta)


def lr_plateau(patience: int | None, factor: float) -> RelativeReduceLROnPlateau | None:
    """`--lr_plateau_patience N --lr_plateau_factor F` on the validation loss; None when N is unset."""
    if not patience:
        return None
    return RelativeReduceLROnPlateau(factor=factor, patience=patience)


# What a resumed run must get back of the stateful callbacks: their patience counters and best values.
# Keras's own callbacks reset these in on_train_begin; a callback of the zoo lists its own in
# `resume_attributes`.
_KERAS_RESUME_ATTRIBUTES = {
    keras.callbacks.ReduceLROnPlateau: ("wait", "best", "cooldown_counter"),
    keras.callbacks.EarlyStopping: ("wait", "best", "best_epoch"),
}


def resume_attributes(callback: keras.callbacks.Callback) -> tuple[str, ...]:
    """The attributes of `callback` that the resume backup keeps (none for a stateless callback)."""
    own = getattr(callback, "resume_attributes", None)
    if own is not None:
        return tuple(own)
    for kind, attributes in _KERAS_RESUME_ATTRIBUTES.items():
        if isinstance(callback, kind):
            return attributes
    return ()


class Checkpointer(keras.callbacks.Callback):
    """Every epoch: `last.keras`, `best.keras` when val_loss improves, and the resume backup.

    All files are written atomically, and nothing is written for an epoch whose loss is not
    finite, so the last good checkpoint survives a diverging run. The backup is
    `epoch-NNNN.weights.h5` (weights plus optimizer state) and then `state.json`
    ({"epoch", "best_val_loss", "weights", "callbacks", "committed_at"}), which names it: state.json is
    the commit point, so a kill between the two writes resumes from the previous, complete epoch.
    `best.keras` carries its own epoch and val_loss (`read_model_metadata`), so a kill after it is
    written and before state.json still resumes against the best score on disk (`resume_best_val_loss`).

    `stateful` are the callbacks whose counters survive a resume (see `resume_attributes`): this
    callback must come after them in the list, so it saves their state after their epoch-end update
    and restores `restored` (the backup's "callbacks") after their own on_train_begin reset.
    """

    def __init__(self, checkpoints: Path, backup: Path, best_val_loss: float = math.inf,
                 stateful: list[keras.callbacks.Callback] = (), restored: dict | None = None):
        super().__init__()
        self.checkpoints = Path(checkpoints)
        self.backup = Path(backup)
        self.best_val_loss = best_val_loss
        self.stateful = {f"{i}-{type(cb).__name__}": cb for i, cb in enumerate(stateful) if resume_attributes(cb)}
        self.restored = restored or {}

    def on_train_begin(self, logs=None):
        for key, callback in self.stateful.items():
            for attribute, value in self.restored.get(key, {}).items():
                setattr(callback, attribute, value)

    def callback_states(self) -> dict:
        return {key: {attribute: _plain(getattr(callback, attribute)) for attribute in resume_attributes(callback)}
                for key, callback in self.stateful.items()}

    def on_epoch_end(self, epoch, logs=None):
        if not _finite(logs):
            return
        save_model(self.model, self.checkpoints / "last.keras", {"epoch": epoch + 1})
        if _finite(logs, "val_loss") and logs["val_loss"] < self.best_val_loss:
            self.best_val_loss = float(logs["val_loss"])
            save_model(self.model, self.checkpoints / "best.keras",
                       {"epoch": epoch + 1, "val_loss": self.best_val_loss})
        weights = f"epoch-{epoch + 1:04d}.weights.h5"
        save_weights(self.model, self.backup / weights)
        write_json({"epoch": epoch + 1, "best_val_loss": self.best_val_loss, "weights": weights,
                    "callbacks": self.callback_states(), "committed_at": time.time()}, self.backup / "state.json")
        for old in self.backup.glob("epoch-*.weights.h5"):
            if old.name != weights:
                old.unlink()


def _plain(value):
    """A callback attribute as JSON: numpy and tensor scalars become Python numbers."""
    if hasattr(value, "numpy"):
        value = value.numpy()
    return value.item() if hasattr(value, "item") else value


def read_backup_state(backup: Path) -> dict | None:
    """The last committed resume state of `Checkpointer` with `weights` as a full path, or None."""
    state_path = Path(backup) / "state.json"
    if not state_path.is_file():
        return None
    try:
        state = json.loads(state_path.read_text())
        name = state["weights"]
        if not isinstance(name, str) or name in ("", ".", "..") or Path(name).name != name:
            raise ValueError(f"weights {name!r} is not a file name inside the backup folder")
        state["weights"] = Path(backup) / name
        state["epoch"] = int(state["epoch"])
        state["best_val_loss"] = float(state.get("best_val_loss", math.inf))
        # Older states have no commit time: the file's own time is when it was committed.
        state["committed_at"] = float(state.get("committed_at") or state_path.stat().st_mtime)
    except (ValueError, KeyError, TypeError) as error:  # written atomically, so only a foreign hand gets here
        raise RunError(f"{state_path} is corrupt ({error}); move the backup folder away to start over") from None
    return state if state["weights"].is_file() else None


def resume_best_val_loss(state: dict, checkpoints: Path) -> float:
    """The best val_loss a resumed run must beat: the backup's, or best.keras's own when lower.

    best.keras is written before state.json; a kill in between leaves a best.keras better than the
    backup knows, which a redone epoch must not overwrite with a worse model.
    """
    on_disk = read_model_metadata(Path(checkpoints) / "best.keras").get("val_loss")
    best = state["best_val_loss"]
    if isinstance(on_disk, (int, float)) and math.isfinite(on_disk):
        best = min(best, float(on_disk))
    return best


class SampleWriter(keras.callbacks.Callback):
    """Every `every` epochs: sample a piece, write MIDI/WAV/PNG to samples/ and log audio and image.

    `sample(model, seed) -> Score` draws one piece (the model type's `sample_scores`).
    """

    def __init__(self, sample, samples_dir: Path, log_dir: Path, every: int = 1, seed: int = 0,
                 sample_rate: int = 16000):
        super().__init__()
        self.sample = sample
        self.samples_dir = Path(samples_dir)
        self.every = every
        self.seed = seed
        self.sample_rate = sample_rate
        self.writer = tf.summary.create_file_writer(str(Path(log_dir) / "samples"))

    def on_epoch_end(self, epoch, logs=None):
        if self.every <= 0 or (epoch + 1) % self.every or not _finite(logs):
            return
        score = self.sample(self.model, self.seed + epoch)
        paths, audio = write_piece(score, self.samples_dir / f"epoch-{epoch + 1:04d}", sample_rate=self.sample_rate)
        with self.writer.as_default(step=epoch + 1):
            if audio.size:
                tf.summary.audio("sample", audio[None, :, None], self.sample_rate, max_outputs=1, encoding="wav")
            image = pianoroll_image(score)
            tf.summary.image("pianoroll", image[None, ..., :3], max_outputs=1)
        self.writer.flush()
        print(f"\nsample written to {paths['midi']}", file=sys.stderr)
