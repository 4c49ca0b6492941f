"""A Keras 3 model zoo for symbolic music. Importing `zoo` is light: it loads nothing heavy until asked."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from zoo.engine.generate import LoadedModel


def from_preset(name: str, weights_root: str | Path = "weights", checkpoint: str = "best") -> LoadedModel:
    """Loads preset (or any run) `name` from `weights_root/name/`: `.model`, `.encoding`, `.model_type`, `.config`,
    `.info` (its preset.json, None for an ordinary run), `.sample(num, seed, length)` -> scores and
    `.generate(output_dir, **flags)` -> files as generate.py writes them (for a preset under outputs/NAME/).

        import zoo
        bach = zoo.from_preset("bach-lstm")
        scores = bach.sample(num=2, seed=0)

    Imports TensorFlow and Keras on the first call.
    """
    from zoo.engine.generate import from_preset as load

    return load(name, weights_root, checkpoint)
