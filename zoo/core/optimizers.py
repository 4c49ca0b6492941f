"""The optimizer factory (every family builds its optimizers from -o and --learning_rate here) and the learning-rate
schedule on a validation plateau (`--lr_plateau_patience`, and MusicVAE's own `--lr_scheduler_*`)."""
from __future__ import annotations

import inspect
import math
import sys

import keras

from zoo.errors import UsageError


def optimizer_class(name: str) -> type[keras.optimizers.Optimizer]:
    """The class of Keras's optimizer `name` (case-insensitive); UsageError if there is none."""
    try:
        # Keras resolves names to instances only; naming this one keeps Keras's automatic names of the real ones.
        return type(keras.optimizers.get({"class_name": name, "config": {"name": "probe"}}))
    except (ValueError, TypeError):
        raise UsageError(f"unknown optimizer '{name}' (try adam, adamw, rmsprop, sgd, nadam, adagrad)") from None


def takes_epsilon(name: str) -> bool:
    """Whether optimizer `name` has an epsilon (adam, rmsprop, ... do; sgd does not)."""
    return "epsilon" in inspect.signature(optimizer_class(name)).parameters


def make_optimizer(name: str, learning_rate: float | None = None, *, epsilon: float | None = None,
                   global_clipnorm: float | None = None) -> keras.optimizers.Optimizer:
    """Optimizer `name` with the settings given; None keeps the optimizer's default, a clip norm of 0 clips nothing.

    An unknown name, or an `epsilon` for an optimizer that has none, is a UsageError.
    """
    if epsilon is not None and not takes_epsilon(name):
        raise UsageError(f"optimizer '{name}' has no epsilon")
    settings = {"learning_rate": learning_rate, "epsilon": epsilon, "global_clipnorm": global_clipnorm or None}
    return optimizer_class(name)(**{key: value for key, value in settings.items() if value is not None})


class RelativeReduceLROnPlateau(keras.callbacks.Callback):
    """PyTorch's ReduceLROnPlateau(mode='min', threshold=1e-4 relative, cooldown 0, min_lr 0) on val_loss.

    An evaluation improves when val_loss < best * (1 - threshold); after more than `patience`
    evaluations without improvement the learning rate is multiplied by `factor`.
    Keras's own callback uses an absolute min_delta, hence this one.
    """

    resume_attributes = ("best", "bad_epochs")  # kept in the resume backup (zoo.engine.callbacks.Checkpointer)

    def __init__(self, factor: float, patience: int, threshold: float = 1e-4, monitor: str = "val_loss"):
        super().__init__()
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.monitor = monitor
        self.best = math.inf
        self.bad_epochs = 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        current = logs.get(self.monitor)
        if current is not None and math.isfinite(current):
            if current < self.best * (1 - self.threshold):
                self.best, self.bad_epochs = current, 0
            else:
                self.bad_epochs += 1
            if self.bad_epochs > self.patience:
                for optimizer in self._optimizers():
                    optimizer.learning_rate.assign(float(optimizer.learning_rate.numpy()) * self.factor)
                self.bad_epochs = 0
                print(f"\nepoch {epoch + 1}: {self.monitor} has not improved; learning rate x {self.factor:g} -> "
                      f"{float(self.model.optimizer.learning_rate.numpy()):.3g}", file=sys.stderr)
        logs["learning_rate"] = float(self.model.optimizer.learning_rate.numpy())

    def _optimizers(self) -> list[keras.optimizers.Optimizer]:
        """The model's optimizer and any other it keeps (a GAN's discriminator's): all slow down together, so a
        plateau does not tip the balance between the networks."""
        others = [value for value in vars(self.model).values()
                  if isinstance(value, keras.optimizers.Optimizer) and value is not self.model.optimizer]
        return [self.model.optimizer, *others]
