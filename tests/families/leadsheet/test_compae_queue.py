"""The compressing autoencoder's queue, extra losses and loss modes against hand-computed cases (spec §4.3)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from zoo.families.leadsheet import compae_queue as q


def test_queue_reads_the_spec_test_vector():
    strengths = q.fixed_strengths(1, 96, 24)
    features = np.asarray(q.queue_transform(strengths, np.eye(96, dtype="float32")[None]))[0]
    read = features.argmax(-1)
    assert [int(read[t]) for t in (0, 23, 24, 47, 48, 95)] == [23, 23, 47, 47, 71, 95]
    np.testing.assert_allclose(features.max(-1), 1.0)


def test_queue_splits_fractional_strengths():
    # S = [0.5, 1, 2]: step 0 reads [0, 1) = half of v0 and half of v1; step 1 reads [0.5, 1.5); step 2 reads [1, 2).
    features = np.asarray(q.queue_transform(np.array([[0.5, 0.5, 1.0]], "float32"), np.eye(3, dtype="float32")[None]))
    np.testing.assert_allclose(features[0], [[0.5, 0.5, 0.0], [0.0, 0.5, 0.5], [0.0, 0.0, 1.0]], atol=1e-6)


def test_queue_shows_features_pushed_later_and_has_gradients():
    vectors = tf.constant(np.arange(6, dtype="float32").reshape(1, 3, 2))
    strengths = tf.Variable([[0.0, 0.0, 1.0]])
    with tf.GradientTape() as tape:
        features = q.queue_transform(strengths, vectors)
        total = tf.reduce_sum(features)
    np.testing.assert_allclose(features[0], [[4, 5]] * 3)  # every step reads v_2, pushed at the end
    assert tape.gradient(total, strengths) is not None


def test_fixed_and_forced_strengths():
    assert np.asarray(q.fixed_strengths(2, 6, 3)).tolist() == [[0, 0, 1, 0, 0, 1]] * 2
    assert np.asarray(q.fixed_strengths(1, 4, None)).tolist() == [[0, 0, 0, 1]]
    assert np.asarray(q.fixed_strengths(1, 5, 2)).tolist() == [[0, 1, 0, 1, 1]]  # a ragged tail pushes at its end
    np.testing.assert_allclose(q.force_last(np.array([[0.2, 0.3, 0.4]], "float32")), [[0.2, 0.3, 1.0]])


def test_sparsity_and_kl_costs():
    assert float(q.sparsity_cost(np.array([[0.0, 1.0, 1.0]], "float32"), 2.0)) == pytest.approx(4.0)
    assert float(q.sparsity_cost(np.array([[0.5]], "float32"))) == pytest.approx(math.log(50.5) / math.log(100))
    ones = np.ones((1, 2, 3), "float32")
    assert float(q.kl_cost(0 * ones, ones)) == pytest.approx(0.0)
    # mean 1, std 1: -1/2 (1 + 0 - 1 - 1) = 1/2 per entry, 6 entries; std 2: -1/2 (1 + ln 4 - 0 - 4)
    assert float(q.kl_cost(ones, ones, scale=0.5)) == pytest.approx(0.5 * 6 * 0.5)
    assert float(q.kl_cost(0 * ones, 2 * ones)) == pytest.approx(6 * -0.5 * (1 + math.log(4) - 4), rel=1e-6)
    mask = np.array([[0.0, 1.0]], "float32")  # only the push step counts
    assert float(q.kl_cost(ones, ones, mask)) == pytest.approx(3 * 0.5)


def test_nearness_cost_punishes_close_features_more():
    # sum f(s) = 2 in both; the pair costs 10 * 0.97^(i - j - 1)
    assert float(q.nearness_cost(np.array([[1.0, 1.0, 0.0]], "float32"))) == pytest.approx(2 + 10 * 1.0)
    assert float(q.nearness_cost(np.array([[1.0, 0.0, 1.0]], "float32"))) == pytest.approx(2 + 10 * 0.97)
    both = np.array([[1.0, 0.0, 1.0], [0.5, 0.0, 0.0]], "float32")
    expected = 0.5 * (2 + math.log(50.5) / math.log(100)) + 5 * 0.97
    assert float(q.nearness_cost(both, 0.5)) == pytest.approx(expected, rel=1e-6)


def test_reinforce_surrogate_and_baseline():
    probs = tf.Variable([[0.8, 0.3]])
    choices = tf.constant([[1.0, 0.0]])
    with tf.GradientTape() as tape:
        surrogate = q.reinforce_surrogate(probs, choices, tf.constant(5.0), 2.0)
    assert float(surrogate) == pytest.approx((math.log(0.8) + math.log(0.7)) * 3, rel=1e-5)
    np.testing.assert_allclose(tape.gradient(surrogate, probs), [[3 / 0.8, -3 / 0.7]], rtol=1e-5)
    acc_q, acc_d = q.update_baseline(0.0, q.EPSILON, 10.0)
    assert acc_q / acc_d == pytest.approx(10.0, rel=1e-5)  # bias-corrected: the first baseline is R itself
    acc_q, acc_d = q.update_baseline(acc_q, acc_d, 20.0)
    assert acc_q / acc_d == pytest.approx((0.9 * 1.0 + 2.0) / (0.9 * 0.1 + 0.1), rel=1e-5)
    assert float(q.expected_sparsity_cost(np.array([[0.25, 0.5]], "float32"), 2.0)) == pytest.approx(1.5)


def test_loss_modes():
    assert float(q.combine_losses("add", 10.0, 3.0, 2)[0]) == pytest.approx(13.0)
    assert float(q.combine_losses("priority", 100.0, 0.0, 1, 50.0)[0]) == pytest.approx(100.0)
    assert float(q.combine_losses("priority", 0.0, 100.0, 1, 50.0)[0]) == pytest.approx(100.0, rel=1e-5)
    big = float(q.combine_losses("priority", 1000.0, 1000.0, 1, 50.0)[0])
    assert big == pytest.approx(50 * (20 + math.log(2 - math.exp(-20))), rel=1e-5)  # a soft maximum
    assert float(q.combine_losses("priority", 1e5, 1e5, 10, 50.0)[0]) == pytest.approx(1e5 + 500 * math.log(2), rel=1e-5)
    assert float(q.combine_losses("cutoff", 30.0, 5.0, 10, 4.0)[0]) == pytest.approx(35.0)
    assert float(q.combine_losses("cutoff", 50.0, 5.0, 10, 4.0)[0]) == pytest.approx(50.0)


def test_trigger_mode_latches_and_ramps_one_step_late():
    on, scale = 0.0, 0.0
    seen = []
    for r in (10.0, 3.0, 30.0, 30.0, 30.0):  # below the trigger (4 x batch 1) only once
        loss, on, scale = q.combine_losses("trigger", r, 2.0, 1, 4.0, ramp_time=2.0, trigger_on=on, trigger_scale=scale)
        seen.append((float(loss) - r, float(on), float(scale)))
    # L - R = scale x Q with the scale before the update; the flag stays on once set.
    assert seen == [(0.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 1.0, 0.5), (1.0, 1.0, 1.0), (2.0, 1.0, 1.0)]
    with pytest.raises(ValueError):
        q.combine_losses("sum", 1.0, 1.0, 1)
