"""Shared helpers of the lead-sheet tests: tiny poex/simple models, random batches, folders of real lead sheets."""
from __future__ import annotations

import shutil
from pathlib import Path

import keras
import numpy as np

from helpers import SHARED_DATA, needs_shared
from zoo.core.registry import get_model_type

LEADSHEETS = SHARED_DATA / "leadsheets" / "combination"
TINY = {"layer_size": [8], "num_layers": [2]}


def tiny_model(name="poex", **config):
    """(model, config) of a tiny `name` model (8 units, 2 layers unless `config` says otherwise), seeded."""
    keras.utils.set_random_seed(0)
    config = {**TINY, **config}
    return get_model_type(name).build(config, None), config


def random_batch(model_type, config, batch=2, steps=48, seed=0):
    """(model inputs, targets [B, T], pieces) of random melodies over random chords."""
    rng = np.random.default_rng(seed)
    pitch = rng.integers(50, 80, (batch, steps))
    pitch[:, ::7] = -1
    pieces = [{"pitch": p, "onset": (rng.random(steps) < 0.4).astype(np.uint8), "root": rng.integers(0, 12, steps),
               "chord": rng.integers(0, 2, (steps, 12))} for p in pitch]
    inputs, target = model_type.input_encoding(config).batch(pieces, rng.integers(-12, 13, batch),
                                                             model_type.experts(config))
    return model_type.model_inputs(inputs, model_type.experts(config)), target, pieces


def leadsheet_folders(root: Path) -> Path:
    """Copies real lead sheets into root/a, root/b (training: blues, ii-V-I licks) and root/v (validation:
    a blues and a 3/4 transcription, which prepare skips); skips the test without ../shared."""
    blues, licks = needs_shared(LEADSHEETS / "blues"), LEADSHEETS / "rbmprovisor-ii-V-I"
    for folder, files in (("a", [blues / "C Major.ls", blues / "F Major.ls"]),
                          ("b", [licks / "0003.ls", licks / "0004.ls"]),
                          ("v", [blues / "G Major.ls", LEADSHEETS / "transcriptions" / "LittleDancerHarrell.ls"])):
        (root / folder).mkdir()
        for path in files:
            shutil.copy(path, root / folder / path.name)
    return root
