"""Rbm: free energy by hand, Gibbs chains, CD-k gradients, AIS against exact enumeration, save/reload."""
from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.layers.rbm import Rbm


def _rbm(dims: int, hidden: int, seed: int, scale: float = 1.0) -> Rbm:
    rng = np.random.default_rng(seed)
    rbm = Rbm(dims, hidden)
    rbm.build()
    rbm.kernel.assign((scale * rng.normal(size=(dims, hidden))).astype("float32"))
    rbm.visible_bias.assign(rng.normal(size=dims).astype("float32"))
    rbm.hidden_bias.assign(rng.normal(size=hidden).astype("float32"))
    return rbm


def _exact_log_z(rbm: Rbm, bv_offset: np.ndarray, bh_offset: np.ndarray) -> np.ndarray:
    everything = np.array(list(itertools.product([0, 1], repeat=rbm.num_visible)), dtype="float64")
    w = rbm.kernel.numpy().astype("float64")
    out = []
    for bv_o, bh_o in zip(bv_offset, bh_offset):
        bv, bh = rbm.visible_bias.numpy() + bv_o, rbm.hidden_bias.numpy() + bh_o
        minus_f = everything @ bv + np.logaddexp(0, everything @ w + bh).sum(1)
        out.append(np.logaddexp.reduce(minus_f))
    return np.array(out)


def test_free_energy_by_hand():
    rbm = _rbm(3, 2, 0)
    v = np.array([[1, 0, 1]], dtype="float32")
    w, bv, bh = rbm.kernel.numpy(), rbm.visible_bias.numpy(), rbm.hidden_bias.numpy()
    by_hand = -(bv[0] + bv[2]) - sum(np.log1p(np.exp(w[0, j] + w[2, j] + bh[j])) for j in range(2))
    assert abs(float(rbm.free_energy(v)[0]) - by_hand) < 1e-5
    offset_v, offset_h = np.ones((1, 3), "float32"), np.full((1, 2), -0.5, "float32")
    by_hand = -(bv[0] + bv[2] + 2) - sum(np.log1p(np.exp(w[0, j] + w[2, j] + bh[j] - 0.5)) for j in range(2))
    assert abs(float(rbm.free_energy(v, offset_v, offset_h)[0]) - by_hand) < 1e-5


def test_gibbs_chain_reaches_the_model_distribution():
    rbm = _rbm(3, 2, 1)
    everything = np.array(list(itertools.product([0, 1], repeat=3)), dtype="float32")
    exact = np.exp(-rbm.free_energy(everything).numpy() - _exact_log_z(rbm, np.zeros((1, 3)), np.zeros((1, 2)))[0])
    start = np.zeros((20000, 3), "float32")
    v_k, p_vk = rbm.gibbs(start, 20, tf.constant([1, 2]))
    assert v_k.shape == (20000, 3) and p_vk.shape == (20000, 3)
    empirical = np.bincount((v_k.numpy() @ np.array([4, 2, 1])).astype(int), minlength=8) / 20000
    np.testing.assert_allclose(empirical, exact, atol=0.015)


def test_cd_loss_gradient_reaches_kernel_and_offsets():
    rbm = _rbm(6, 4, 2, scale=0.1)
    v = (np.random.default_rng(0).random((16, 6)) < 0.5).astype("float32")
    offset = tf.Variable(np.zeros((16, 6), "float32"))
    with tf.GradientTape() as tape:
        loss = rbm.cd_loss(v, 3, keras.random.SeedGenerator(0), bv_offset=offset)
    grads = tape.gradient(loss, [rbm.kernel, offset])
    assert all(g is not None and np.abs(g.numpy()).sum() > 0 for g in grads)


@pytest.mark.parametrize("base", ["visible", "mean_field"])
def test_ais_matches_exact_partition_function(base):
    rbm = _rbm(10, 6, 3, scale=0.7)
    rng = np.random.default_rng(4)
    bv_offset = rng.normal(size=(3, 10)).astype("float32")
    bh_offset = rng.normal(size=(3, 6)).astype("float32")
    log_z, spread = rbm.log_partition_ais(bv_offset, bh_offset, num_chains=200, num_betas=300, seed=5, base=base)
    exact = _exact_log_z(rbm, bv_offset, bh_offset)
    np.testing.assert_allclose(log_z.numpy(), exact, atol=0.05)
    assert np.all(spread.numpy() >= 0) and np.all(spread.numpy() < 0.1)
    # Static biases only, broadcast to `count` copies.
    log_z, _ = rbm.log_partition_ais(num_chains=200, num_betas=300, seed=6, count=2, base=base)
    np.testing.assert_allclose(log_z.numpy(), _exact_log_z(rbm, np.zeros((2, 10)), np.zeros((2, 6))), atol=0.05)


def test_save_and_reload_gives_the_same_outputs(tmp_path):
    from zoo.core.checkpoints import load_model, save_model

    @keras.saving.register_keras_serializable(package="zoo_tests")
    class FreeEnergy(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.rbm = Rbm(5, 3)

        def build(self, shape):
            self.rbm.build()

        def call(self, v):
            return self.rbm.free_energy(v)

    inputs = keras.Input((5,))
    model = keras.Model(inputs, FreeEnergy()(inputs))
    v = (np.random.default_rng(5).random((4, 5)) < 0.5).astype("float32")
    before = model.predict(v, verbose=0)
    save_model(model, tmp_path / "rbm.keras")
    np.testing.assert_array_equal(before, load_model(tmp_path / "rbm.keras").predict(v, verbose=0))
