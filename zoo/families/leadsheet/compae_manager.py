"""lstmprovisor's queue managers (specs/lstmprovisor.md §4.3) as one Keras layer.

A manager turns the summed encoder activations A [B, T, W] into strengths s [B, T] and feature
vectors v [B, T, F], the features the decoder reads (`queue_transform(s, v)`) and its extra loss Q:

    std            W = 1 + F   s = sigmoid(a0), last step 1   v = sigmoid(a[1:])        Q = sum lossfun(s)
    var            W = 1 + 2F  s as std    v = mu + sd N(0, 1)  (mu = a[1:1+F], sd = |a[1+F:]| + eps)
                                                                Q = sum lossfun(s) + vls KL
    sample_var     W = 1 + 2F  s = 1[sigmoid(a0) > U(0, 1)], last step 1; v as var
                               Q = sls sum P(s = 1) (the expected sparsity: differentiable) + vls KL,
                               the strengths learn through the REINFORCE surrogate of the model
    queueless_std  W = F       s = 1 every `period` steps (only the last step without a period); v = sigmoid(a); Q = 0
    queueless_var  W = 2F      s as queueless_std; v as var; Q = vls KL over the push steps
    nearness_std   W = 1 + F   as std; Q = sls sum f(s) + 10 sls sum_{i > j} s_i s_j 0.97^(i - j - 1)

lossfun(x) = sls log(1 + 99x) / log(100). Pre-noise N(0, pre_noise) is added to the activations
before the nonlinearities (all channels for the queueless managers, else every channel but the
strength: the original added noise of the full shape to that slice, a shape mismatch); post-noise
to the vectors. Sampling and noise are active in training and in generation (the original's produce
path samples too); pass a stateless `seed` [2] for reproducible draws, else the layer's SeedGenerator draws.
"""
from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from zoo.families.leadsheet import compae_queue as q
from zoo.families.leadsheet.leadsheet_flags import MANAGERS, QUEUELESS, VARIATIONAL


def activation_width(kind: str, feature_size: int) -> int:
    """Width of the encoder output the manager reads."""
    strength = 0 if kind in QUEUELESS else 1
    return strength + (2 if kind in VARIATIONAL else 1) * feature_size


@keras.saving.register_keras_serializable(package="zoo")
class QueueManager(keras.layers.Layer):
    """activations [B, T, activation_width] -> dict of strengths, vectors, features, losses (see the module docstring).

    Args:
        kind: one of MANAGERS.
        feature_size: F.
        period: the queueless managers' push period in steps (None: only the last step pushes).
        sparsity_scale, variational_scale: sls and vls.
        pre_noise, post_noise: std of the Gaussian noise (0: none).
        seed: seed of the layer's SeedGenerator.
    """

    def __init__(self, kind: str, feature_size: int, period: int | None = None, sparsity_scale: float = 1.0,
                 variational_scale: float = 1.0, pre_noise: float = 0.0, post_noise: float = 0.0,
                 seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if kind not in MANAGERS:
            raise ValueError(f"unknown queue manager '{kind}' (known: {', '.join(MANAGERS)})")
        self.kind, self.feature_size, self.period = kind, feature_size, period
        self.sparsity_scale, self.variational_scale = sparsity_scale, variational_scale
        self.pre_noise, self.post_noise, self.seed = pre_noise, post_noise, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    @property
    def activation_width(self) -> int:
        return activation_width(self.kind, self.feature_size)

    def _normal(self, shape, seed, salt: int):
        if seed is None:
            return keras.random.normal(shape, seed=self.seed_generator)
        return tf.random.stateless_normal(shape, tf.random.experimental.stateless_fold_in(seed, salt))

    def _uniform(self, shape, seed, salt: int):
        if seed is None:
            return keras.random.uniform(shape, seed=self.seed_generator)
        return tf.random.stateless_uniform(shape, tf.random.experimental.stateless_fold_in(seed, salt))

    def call(self, activations, seed=None):
        a = ops.cast(activations, "float32")
        batch, steps = ops.shape(a)[0], ops.shape(a)[1]
        zero = ops.zeros((), "float32")
        queueless = self.kind in QUEUELESS
        if self.pre_noise:
            if queueless:
                a = a + self.pre_noise * self._normal(ops.shape(a), seed, 1)
            else:  # the strength channel stays clean: noise shaped like the slice it is added to
                rest = a[..., 1:]
                a = ops.concatenate([a[..., :1], rest + self.pre_noise * self._normal(ops.shape(rest), seed, 1)], -1)
        values = a if queueless else a[..., 1:]
        sparsity, variational = zero, zero
        if queueless:
            strengths = q.fixed_strengths(batch, steps, self.period)
            probs = strengths
        else:
            probs = q.force_last(ops.sigmoid(a[..., 0]))
            if self.kind == "sample_var":
                strengths = ops.cast(probs > self._uniform(ops.shape(probs), seed, 2), "float32")
                sparsity = q.expected_sparsity_cost(probs, self.sparsity_scale)
            elif self.kind == "nearness_std":
                strengths = probs
                sparsity = q.nearness_cost(strengths, self.sparsity_scale)
            else:
                strengths = probs
                sparsity = q.sparsity_cost(strengths, self.sparsity_scale)
        if self.kind in VARIATIONAL:
            mean = values[..., :self.feature_size]
            std = ops.abs(values[..., self.feature_size:]) + q.EPSILON
            vectors = mean + std * self._normal(ops.shape(mean), seed, 3)
            mask = strengths if self.kind == "queueless_var" else None
            variational = q.kl_cost(mean, std, mask, self.variational_scale)
        else:
            vectors = ops.sigmoid(values)
        if self.post_noise:
            vectors = vectors + self.post_noise * self._normal(ops.shape(vectors), seed, 4)
        return {"strengths": strengths, "strength_probs": probs, "vectors": vectors,
                "features": q.queue_transform(strengths, vectors), "sparsity_loss": sparsity,
                "variational_loss": variational, "queue_loss": sparsity + variational}

    def get_config(self):
        return {**super().get_config(), "kind": self.kind, "feature_size": self.feature_size, "period": self.period,
                "sparsity_scale": self.sparsity_scale, "variational_scale": self.variational_scale,
                "pre_noise": self.pre_noise, "post_noise": self.post_noise, "seed": self.seed}
