"""zoo.layers.lstm.LSTM computes what keras.layers.LSTM computes, forward and backward, and saves like it."""
from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.layers.lstm import LSTM


def _twins(seed=0, **kwargs):
    reference = keras.layers.LSTM(6, **kwargs)
    ours = LSTM(6, **kwargs)
    x = tf.random.stateless_normal([3, 7, 5], seed=[seed, 1]) * 3.0  # large inputs: saturated gates too
    reference.build(x.shape)
    ours.build(x.shape)
    ours.set_weights(reference.get_weights())
    return reference, ours, x


def _outputs_and_gradients(layer, x, initial_state=None):
    with tf.GradientTape() as tape:
        tape.watch(x)
        outputs = layer(x, initial_state=initial_state, training=True)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        # Every output reaches the loss, so the gradients of h, c and the whole sequence are all checked.
        loss = sum(tf.reduce_sum(tf.sin(o) * (k + 1.0)) for k, o in enumerate(outputs))
    return outputs, tape.gradient(loss, [x, *layer.trainable_weights])


@pytest.mark.parametrize("kwargs", [
    dict(return_sequences=True, return_state=True),
    dict(return_sequences=False),
    dict(return_sequences=True, go_backwards=True),
    dict(return_sequences=True, unit_forget_bias=False),
])
def test_outputs_and_gradients_match_keras(kwargs):
    reference, ours, x = _twins(**kwargs)
    assert ours._takes_sequence_kernel(mask=None)  # on this CPU-only machine: the kernel, not Keras's loop
    expected, expected_gradients = _outputs_and_gradients(reference, x)
    got, got_gradients = _outputs_and_gradients(ours, x)
    for a, b in zip(expected, got):
        np.testing.assert_allclose(b.numpy(), a.numpy(), atol=1e-5)
    for a, b in zip(expected_gradients, got_gradients):
        np.testing.assert_allclose(b.numpy(), a.numpy(), atol=1e-4, rtol=1e-4)


def test_initial_state_gradients_match_keras():
    reference, ours, x = _twins(return_sequences=True, return_state=True)
    state = [tf.random.stateless_normal([3, 6], seed=[k, 2]) for k in range(2)]
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(state)
        expected = tf.reduce_sum(tf.sin(reference(x, initial_state=state)[0]))
        got = tf.reduce_sum(tf.sin(ours(x, initial_state=state)[0]))
    for a, b in zip(tape.gradient(expected, state), tape.gradient(got, state)):
        np.testing.assert_allclose(b.numpy(), a.numpy(), atol=1e-5)


def test_a_masked_sequence_takes_keras_path_and_matches():
    reference, ours, x = _twins(return_sequences=True)
    mask = tf.constant([[True] * 7, [True] * 4 + [False] * 3, [True] * 2 + [False] * 5])
    np.testing.assert_allclose(ours(x, mask=mask).numpy(), reference(x, mask=mask).numpy(), atol=1e-6)


def test_trains_inside_a_compiled_model_and_reloads(tmp_path):
    tokens = keras.Input((None,), dtype="int32")
    hidden = LSTM(8, return_sequences=True, dropout=0.2, name="lstm")(keras.layers.Embedding(20, 4)(tokens))
    model = keras.Model(tokens, keras.layers.Dense(20)(hidden))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    data = np.random.default_rng(0).integers(0, 20, (32, 11)).astype("int32")
    history = model.fit(data[:, :-1], data[:, 1:], epochs=5, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    model.save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(reloaded.get_layer("lstm"), LSTM)
    np.testing.assert_allclose(reloaded.predict(data[:4], verbose=0), model.predict(data[:4], verbose=0), atol=1e-6)


@pytest.mark.parametrize("source, target", [(keras.layers.LSTM, LSTM), (LSTM, keras.layers.LSTM)],
                         ids=["keras-to-zoo", "zoo-to-keras"])
def test_weights_files_move_between_keras_and_zoo_lstm(tmp_path, source, target):
    def build(layer_class):
        tokens = keras.Input((None,), dtype="int32")
        hidden = layer_class(5, return_sequences=True, name="lstm_0")(keras.layers.Embedding(10, 4)(tokens))
        return keras.Model(tokens, layer_class(3, return_sequences=True, name="lstm_1")(hidden))

    saved = build(source)
    saved.save_weights(tmp_path / "run.weights.h5")
    loaded = build(target)
    loaded.load_weights(tmp_path / "run.weights.h5")
    tokens = np.arange(12, dtype="int32").reshape(2, 6) % 10
    np.testing.assert_allclose(loaded.predict(tokens, verbose=0), saved.predict(tokens, verbose=0), atol=1e-6)
