"""Note labels <-> the symbol VAE's vectors: one-hot inputs from labels, labels from decoded logits.

A run's symbol vector concatenates, for each of its `--instruments`, one head per `--labels` entry
(plus the silent class with `--zero_extra_class 1`), as `mixtures.mix` builds them for training.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from zoo.errors import UsageError
from zoo.families.crossmodal.mixtures import mix, mixing_arguments
from zoo.families.crossmodal.note_labels import LABEL_SIZES, LABELS
from zoo.music import cqt

if TYPE_CHECKING:
    from zoo.families.crossmodal.notes_encoding import NotesEncoding

DEFAULT_LABEL = {"octave": 4, "pitch": 3, "dynamics": 2}  # C4 mf where a run has no head for a label


def labels_from_logits(logits: np.ndarray, config: dict[str, Any]) -> dict[str, np.ndarray]:
    """Symbol decoder logits [T, S] -> per-frame labels {"octave", "pitch", "dynamics"} int [T, instruments].

    The silent class (or, without one, binary units all below 0.5) gives -1.
    """
    extra = bool(config["zero_extra_class"])
    frames, count = len(logits), len(config["instruments"])
    out = {label: np.full((frames, count), DEFAULT_LABEL[label], np.int64) for label in LABELS}
    silent = np.zeros((frames, count), bool)
    start = 0
    for i in range(count):
        for label in config["labels"]:
            size = LABEL_SIZES[label] + extra
            part = logits[:, start:start + size]
            classes = part.argmax(axis=1)
            if extra:
                silent[:, i] |= classes == size - 1
            elif config["label_type"] == "binary":
                silent[:, i] |= part.max(axis=1) < 0
            out[label][:, i] = np.minimum(classes, LABEL_SIZES[label] - 1)
            start += size
    for label in LABELS:
        out[label][silent] = -1
    return out


def symbol_inputs(classes: np.ndarray, present: np.ndarray, config: dict[str, Any], encoding: NotesEncoding):
    """Labels (octave, pitch, dynamics) int [T, instruments, 3] and presence [T, instruments] -> y [T, S]."""
    frames, count = present.shape
    if not config["zero_extra_class"] and config["label_type"] == "categorical" and not present.all():
        raise UsageError("this run has no silent class (--zero_extra_class 0): every instrument must play in every frame")
    _, y, _ = mix(np.zeros((frames, count, cqt.NUM_BINS), np.float32), classes.astype(np.int32),
                  present.astype(np.float32), **mixing_arguments(config, encoding))
    return y.numpy()
