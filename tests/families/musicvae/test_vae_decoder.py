"""MelodyDecoder: the hierarchical decoder keeps bars apart, and its conductor carries z to the last bar (issue 6)."""
from __future__ import annotations

import numpy as np

from musicvae_helpers import tiny_model


def test_hier_decoder_keeps_bars_apart_and_in_order():
    """Teacher-forced logits of subsequence u depend on the conductor's output u and on no other."""
    import tensorflow as tf

    model = tiny_model(True)  # 2 bars, 2 subsequences
    decoder = model.decoder
    rng = np.random.default_rng(3)
    z = tf.constant(rng.standard_normal((2, 16)), tf.float32)
    inputs = tf.constant(rng.integers(0, 91, (2, 32)), tf.int32)
    no_feedback = tf.zeros([2, 32], tf.bool)
    contexts = tf.Variable(decoder.contexts(z))
    decoder.contexts = lambda _: tf.convert_to_tensor(contexts)  # the instance attribute shadows the method
    for u in range(2):
        with tf.GradientTape() as tape:
            logits, _ = decoder(z, inputs, no_feedback, tf.zeros([2, 32, 90]), temperature=0.0)
            bar = tf.reduce_sum(logits[:, 16 * u:16 * (u + 1)] ** 2)
        grad = tape.gradient(bar, contexts).numpy()  # [B, U, C]
        per_context = np.abs(grad).sum(axis=(0, 2))
        assert per_context[u] > 0 and per_context[1 - u] == 0, per_context


def test_conductor_carries_z_to_the_last_subsequence():
    """At initialisation the last of 16 conductor outputs still varies with z (forget bias 1, as Magenta's LSTM cell)."""
    import tensorflow as tf

    from zoo.families.musicvae.vae_decoder import MelodyDecoder

    z = tf.random.stateless_normal([128, 32], [0, 1])
    spread = {}
    for forget_bias in (0.0, 1.0):
        decoder = MelodyDecoder(90, 256, 32, "another", 8, 32, 1, n_subsequences=16, conductor_hidden=64,
                                conductor_layers=2, c_size=32, conductor_forget_bias=forget_bias)
        decoder.build()
        contexts = decoder.contexts(z).numpy()
        per_step = contexts.std(axis=0).mean(axis=-1)
        spread[forget_bias] = per_step[-1] / per_step[0]
    # PyTorch's init (forget gates ~0.5) loses z geometrically over the conductor's steps.
    assert spread[0.0] < 0.01 < 0.05 < spread[1.0], spread
