"""The cross-modal VAE pair: its likelihoods and KLs, the hierarchy's bound and layers, save and reload."""
import keras
import numpy as np

from zoo.core.checkpoints import load_model, save_model
from zoo.families.crossmodal.crossmodal_layers import gaussian_kl, gaussian_nll
from zoo.families.crossmodal.crossmodal_vae import CrossModalVAE


def test_likelihoods_and_kl_are_the_textbook_ones():
    rng = np.random.default_rng(0)
    m1, m2 = rng.normal(size=(2, 3, 4)).astype(np.float32)
    v1, v2 = rng.uniform(0.1, 1, (2, 3, 4)).astype(np.float32)
    expected = 0.5 * np.sum(np.log(v2 / v1) + v1 / v2 + (m1 - m2) ** 2 / v2 - 1, axis=-1)
    np.testing.assert_allclose(gaussian_kl(m1, v1, m2, v2), expected, rtol=1e-5)
    x = rng.normal(size=(3, 4)).astype(np.float32)
    np.testing.assert_allclose(gaussian_nll(x, m1, v1),
                               -np.sum(-0.5 * np.log(2 * np.pi * v1) - (x - m1) ** 2 / (2 * v1), axis=-1), rtol=1e-5)
    model = CrossModalVAE(head_sizes=[3, 2], hidden_1=8, hidden_2=8, latent_dim=2)
    y = np.array([[0, 1, 0, 1, 0], [1, 0, 0, 0, 1]], np.float32)
    logits = rng.normal(size=(2, 5)).astype(np.float32)

    def log_softmax(a):
        return a - np.log(np.exp(a).sum(-1, keepdims=True))

    expected = -(log_softmax(logits[:, :3]) * y[:, :3]).sum(-1) - (log_softmax(logits[:, 3:]) * y[:, 3:]).sum(-1)
    np.testing.assert_allclose(model.symbol_nll(y, logits), expected, rtol=1e-5)  # a real -log p, not -p


def _log_normal(z, mean, variance):
    return -0.5 * np.sum(np.log(2 * np.pi * variance) + (z - mean) ** 2 / variance, axis=-1)


def tiny_hierarchy(**kwargs):
    model = CrossModalVAE(signal_dim=7, head_sizes=[3, 2], hidden_1=[8, 6, 5], num_1=1, hidden_2=6, num_2=1,
                          latent_dim=[4, 3, 2], **kwargs)
    model.build()
    return model


def test_the_rate_term_is_an_unbiased_estimate_of_the_elbo_latent_terms():
    """E[kl term] = E[log q(z_0|x) + log q(z_1|z_0) + log q(z_2|z_1) - log p(z_0|z_1) - log p(z_1|z_2) - log N(z_2)]."""
    keras.utils.set_random_seed(0)
    model = tiny_hierarchy(seed=3)
    x = np.repeat(np.random.default_rng(0).normal(size=(1, 7)).astype(np.float32), 20000, axis=0)
    layers = model._posteriors("signal", x, False, 2, True)
    estimate = keras.ops.convert_to_numpy(model._rate("signal", layers, False))
    (m0, v0, z0), (m1, v1, z1), (m2, v2, z2) = [[keras.ops.convert_to_numpy(t) for t in layer] for layer in layers]
    p0 = [keras.ops.convert_to_numpy(t) for t in model._conditional_prior("signal", 1, z1, False)]
    p1 = [keras.ops.convert_to_numpy(t) for t in model._conditional_prior("signal", 2, z2, False)]
    log_ratio = (_log_normal(z0, m0, v0) + _log_normal(z1, m1, v1) + _log_normal(z2, m2, v2)
                 - _log_normal(z0, *p0) - _log_normal(z1, *p1) - _log_normal(z2, 0.0, 1.0))
    error = 4 * np.sqrt((np.var(estimate) + np.var(log_ratio)) / len(x))
    assert abs(estimate.mean() - log_ratio.mean()) < error
    # The conditional priors really depend on the layer above (not a fixed N(0, I) in disguise).
    assert np.std(p0[0], axis=0).max() > 1e-3


