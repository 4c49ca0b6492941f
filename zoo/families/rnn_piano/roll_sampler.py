"""Generating piano-rolls with a trained rnn_nade / rnn_rbm: the compiled sampling loop, traced once per model."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from zoo.core.model_cache import per_model
from zoo.families.rnn_piano.piano_roll_estimator_model import PianoRollEstimatorModel
from zoo.families.rnn_piano.polyphonic import NUM_KEYS


def compiled_sampler(model: PianoRollEstimatorModel):
    """The model's generation loop, traced once: (primer [B, P, 88], steps, seed [2], temperature) -> [B, steps, 88]."""
    estimator = model.estimator

    def build():
        @tf.function(input_signature=[tf.TensorSpec([None, None, NUM_KEYS], tf.float32, name="primer"),
                                      tf.TensorSpec([], tf.int32, name="num_steps"),
                                      tf.TensorSpec([2], tf.int32, name="seed"),
                                      tf.TensorSpec([], tf.float32, name="temperature")])
        def sampler(primer, num_steps, seed, temperature):
            return estimator.sample_sequence(primer, num_steps, seed, temperature)

        return sampler

    return per_model(model, "sampler", build)


def sample_rolls(model, primer: np.ndarray, length: int, seed: int, temperature: float = 1.0) -> np.ndarray:
    """Sampled rolls [B, length, 88] (uint8) after `primer` [B, P, 88]."""
    out = compiled_sampler(model)(tf.constant(primer, tf.float32), tf.constant(length, tf.int32),
                                  tf.constant([seed, 0], tf.int32), tf.constant(temperature, tf.float32))
    return out.numpy().astype(np.uint8)
