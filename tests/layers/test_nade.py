"""Nade: vectorised log-likelihood against a naive loop, normalisation, sampling, save/reload."""
from __future__ import annotations

import itertools

import keras
import numpy as np
import tensorflow as tf

from zoo.layers.nade import Nade


def _naive_log_prob(x, b_enc, b_dec, w_enc, w_dec):
    """specs/multinn.md §4.2, one dimension at a time, in float64 numpy."""
    sigmoid = lambda a: 1.0 / (1.0 + np.exp(-a))  # noqa: E731
    out = np.zeros(len(x))
    for n in range(len(x)):
        a = b_enc[n].astype(np.float64).copy()
        for i in range(x.shape[1]):
            p = sigmoid(b_dec[n, i] + sigmoid(a) @ w_dec[i])
            out[n] += np.log(p) if x[n, i] else np.log(1.0 - p)
            a += x[n, i] * w_enc[i]
    return out


def _random_inputs(rng, count, dims, hidden):
    x = (rng.random((count, dims)) < 0.4).astype("float32")
    return x, rng.normal(size=(count, hidden)).astype("float32"), rng.normal(size=(count, dims)).astype("float32")


def test_log_prob_matches_naive_loop():
    rng = np.random.default_rng(0)
    nade = Nade(12, 7, internal_bias=True)
    nade.build()
    nade.b_enc.assign(rng.normal(size=7).astype("float32"))
    x, b_enc, b_dec = _random_inputs(rng, 5, 12, 7)
    got = keras.ops.convert_to_numpy(nade.log_prob(x, b_enc, b_dec))
    want = _naive_log_prob(x, b_enc + nade.b_enc.numpy(), b_dec, nade.w_enc.numpy(), nade.w_dec.numpy())
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    probs = keras.ops.convert_to_numpy(nade.conditional_probs(x, b_enc, b_dec))
    assert probs.shape == (5, 12) and np.all((probs > 0) & (probs < 1))


def test_probabilities_sum_to_one():
    rng = np.random.default_rng(1)
    nade = Nade(8, 5)
    everything = np.array(list(itertools.product([0, 1], repeat=8)), dtype="float32")
    _, b_enc, b_dec = _random_inputs(rng, 1, 8, 5)
    log_p = nade.log_prob(everything, np.repeat(b_enc, 256, 0), np.repeat(b_dec, 256, 0))
    assert abs(float(np.exp(keras.ops.convert_to_numpy(log_p)).sum()) - 1.0) < 1e-4


def test_sample_frequencies_follow_the_model_and_compile_once():
    rng = np.random.default_rng(2)
    nade = Nade(3, 4)
    nade.build()  # variables exist before tracing, as in a built model
    _, b_enc, b_dec = _random_inputs(rng, 1, 3, 4)
    traces = []

    @tf.function(input_signature=[tf.TensorSpec([None, 4]), tf.TensorSpec([None, 3]), tf.TensorSpec([2], tf.int32)])
    def sample(b_enc, b_dec, seed):
        traces.append(1)
        return nade.sample(b_enc, b_dec, seed)

    count = 20000
    draws = sample(np.repeat(b_enc, count, 0), np.repeat(b_dec, count, 0), tf.constant([3, 4])).numpy()
    again = sample(np.repeat(b_enc, 10, 0), np.repeat(b_dec, 10, 0), tf.constant([5, 6]))
    assert len(traces) == 1 and again.shape == (10, 3)
    codes = draws @ np.array([4, 2, 1])
    empirical = np.bincount(codes.astype(int), minlength=8) / count
    everything = np.array(list(itertools.product([0, 1], repeat=3)), dtype="float32")
    exact = np.exp(nade.log_prob(everything, np.repeat(b_enc, 8, 0), np.repeat(b_dec, 8, 0)).numpy())
    np.testing.assert_allclose(empirical, exact, atol=0.015)
    # Temperature near 0 is (almost) greedy: the same draw for every seed.
    cold = [nade.sample(b_enc, b_dec, tf.constant([s, 0]), temperature=1e-4).numpy() for s in range(3)]
    assert all(np.array_equal(cold[0], c) for c in cold)


def test_save_and_reload_gives_the_same_outputs(tmp_path):
    from zoo.core.checkpoints import load_model, save_model

    x_in = keras.Input((6,))
    enc_in = keras.Input((4,))
    dec_in = keras.Input((6,))

    @keras.saving.register_keras_serializable(package="zoo_tests")
    class LogProb(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.nade = Nade(6, 4, internal_bias=True)

        def build(self, shapes):
            self.nade.build()

        def call(self, x, b_enc, b_dec):
            return self.nade.log_prob(x, b_enc, b_dec)

    model = keras.Model([x_in, enc_in, dec_in], LogProb()(x_in, enc_in, dec_in))
    rng = np.random.default_rng(3)
    x, b_enc, b_dec = _random_inputs(rng, 4, 6, 4)
    before = model.predict([x, b_enc, b_dec], verbose=0)
    save_model(model, tmp_path / "m.keras")
    after = load_model(tmp_path / "m.keras").predict([x, b_enc, b_dec], verbose=0)
    np.testing.assert_array_equal(before, after)