def test_every_layer_learns_and_the_cross_term_uses_the_top_layer():
    keras.utils.set_random_seed(1)
    model = tiny_hierarchy(cross_1=2.0, cross_2=0.5, seed=1)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 7)).astype(np.float32)
    y = np.zeros((8, 5), np.float32)
    y[np.arange(8), rng.integers(0, 3, 8)] = 1
    y[np.arange(8), 3 + rng.integers(0, 2, 8)] = 1
    before = {name: [w.numpy().copy() for w in layer.trainable_weights] for name, layer in model.vae_layers().items()}
    assert {"signal_prior_1", "signal_prior_2", "symbol_encoder_2", "symbol_prior_trunk_1"} <= set(before)
    model.train_step((x, y))
    for name, layer in model.vae_layers().items():
        assert any(not np.allclose(a, b.numpy()) for a, b in zip(before[name], layer.trainable_weights)), name
    # Posterior means all the way up (no sampling outside training): the top layer holds the shared space.
    zs, _ = model.encode_signal(x)
    assert zs.shape == (8, 2) and model.encode_signal(x, layer=0)[0].shape == (8, 4)
    outputs = model({"signal": x, "symbol": y})
    np.testing.assert_allclose(outputs["z_signal_mean"], zs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outputs["transcription_logits"], model.decode_symbol(zs), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outputs["signal_mean"], model.decode_signal(model.encode_signal(x, layer=0)[0], layer=0)[0],
                               rtol=1e-5, atol=1e-6)
    # The cross term of the loss: KLs between the top posteriors given the same draws below them.
    from zoo.families.crossmodal.crossmodal_layers import gaussian_kl

    state = model.seed_generator.state.numpy().copy()
    terms, _ = model.losses_of(x, y, training=False)
    model.seed_generator.state.assign(state)
    (ms, vs, _), (my, vy, _) = (model._posteriors(m, inputs, False, 2, True)[-1] for m, inputs in
                                (("signal", x), ("symbol", y)))
    expected = np.mean(2.0 * gaussian_kl(ms, vs, my, vy) + 0.5 * gaussian_kl(my, vy, ms, vs))
    np.testing.assert_allclose(float(terms["cross"]), expected, rtol=1e-5)


def test_one_dims_value_keeps_the_flat_model_and_its_config():
    flat = CrossModalVAE(signal_dim=7, head_sizes=[3, 2], hidden_1=8, hidden_2=6, latent_dim=4, seed=2)
    listed = CrossModalVAE(signal_dim=7, head_sizes=[3, 2], hidden_1=[8], hidden_2=[6], latent_dim=[4], seed=2)
    for model in (flat, listed):
        model.build()
    assert flat.get_config()["latent_dim"] == listed.get_config()["latent_dim"] == 4
    assert set(flat.vae_layers()) == set(listed.vae_layers()) and len(flat.vae_layers()) == 8
    listed.set_weights(flat.get_weights())
    x = np.random.default_rng(2).normal(size=(4, 7)).astype(np.float32)
    y = np.eye(5, dtype=np.float32)[[0, 1, 2, 0]] + np.eye(5, dtype=np.float32)[[3, 4, 3, 4]]
    terms_flat, _ = flat.losses_of(x, y, training=False)
    terms_listed, _ = listed.losses_of(x, y, training=False)
    for name in terms_flat:
        np.testing.assert_allclose(terms_flat[name], terms_listed[name], rtol=1e-6)


def test_hierarchy_saves_and_reloads_with_the_same_outputs(tmp_path):
    model = tiny_hierarchy(seed=4)
    save_model(model, tmp_path / "h.keras")
    again = load_model(tmp_path / "h.keras")
    assert again.latent_dims == [4, 3, 2] and again.hidden_1s == [8, 6, 5]
    x = np.random.default_rng(4).normal(size=(3, 7)).astype(np.float32)
    y = np.eye(5, dtype=np.float32)[[0, 1, 2]] + np.eye(5, dtype=np.float32)[[3, 4, 3]]
    first, second = model({"signal": x, "symbol": y}), again({"signal": x, "symbol": y})
    for key in first:
        np.testing.assert_allclose(first[key], second[key], rtol=1e-5, atol=1e-6)


def test_the_vae_variables_leave_out_the_discriminator():
    model = tiny_hierarchy(adversarial=True, adv_dim=4, adv_num=1)
    discriminator = {id(v) for v in model.discriminator.trainable_variables}
    vae = model.vae_variables()
    assert discriminator and not discriminator & {id(v) for v in vae}
    assert len(vae) + len(discriminator) == len(model.trainable_variables)
