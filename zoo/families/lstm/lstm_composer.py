"""MechanicalBach's LSTM composer: token windows -> stacked LSTMs -> dense layers -> next-token logits.

Differences from the seed (see specs/mechanicalbach.md): it learns every next token of the window
(the seed learnt only the last one), an integer-token embedding is the default
(`--lstm_embedding_size 0` restores the seed's scalar `id / vocab` input, normalised once), and
generation carries the LSTM state from token to token instead of re-reading a sliding window.
"""
from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from zoo.core.registry import register_model_type
from zoo.core.sampling import TokenGenerator
from zoo.core.token_model_type import TokenModelType
from zoo.families.lstm.lstm_flags import LSTMFlags
from zoo.layers.lstm import LSTM


@register_model_type
class LSTMComposer(LSTMFlags, TokenModelType):
    default_encoding = "event"
    encodings = ("event", "numeric")

    @classmethod
    def build(cls, config: dict[str, Any], encoding) -> keras.Model:
        vocab_size = encoding.vocab_size
        dropout = config.get("lstm_dropout_prob") or 0.0
        tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
        if config["lstm_embedding_size"] > 0:
            x = keras.layers.Embedding(vocab_size, config["lstm_embedding_size"], name="embedding")(tokens)
        else:
            x = ScalarTokenInput(vocab_size, name="scalar_input")(tokens)
        for i in range(config["lstm_num_layers"]):
            x = LSTM(config["lstm_size"], return_sequences=True, name=f"lstm_{i}")(x)
            if dropout:
                x = keras.layers.Dropout(dropout, name=f"lstm_dropout_{i}")(x)
        for i in range(config["lstm_num_hidden_dense"]):
            x = keras.layers.Dense(
                config["lstm_hidden_dense_size"], activation=config["lstm_hidden_dense_activation"], name=f"dense_{i}"
            )(x)
            if dropout:
                x = keras.layers.Dropout(dropout, name=f"dense_dropout_{i}")(x)
        logits = keras.layers.Dense(vocab_size, dtype="float32", name="logits")(x)
        return keras.Model(tokens, logits, name="lstm_composer")

    @classmethod
    def token_generator(cls, model: keras.Model, config: dict[str, Any]) -> "LSTMGenerator":
        return LSTMGenerator(model, config)


@keras.saving.register_keras_serializable(package="zoo")
class ScalarTokenInput(keras.layers.Layer):
    """The seed's LSTM input without an embedding: id / vocab_size as one float feature, [B, T] -> [B, T, 1]."""

    def __init__(self, vocab_size: int, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size

    def call(self, tokens):
        return keras.ops.cast(tokens, self.compute_dtype)[..., None] / self.vocab_size

    def compute_output_shape(self, input_shape):
        return (*input_shape, 1)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size}


class LSTMGenerator(TokenGenerator):
    """Steps the trained layers one token at a time, carrying (h, c) of every LSTM layer."""

    def __init__(self, model: keras.Model, config: dict[str, Any]):
        super().__init__(model, name="lstm_generator")
        self.num_layers = config["lstm_num_layers"]
        self.units = config["lstm_size"]
        self.input_layer = model.get_layer("embedding" if config["lstm_embedding_size"] > 0 else "scalar_input")
        self.cells = [model.get_layer(f"lstm_{i}").cell for i in range(self.num_layers)]
        self.dense = [model.get_layer(f"dense_{i}") for i in range(config["lstm_num_hidden_dense"])]
        self.logits = model.get_layer("logits")

    def initial_state(self, batch_size):
        dtype = self.cells[0].compute_dtype
        zeros = tf.zeros([batch_size, self.units], dtype)
        return [(zeros, zeros) for _ in range(self.num_layers)]

    def step(self, tokens, state):
        x = self.input_layer(tokens[:, None])[:, 0]
        new_state = []
        for cell, (h, c) in zip(self.cells, state):
            x, (h, c) = cell(x, [h, c], training=False)
            new_state.append((h, c))
        for dense in self.dense:
            x = dense(x)
        return self.logits(x), new_state
