"""Tests of PianoRollEstimatorModel: a saved rnn_nade / rnn_rbm model reloads to the same outputs."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from zoo.core.checkpoints import load_model, save_model
from zoo.core.registry import get_model_type


@pytest.mark.parametrize("model_type", ["rnn_nade", "rnn_rbm"])
def test_checkpoint_reload_gives_the_same_outputs(tmp_path, model_type):
    config = {"num_hidden": 8, "rnn_units": [10, 6], "dropout": 0.1, "internal_bias": True, "rnn_type": "lstm",
              "gibbs_k": 2, "sample_k": 2, "seed": 0}
    keras.utils.set_random_seed(0)
    model = get_model_type(model_type).build(config, None)
    rolls = (np.random.default_rng(0).random((2, 7, 88)) < 0.05).astype("float32")
    save_model(model, tmp_path / "m.keras")
    reloaded = load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(model(rolls).numpy(), reloaded(rolls).numpy(), rtol=1e-6, atol=1e-6)
