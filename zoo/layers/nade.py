"""NADE: the neural autoregressive distribution estimator over binary vectors (specs/multinn.md §4.2, §9).

p(x) = prod_i Bernoulli(x_i; sigmoid(b_dec_i + w_dec_i . sigmoid(b_enc + sum_{j<i} x_j w_enc_j))), with the
biases given per example (the RNN sets them at every time step). The log-likelihood is computed in one
vectorised pass (an exclusive cumulative sum over the D dimensions, no Python loop); sampling is
ancestral, one dimension after the other, in a graph loop.

The log-likelihood uses the exact logit form (-softplus), not MultINN's log(1e-6 + p): the evaluation
reports exact NLLs, and the 2^D probabilities of a small NADE sum to 1 (tested).

Randomness: every sampler takes `seed`, either a `keras.random.SeedGenerator` (a fresh draw per call) or a
stateless int32 seed tensor of shape [2]; inside loops, per-iteration seeds are folded in from the loop
index (`uniform_at`), so the loops compile once and are reproducible.
"""
from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops


def seed_tensor(seed) -> tf.Tensor:
    """An int32 [2] stateless seed: drawn from a SeedGenerator (advancing it), or `seed` itself as a tensor."""
    if isinstance(seed, keras.random.SeedGenerator):
        return ops.cast(keras.random.randint((2,), 0, 2**30, seed=seed), "int32")
    if isinstance(seed, int):
        return tf.constant([seed, 0], tf.int32)
    return tf.cast(seed, tf.int32)


def uniform_at(shape, seed: tf.Tensor, index) -> tf.Tensor:
    """Stateless U[0, 1) of `shape` for loop iteration `index` (a different stream per index)."""
    return tf.random.stateless_uniform(shape, seed=fold_seed(seed, index))


def fold_seed(seed: tf.Tensor, index) -> tf.Tensor:
    """A new stateless seed [2] from `seed` and an integer `index` (independent streams per index)."""
    return tf.random.experimental.stateless_fold_in(seed, tf.cast(index, tf.int32))


@keras.saving.register_keras_serializable(package="zoo")
class Nade(keras.layers.Layer):
    """A NADE with externally given biases.

    Args:
        num_visible (int): D, the number of binary units.
        num_hidden (int): H, the hidden size.
        internal_bias (bool, False): also learn static `b_enc` [H] and `b_dec` [D], added to the given biases.

    Weights: `w_enc` [D, H] and `w_dec` [D, H], truncated normal with std 1/sqrt(D) (as MultINN).
    """

    def __init__(self, num_visible: int, num_hidden: int, internal_bias: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.num_visible, self.num_hidden, self.internal_bias = int(num_visible), int(num_hidden), bool(internal_bias)

    def build(self, input_shape=None):
        init = keras.initializers.TruncatedNormal(stddev=1.0 / self.num_visible ** 0.5)
        shape = (self.num_visible, self.num_hidden)
        self.w_enc = self.add_weight(name="w_enc", shape=shape, initializer=init)
        self.w_dec = self.add_weight(name="w_dec", shape=shape, initializer=init)
        if self.internal_bias:
            self.b_enc = self.add_weight(name="b_enc", shape=(self.num_hidden,), initializer="zeros")
            self.b_dec = self.add_weight(name="b_dec", shape=(self.num_visible,), initializer="zeros")
        self.built = True

    def _biases(self, b_enc, b_dec):
        if not self.built:
            self.build()
        if self.internal_bias:
            return b_enc + self.b_enc, b_dec + self.b_dec
        return b_enc, b_dec

    def logits(self, x, b_enc, b_dec):
        """Logits of p(x_i = 1 | x_<i) for every i: x [N, D], b_enc [N, H], b_dec [N, D] -> [N, D].

        Memory N*D*H floats (the exclusive cumulative sum); callers chunk N when that is too large.
        """
        b_enc, b_dec = self._biases(b_enc, b_dec)
        x = ops.cast(x, self.compute_dtype)
        contributions = x[:, :, None] * self.w_enc[None]                        # [N, D, H]
        # Exclusive cumsum: dimension i sees x_<i only (shift by one, then cumulative sum).
        shifted = ops.pad(contributions[:, :-1], [[0, 0], [1, 0], [0, 0]])
        pre_hidden = b_enc[:, None, :] + ops.cumsum(shifted, axis=1)           # [N, D, H]
        return b_dec + ops.sum(ops.sigmoid(pre_hidden) * self.w_dec[None], axis=-1)

    def log_prob(self, x, b_enc, b_dec):
        """Exact log p(x) [N] (nats) of x [N, D] given b_enc [N, H], b_dec [N, D]."""
        logits = self.logits(x, b_enc, b_dec)
        x = ops.cast(x, logits.dtype)
        # log sigmoid(l) = -softplus(-l); log(1 - sigmoid(l)) = -softplus(l).
        return -ops.sum(x * ops.softplus(-logits) + (1.0 - x) * ops.softplus(logits), axis=-1)

    def conditional_probs(self, x, b_enc, b_dec):
        """p(x_i = 1 | x_<i) [N, D] under teacher forcing."""
        return ops.sigmoid(self.logits(x, b_enc, b_dec))

    def sample(self, b_enc, b_dec, seed, temperature: float = 1.0):
        """Ancestral samples [N, D] (float 0/1), logits divided by `temperature`, one dimension per loop step."""
        b_enc, b_dec = self._biases(b_enc, b_dec)
        seed = seed_tensor(seed)
        count, dims = ops.shape(b_dec)[0], self.num_visible
        noise = uniform_at((count, dims), seed, 0)
        dim_ids = ops.arange(dims)

        def body(i, carry):
            pre_hidden, x = carry
            w_dec_i = ops.take(self.w_dec, i, axis=0)                            # [H]
            logit = ops.take(b_dec, i, axis=1) + ops.sum(ops.sigmoid(pre_hidden) * w_dec_i, axis=-1)
            bit = ops.cast(ops.take(noise, i, axis=1) < ops.sigmoid(logit / temperature), x.dtype)   # [N]
            x = x + bit[:, None] * ops.cast(ops.equal(dim_ids, i), x.dtype)[None]
            pre_hidden = pre_hidden + bit[:, None] * ops.take(self.w_enc, i, axis=0)[None]
            return pre_hidden, x

        x0 = ops.zeros((count, dims), dtype=b_dec.dtype)
        _, x = ops.fori_loop(0, dims, body, (b_enc, x0))
        return x

    def get_config(self):
        return {**super().get_config(), "num_visible": self.num_visible, "num_hidden": self.num_hidden,
                "internal_bias": self.internal_bias}
