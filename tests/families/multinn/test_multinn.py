"""MultINN's model: every mode x generator trains a step and samples; reload; compiled sampling; composer layout."""
from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.core.checkpoints import load_model, save_model
from zoo.families.multinn.multinn_model import MultiNN, MultiNNSampler
from zoo.families.multinn.rnn_multinade import RnnMultiNade

D, K = 8, 2
TINY = dict(num_hidden=8, rnn_units=[12], feedback_units=[6, 5], encoder_hidden=[8, 6])


def rolls(n=4, steps=6, seed=0) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, steps, D, K)) < 0.3).astype("float32")


def tiny(mode, generator, encoder="pass", stage="generators") -> MultiNN:
    keras.utils.set_random_seed(0)
    model = MultiNN(D, K, mode, generator, encoder=encoder, stage=stage, **TINY)
    model.build()
    model.compile(optimizer=keras.optimizers.Adam(1e-2, global_clipnorm=5.0))
    return model


CASES = [("joint", "rnn_nade"), ("composer", "rnn_multinade"), ("jamming", "rnn_nade"), ("feedback", "rnn_nade"),
         ("feedback_rnn", "rnn_nade"), ("joint", "rnn_rbm"), ("jamming", "rnn_rbm"), ("feedback", "rnn_rbm"),
         ("feedback_rnn", "rnn_rbm")]


@pytest.mark.parametrize("mode, generator", CASES, ids=[f"{m}-{g}" for m, g in CASES])
def test_every_mode_and_generator_trains_a_step_and_samples(mode, generator):
    model = tiny(mode, generator)
    before = [w.copy() for w in model.get_weights()]
    # Eagerly, to keep the test quick: the same train_step Model.fit compiles (test_multinn_cli runs fit).
    logs = model.train_step((tf.constant(rolls()), tf.ones((4, 6))))
    assert np.isfinite(float(logs["loss"]))
    assert ("nll" in logs) == (generator != "rnn_rbm")
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))
    out = MultiNNSampler(model)._sample(tf.constant(rolls(2, 3)), tf.constant(4), tf.constant(1), tf.constant(1.0))
    assert out.shape == (2, 7, D, K)
    assert np.array_equal(out[:, :3], rolls(2, 3))  # the intro comes back as given
    assert set(np.unique(out.numpy())) <= {0.0, 1.0}


@pytest.mark.parametrize("mode, encoder", [("composer", "pass"), ("feedback_rnn", "dbn")])
def test_reload_gives_identical_outputs(tmp_path, mode, encoder):
    model = tiny(mode, "rnn_multinade" if mode == "composer" else "rnn_nade", encoder)
    data = rolls()
    expected = model(data).numpy()
    save_model(model, tmp_path / "m.keras")
    reloaded = load_model(tmp_path / "m.keras")
    assert isinstance(reloaded, MultiNN) and reloaded.mode == mode
    np.testing.assert_allclose(reloaded(data).numpy(), expected, rtol=1e-5, atol=1e-5)
    sample = lambda m: MultiNNSampler(m).sample(tf.constant(data[:2, :2]), tf.constant(3), tf.constant(5),  # noqa: E731
                                                tf.constant(1.0)).numpy()
    assert np.array_equal(sample(model), sample(reloaded))


def test_mask_excludes_padded_steps_and_loss_is_the_masked_mean():
    model = tiny("composer", "rnn_multinade")
    data, mask = rolls(2, 6), np.ones((2, 6), "float32")
    mask[1, 3:] = 0.0
    costs = model.step_costs(model.encode(data, tf.constant([0, 0])), tf.constant(mask)).numpy()
    assert np.all(costs[1, 3:] == 0.0) and np.all(costs[mask > 0] > 0.0)
    loss, _ = model._objective((tf.constant(data), tf.constant(mask)), training=False)
    np.testing.assert_allclose(float(loss), costs.sum() / mask.sum(), rtol=1e-5)


def test_composer_nll_is_the_sum_of_independent_per_track_nades():
    """The interleaved layout: column e*K + k is dim e of track k, and track k's NADE scores exactly those."""
    layer = RnnMultiNade(4, 2, 5, rnn_units=[6], dropout=0.0)
    layer.build()
    frames = (np.random.default_rng(1).random((1, 3, 8)) < 0.5).astype("float32")
    inputs = np.pad(frames[:, :-1], [(0, 0), (1, 0), (0, 0)])
    total = layer(inputs, frames).numpy()
    b_enc, b_dec = layer.biases(inputs)
    per_track = sum(-layer.nades[k].log_prob(frames[0, :, k::2], *[b[0] for b in layer._split(b_enc, b_dec, k)])
                    for k in range(2))
    np.testing.assert_allclose(total[0], per_track.numpy(), rtol=1e-5)


def test_sampling_compiles_once():
    model = tiny("feedback_rnn", "rnn_nade")
    sampler = MultiNNSampler(model)
    for intro_len, steps, batch in [(0, 3, 2), (2, 5, 3), (4, 1, 1)]:
        sampler.sample(tf.zeros([batch, intro_len, D, K]), tf.constant(steps), tf.constant(0), tf.constant(0.5))
    assert sampler.sample.experimental_get_tracing_count() == 1


def test_rbm_step_nll_by_ais_matches_the_exact_partition_function():
    """With 8 visible units per track, log Z of every step's RBM is exact by enumerating the 256 vectors."""
    model = tiny("jamming", "rnn_rbm")
    data, mask = rolls(2, 3), np.ones((2, 3), "float32")
    codes = model.encode(data, tf.constant([0, 0]))
    nll, spread = model.rbm_step_nll(codes, tf.constant(mask), 200, 300, tf.constant([3, 4]))
    every = np.array([[(i >> d) & 1 for d in range(D)] for i in range(2 ** D)], "float32")
    exact = 0.0
    for g, inputs, targets in model.generator_io(codes):
        bv, bh = (a.numpy().reshape(-1, a.shape[-1]) for a in g.conditioned_offsets(inputs))
        energies = np.stack([g.rbm.free_energy(every, np.repeat(bv[n:n + 1], len(every), 0),
                                                np.repeat(bh[n:n + 1], len(every), 0)).numpy() for n in range(len(bv))])
        log_z = np.logaddexp.reduce(-energies, axis=1)
        free = g.rbm.free_energy(targets.numpy().reshape(-1, D), bv, bh).numpy()
        exact = exact + (free + log_z).reshape(2, 3)
    np.testing.assert_allclose(nll.numpy(), exact / K, atol=0.05)
    assert 0.0 <= float(tf.reduce_max(spread)) < 0.05
