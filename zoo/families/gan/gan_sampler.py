"""Sampling a trained `GAN`: `GANSampler`, its compiled sampling function, and `sampler_of`, one per model.

The sampler chains generated samples into pieces (independent or walking latents) and turns the
generator's probabilities into notes or tokens with one of four modes (THRESHOLD, BERNOULLI,
CATEGORICAL, ARGMAX); it is traced once and also serves as the SavedModel's `generate` endpoint.
"""
from __future__ import annotations

import tensorflow as tf

from zoo.core.model_cache import per_model
from zoo.encodings.base import Encoding
from zoo.encodings.numeric import NUM_RESERVED
from zoo.families.gan.gan_model import GAN

# Sampling modes of `GANSampler.sample`.
THRESHOLD, BERNOULLI, CATEGORICAL, ARGMAX = 0, 1, 2, 3


class GANSampler(tf.Module):
    """The compiled sampling function of a trained generator (traced once per sampler).

    `sample(num_pieces, windows, seed, temperature, threshold, mode, latent_step)` -> float32
    [num_pieces, windows·T, P] of 0/1: each piece is `windows` generated samples in time order.
    Latents follow z_k = sqrt(1 - a²)·z_{k-1} + a·ε_k with a = `latent_step` (1: independent
    windows, as the seed; smaller: neighbouring windows from nearby latents). Modes: THRESHOLD
    (p > threshold), BERNOULLI (p with temperature on its logit), CATEGORICAL (one column per
    row, drawn ∝ p^(1/temperature), the seed's token sampling), ARGMAX (the likeliest column).
    Columns below `first_column` (the numeric encoding's PAD, EOS, UNK) are never drawn in the
    row modes.
    """

    def __init__(self, model: GAN, first_column: int = 0):
        super().__init__(name="gan_sampler")
        self.model = model  # tracked, so its variables export with the endpoint
        self.first_column = first_column
        self.sample = tf.function(self._sample, input_signature=[
            tf.TensorSpec([], tf.int32, name="num_pieces"), tf.TensorSpec([], tf.int32, name="windows"),
            tf.TensorSpec([], tf.int32, name="seed"), tf.TensorSpec([], tf.float32, name="temperature"),
            tf.TensorSpec([], tf.float32, name="threshold"), tf.TensorSpec([], tf.int32, name="mode"),
            tf.TensorSpec([], tf.float32, name="latent_step")])

    def _sample(self, num_pieces, windows, seed, temperature, threshold, mode, latent_step):
        latent = self.model.latent_dims
        steps, width = self.model.sample_shape
        noise = tf.random.stateless_normal(tf.stack([windows, num_pieces, latent]), seed=tf.stack([seed, 0]))
        keep = tf.sqrt(tf.maximum(1.0 - tf.square(latent_step), 0.0))
        z = tf.scan(lambda previous, k_eps: tf.where(k_eps[0] == 0, k_eps[1], keep * previous + latent_step * k_eps[1]),
                    (tf.range(windows), noise), initializer=tf.zeros_like(noise[0]))  # [windows, pieces, latent]
        z = tf.reshape(tf.transpose(z, [1, 0, 2]), [-1, latent])
        probs = tf.cast(self.model(z, training=False), tf.float32)[..., 0]
        probs = tf.reshape(tf.clip_by_value(probs, 1e-6, 1.0 - 1e-6), [num_pieces, windows * steps, width])
        temperature = tf.maximum(temperature, 1e-3)
        logits = (tf.math.log(probs) - tf.math.log1p(-probs)) / temperature
        uniform = tf.random.stateless_uniform(tf.shape(probs), seed=tf.stack([seed, 1]))
        bernoulli = tf.cast(uniform < tf.sigmoid(logits), tf.float32)
        thresholded = tf.cast(probs > threshold, tf.float32)
        allowed = tf.range(width) >= self.first_column
        row_logits = tf.where(allowed, tf.math.log(probs) / temperature, -1e9)
        flat = tf.reshape(row_logits, [-1, width])
        drawn = tf.random.stateless_categorical(flat, 1, seed=tf.stack([seed, 2]))[:, 0]
        best = tf.argmax(flat, axis=-1)
        picked = tf.where(mode == CATEGORICAL, drawn, best)
        one_hot = tf.reshape(tf.one_hot(picked, width), tf.shape(probs))
        return tf.switch_case(mode, [lambda: thresholded, lambda: bernoulli, lambda: one_hot, lambda: one_hot])


def sampler_of(model: GAN, encoding: Encoding) -> GANSampler:
    """The model's sampler, created (and traced) once per model."""
    return per_model(model, "sampler", lambda: GANSampler(model, NUM_RESERVED if encoding.name == "numeric" else 0))
