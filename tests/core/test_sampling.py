import numpy as np
import tensorflow as tf

from zoo.core.sampling import NEG_INF, filter_logits, sample_logits

LOGITS = tf.math.log(tf.constant([[0.5, 0.3, 0.15, 0.05]]))


def kept(temperature=1.0, top_k=0, top_p=1.0):
    filtered = filter_logits(LOGITS, tf.constant(temperature), tf.constant(top_k), tf.constant(top_p))
    return (filtered.numpy()[0] > NEG_INF / 2).tolist()


def test_filters_keep_the_right_tokens():
    assert kept() == [True, True, True, True]
    assert kept(top_k=2) == [True, True, False, False]
    assert kept(top_p=0.7) == [True, True, False, False]  # 0.5 < 0.7 <= 0.8
    assert kept(top_p=0.5) == [True, False, False, False]
    assert kept(temperature=0.0) == [True, False, False, False]  # greedy


def test_temperature_sharpens():
    hot = tf.nn.softmax(filter_logits(LOGITS, tf.constant(2.0), tf.constant(0), tf.constant(1.0)))
    cold = tf.nn.softmax(filter_logits(LOGITS, tf.constant(0.5), tf.constant(0), tf.constant(1.0)))
    assert cold.numpy()[0, 0] > 0.5 > hot.numpy()[0, 0]


def test_sampling_follows_the_distribution_and_is_seeded():
    logits = tf.tile(LOGITS, [4000, 1])
    draws = sample_logits(logits, tf.constant(1.0), tf.constant(0), tf.constant(1.0), tf.constant([1, 2])).numpy()
    np.testing.assert_allclose(np.bincount(draws, minlength=4) / 4000, [0.5, 0.3, 0.15, 0.05], atol=0.03)
    again = sample_logits(logits, tf.constant(1.0), tf.constant(0), tf.constant(1.0), tf.constant([1, 2])).numpy()
    np.testing.assert_array_equal(draws, again)
