"""One pre-norm decoder block of the Music Transformer: relative self-attention, then a feed-forward net.

    x = x + Dropout(RelativeSelfAttention(LayerNorm(x)))
    x = x + Dropout(Dense(D)(Dense(ff_dim, relu)(LayerNorm(x))))

Both sublayers read the residual stream through their own LayerNorm (the feed-forward net reads
the stream after the attention residual, not the attention's pre-norm output: a bug of a public
Keras example, specs/musictransformer.md).
"""
from __future__ import annotations

import keras
import tensorflow as tf

from zoo.families.transformer.relative_attention import RelativeSelfAttention


@keras.saving.register_keras_serializable(package="zoo")
class TransformerBlock(keras.layers.Layer):
    """Causal pre-norm decoder block, [B, L, D] -> [B, L, D].

    Args:
        num_heads (int): attention heads; D must be a multiple of it (depth D / num_heads).
        ff_dim (int): hidden units of the feed-forward net.
        max_seq_len (int): attention span and number of relative distances (see RelativeSelfAttention).
        dropout (float, default 0.0): dropout on attention weights and on both residual branches.
    """

    def __init__(self, num_heads: int, ff_dim: int, max_seq_len: int, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.ff_dim = ff_dim
        self.max_seq_len = max_seq_len
        self.dropout = dropout
        self.attention_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="attention_norm")
        self.feed_forward_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="feed_forward_norm")
        self.feed_forward_hidden = keras.layers.Dense(ff_dim, activation="relu", name="feed_forward_hidden")
        self.attention_dropout = keras.layers.Dropout(dropout)
        self.feed_forward_dropout = keras.layers.Dropout(dropout)

    def build(self, input_shape):
        width = input_shape[-1]
        if width % self.num_heads:
            raise ValueError(f"width {width} is not a multiple of num_heads {self.num_heads}")
        self.attention = RelativeSelfAttention(self.num_heads, width // self.num_heads, self.max_seq_len,
                                               self.dropout, name="attention")
        self.feed_forward_output = keras.layers.Dense(width, name="feed_forward_output")
        self.attention_norm.build(input_shape)
        self.attention.build(input_shape)
        self.feed_forward_norm.build(input_shape)
        self.feed_forward_hidden.build(input_shape)
        self.feed_forward_output.build((*input_shape[:-1], self.ff_dim))

    def call(self, inputs, training=None):
        attended = self.attention(self.attention_norm(inputs), training=training)
        x = inputs + self.attention_dropout(attended, training=training)
        hidden = self.feed_forward_output(self.feed_forward_hidden(self.feed_forward_norm(x)))
        return x + self.feed_forward_dropout(hidden, training=training)

    def step(self, inputs: tf.Tensor, key_cache: tf.Tensor, value_cache: tf.Tensor, position: tf.Tensor):
        """One position [B, D] with the attention's key/value cache; returns (output, key cache, value cache)."""
        attended, key_cache, value_cache = self.attention.step(self.attention_norm(inputs), key_cache,
                                                               value_cache, position)
        x = inputs + attended
        return x + self.feed_forward_output(self.feed_forward_hidden(self.feed_forward_norm(x))), key_cache, value_cache

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "ff_dim": self.ff_dim,
                "max_seq_len": self.max_seq_len, "dropout": self.dropout}
