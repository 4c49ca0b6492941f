"""Labels <-> the symbol VAE's vectors: the one-hot layout `mix` builds decodes back to the same labels."""
import numpy as np
import pytest

from zoo.errors import UsageError
from zoo.families.crossmodal.label_vectors import DEFAULT_LABEL, labels_from_logits, symbol_inputs
from zoo.families.crossmodal.notes_encoding import NotesEncoding

ENCODING = NotesEncoding(instruments=["Flute", "Violin"], log_mean=0.0, log_scale=1.0)


def config(**changes):
    return {"instruments": ["Flute", "Violin"], "labels": ["octave", "pitch", "dynamics"], "zero_extra_class": 1,
            "label_type": "categorical", **changes}


def test_labels_survive_the_symbol_vector_and_back():
    classes = np.array([[[4, 3, 2], [5, 0, 4]], [[6, 11, 0], [0, 0, 0]]])
    present = np.array([[True, True], [True, False]])
    y = symbol_inputs(classes, present, config(), ENCODING)
    assert y.shape == (2, 2 * (10 + 13 + 6)) and (y.sum(axis=1) == 6).all()  # one class per head, silent included
    labels = labels_from_logits(10 * y - 5, config())
    for h, label in enumerate(("octave", "pitch", "dynamics")):
        assert labels[label].tolist() == [[classes[0, 0, h], classes[0, 1, h]], [classes[1, 0, h], -1]]


def test_a_run_without_some_heads_gets_default_labels_and_no_silent_class_refuses_absence():
    flat = config(labels=["pitch"], zero_extra_class=0)
    y = symbol_inputs(np.array([[[4, 7, 2], [4, 1, 2]]]), np.ones((1, 2), bool), flat, ENCODING)
    labels = labels_from_logits(10 * y - 5, flat)
    assert labels["pitch"].tolist() == [[7, 1]] and (labels["octave"] == DEFAULT_LABEL["octave"]).all()
    with pytest.raises(UsageError, match="no silent class"):
        symbol_inputs(np.zeros((1, 2, 3), int), np.array([[True, False]]), flat, ENCODING)
