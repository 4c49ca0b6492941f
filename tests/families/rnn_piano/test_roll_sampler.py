"""Tests of the rnn_piano sampler: one compiled loop per model, seeded, whatever the primer and length."""
from __future__ import annotations

import keras
import numpy as np

from zoo.core.registry import get_model_type
from zoo.families.rnn_piano.roll_sampler import compiled_sampler, sample_rolls


def test_sampler_is_traced_once_and_seeded():
    keras.utils.set_random_seed(0)
    config = {"num_hidden": 8, "rnn_units": [10], "dropout": 0.0, "internal_bias": False, "rnn_type": "lstm"}
    model = get_model_type("rnn_nade").build(config, None)
    first = sample_rolls(model, np.zeros((2, 0, 88), np.float32), 6, seed=3)
    primer = (np.random.default_rng(0).random((1, 4, 88)) < 0.1).astype(np.float32)
    assert sample_rolls(model, primer, 3, seed=1).shape == (1, 3, 88)
    assert first.shape == (2, 6, 88) and first.dtype == np.uint8 and set(np.unique(first)) <= {0, 1}
    np.testing.assert_array_equal(first, sample_rolls(model, np.zeros((2, 0, 88), np.float32), 6, seed=3))
    assert compiled_sampler(model) is compiled_sampler(model)
    assert compiled_sampler(model).experimental_get_tracing_count() == 1
