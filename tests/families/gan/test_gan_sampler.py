"""Tests of GANSampler: compiled once, seeded, every mode, and the numeric specials never drawn."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from gan_helpers import NUMERIC, tiny_gan
from zoo.encodings.numeric import NUM_RESERVED
from zoo.families.gan.gan_sampler import ARGMAX, BERNOULLI, CATEGORICAL, THRESHOLD, GANSampler


def test_sampler_is_compiled_once_seeded_and_keeps_specials_out():
    model = tiny_gan(NUMERIC)
    sampler = GANSampler(model, first_column=NUM_RESERVED)

    def draw(mode, seed=3, pieces=2, windows=3, temperature=1.0, threshold=0.5, step=1.0):
        return sampler.sample(tf.constant(pieces), tf.constant(windows), tf.constant(seed), tf.constant(temperature),
                              tf.constant(threshold), tf.constant(mode), tf.constant(step)).numpy()

    rows = draw(CATEGORICAL)
    assert rows.shape == (2, 30, 37) and (rows.sum(-1) == 1).all() and not rows[..., :NUM_RESERVED].any()
    np.testing.assert_array_equal(rows, draw(CATEGORICAL))
    assert not np.array_equal(rows, draw(CATEGORICAL, seed=4))
    assert not draw(ARGMAX, windows=1)[..., :NUM_RESERVED].any()
    notes = draw(BERNOULLI, temperature=0.5, step=0.3)
    assert set(np.unique(notes)) <= {0.0, 1.0}
    assert draw(THRESHOLD, threshold=0.999999).sum() == 0
    assert sampler.sample.experimental_get_tracing_count() == 1
