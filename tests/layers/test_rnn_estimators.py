"""RnnNade / RnnRbm: step API matches the sequence pass, masks, gradients, compiled sampling, save/reload."""
from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.layers.rnn_estimators import RnnNade, RnnRbm


def _frames(batch=2, steps=5, dims=6, seed=0):
    return (np.random.default_rng(seed).random((batch, steps, dims)) < 0.3).astype("float32")


def _shifted(x):
    return np.concatenate([np.zeros_like(x[:, :1]), x[:, :-1]], axis=1)


@pytest.mark.parametrize("rnn_type", ["lstm", "simple"])
def test_nade_step_api_matches_sequence_pass(rnn_type):
    layer = RnnNade(6, 4, rnn_units=(8, 5), rnn_type=rnn_type)
    x = _frames()
    nll = layer(_shifted(x), x).numpy()
    assert nll.shape == (2, 5) and np.all(nll > 0)
    b_enc_seq, b_dec_seq = layer.biases(_shifted(x))
    state = layer.initial_state(2)
    previous = np.zeros((2, 6), "float32")
    for t in range(5):
        b_enc, b_dec, state = layer.step(previous, state)
        np.testing.assert_allclose(b_enc.numpy(), b_enc_seq[:, t].numpy(), atol=1e-5)
        np.testing.assert_allclose(b_dec.numpy(), b_dec_seq[:, t].numpy(), atol=1e-5)
        previous = x[:, t]
    masked = layer(_shifted(x), x, mask=np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)).numpy()
    assert np.all(masked[0, 3:] == 0) and np.allclose(masked[1], nll[1], atol=1e-5)


def test_nade_extra_conditioning_input_and_gradients():
    layer = RnnNade(6, 4, rnn_units=(8,), input_dims=9, internal_bias=True)
    x = _frames()
    inputs = np.concatenate([_shifted(x), np.ones((2, 5, 3), "float32")], axis=-1)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(layer(inputs, x, training=True))
    grads = tape.gradient(loss, layer.trainable_variables)
    assert len(grads) == len(layer.trainable_variables) and all(g is not None for g in grads)


def test_rbm_cost_gives_the_rnn_a_gradient_and_exposes_biases():
    layer = RnnRbm(6, 4, rnn_units=(8,), gibbs_k=2, seed=1)
    x = _frames()
    with tf.GradientTape() as tape:
        cost = layer(_shifted(x), x, training=True)
        loss = tf.reduce_mean(cost)
    assert cost.shape == (2, 5)
    rnn_kernel = layer.rnns[0].cell.kernel
    grad = tape.gradient(loss, rnn_kernel)
    assert grad is not None and np.abs(grad.numpy()).sum() > 0
    bv, bh = layer.conditioned_offsets(_shifted(x))
    assert bv.shape == (2, 5, 6) and bh.shape == (2, 5, 4)
    assert layer.free_energy(_shifted(x), x).shape == (2, 5)


@pytest.mark.parametrize("cls", [RnnNade, RnnRbm])
def test_sample_sequence_compiles_once_and_keeps_the_primer_state(cls):
    layer = cls(6, 4, rnn_units=(8,))
    layer.build()
    traces = []

    @tf.function(input_signature=[tf.TensorSpec([None, None, 6]), tf.TensorSpec([], tf.int32),
                                  tf.TensorSpec([2], tf.int32), tf.TensorSpec([])])
    def sample(primer, num_steps, seed, temperature):
        traces.append(1)
        return layer.sample_sequence(primer, num_steps, seed, temperature)

    out = sample(_frames(3, 4), tf.constant(7), tf.constant([1, 2]), tf.constant(1.0))
    assert out.shape == (3, 7, 6) and set(np.unique(out.numpy())) <= {0.0, 1.0}
    again = sample(np.zeros((1, 0, 6), "float32"), tf.constant(3), tf.constant([1, 2]), tf.constant(1.0))
    assert again.shape == (1, 3, 6) and len(traces) == 1
    same = sample(_frames(3, 4), tf.constant(7), tf.constant([1, 2]), tf.constant(1.0))
    np.testing.assert_array_equal(out.numpy(), same.numpy())


@pytest.mark.parametrize("cls", [RnnNade, RnnRbm])
def test_save_and_reload_gives_the_same_outputs(tmp_path, cls):
    from zoo.core.checkpoints import load_model, save_model

    inputs, targets = keras.Input((None, 6)), keras.Input((None, 6))
    layer = cls(6, 4, rnn_units=(8,), name="estimator")
    model = keras.Model([inputs, targets], layer(inputs, targets))
    x = _frames()
    if cls is RnnNade:
        before = model.predict([_shifted(x), x], verbose=0)
    else:  # the CD cost is stochastic: compare the deterministic free energy
        before = layer.free_energy(_shifted(x), x).numpy()
    save_model(model, tmp_path / "est.keras")
    reloaded = load_model(tmp_path / "est.keras")
    if cls is RnnNade:
        after = reloaded.predict([_shifted(x), x], verbose=0)
    else:
        after = reloaded.get_layer("estimator").free_energy(_shifted(x), x).numpy()
    np.testing.assert_allclose(before, after, rtol=1e-6, atol=1e-6)
