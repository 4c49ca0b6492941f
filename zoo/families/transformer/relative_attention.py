"""Causal multi-head self-attention with learned relative-position embeddings (Music Transformer).

Huang et al. 2018 (arXiv:1809.04281): logits = (Q K^T + S_rel) / sqrt(depth), S_rel[i, j] =
Q_i . E_r[j - i], with one learned embedding per head and relative distance -(M-1)..0, where M is
`max_seq_len`. The full pass computes S_rel with the paper's memory-efficient "skewing" (an
[L, L] product, a pad, two reshapes and a slice; no [L, L, depth] tensor). Attention is causal
and limited to the last M positions (position i sees j with i - M < j <= i), so sequences longer
than M work: that is exactly what `step` computes from its circular key/value cache of M slots,
and the two give the same outputs.

Row r of the embedding table holds distance r - (M - 1): the last row is distance 0.
"""
from __future__ import annotations

import keras
import tensorflow as tf

_MASKED = -1e9  # added to masked attention logits (in float32, so it is safe under mixed precision)


def skew(relative_logits: tf.Tensor) -> tf.Tensor:
    """The skewing trick: [..., L, L] logits against distances -(L-1)..0 (column c = distance c - L + 1)
    -> [..., L, L] logits indexed by key position: entry (i, j) holds the logit of distance j - i.

    Entries above the diagonal (j > i) hold leftovers and must be masked by the caller.
    """
    shape = tf.shape(relative_logits)
    length = shape[-1]
    rank = len(relative_logits.shape)
    padded = tf.pad(relative_logits, [[0, 0]] * (rank - 1) + [[1, 0]])        # [..., L, L + 1]
    reshaped = tf.reshape(padded, tf.concat([shape[:-2], [length + 1, length]], 0))  # [..., L + 1, L]
    # tf.slice, not reshaped[..., 1:, :]: a strided slice's gradient is a slow full-size scatter on CPU,
    # a slice's is a pad.
    return tf.slice(reshaped, [0] * (rank - 2) + [1, 0], [-1] * rank)


@keras.saving.register_keras_serializable(package="zoo")
class RelativeSelfAttention(keras.layers.Layer):
    """Causal relative multi-head self-attention, [B, L, D] -> [B, L, D].

    Args:
        num_heads (int): attention heads.
        key_dim (int): depth of each head's queries, keys and values.
        max_seq_len (int): M, the number of relative distances learnt (0..M-1 back) and the
            attention span: position i attends to the last M positions up to i.
        dropout (float, default 0.0): dropout on the attention weights while training.
    """

    def __init__(self, num_heads: int, key_dim: int, max_seq_len: int, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.max_seq_len = max_seq_len
        self.dropout = dropout
        self.dropout_layer = keras.layers.Dropout(dropout)

    def build(self, input_shape):
        width = input_shape[-1]
        heads, depth = self.num_heads, self.key_dim
        self.qkv_kernel = self.add_weight(name="qkv_kernel", shape=(width, 3, heads, depth),
                                          initializer="glorot_uniform")
        self.qkv_bias = self.add_weight(name="qkv_bias", shape=(3, heads, depth), initializer="zeros")
        self.output_kernel = self.add_weight(name="output_kernel", shape=(heads, depth, width),
                                             initializer="glorot_uniform")
        self.output_bias = self.add_weight(name="output_bias", shape=(width,), initializer="zeros")
        self.relative_embeddings = self.add_weight(
            name="relative_embeddings", shape=(heads, self.max_seq_len, depth),
            initializer=keras.initializers.RandomNormal(stddev=depth ** -0.5),
        )

    def _weights(self):
        dtype = self.compute_dtype
        return [tf.cast(w, dtype) for w in (self.qkv_kernel, self.qkv_bias, self.output_kernel,
                                            self.output_bias, self.relative_embeddings)]

    def relative_table(self, length: tf.Tensor, table: tf.Tensor | None = None) -> tf.Tensor:
        """The embeddings of distances -(length-1)..0, [heads, length, depth]; distances of M or
        more (masked anyway) get zeros."""
        table = self.relative_embeddings if table is None else table
        padding = tf.maximum(length - self.max_seq_len, 0)
        padded = tf.pad(table, [[0, 0], [padding, 0], [0, 0]])
        return tf.slice(padded, [0, tf.shape(padded)[1] - length, 0], [-1, length, -1])

    def call(self, inputs, training=None):
        qkv_kernel, qkv_bias, output_kernel, output_bias, table = self._weights()
        batch, length, width = tf.shape(inputs)[0], tf.shape(inputs)[1], inputs.shape[-1]
        heads, depth = self.num_heads, self.key_dim
        # Plain matrix products on [B*L, D] rows, and tf.unstack rather than qkv[0], ...: on CPU an einsum
        # with a permuted output transposes in both passes, and a strided slice's gradient is a
        # full-size scatter per slice.
        qkv = tf.matmul(tf.reshape(inputs, [-1, width]), tf.reshape(qkv_kernel, [width, 3 * heads * depth]))
        qkv = tf.reshape(qkv + tf.reshape(qkv_bias, [-1]), [batch, length, 3, heads, depth])
        query, key, value = tf.unstack(tf.transpose(qkv, [2, 0, 3, 1, 4]))       # [B, H, L, depth]
        relative = tf.matmul(query, self.relative_table(length, table)[None], transpose_b=True)
        logits = tf.matmul(query, key, transpose_b=True) + skew(relative)
        logits = tf.cast(logits, tf.float32) * (self.key_dim ** -0.5)
        # Causal band: j <= i and i - j < M.
        back = tf.range(length)[:, None] - tf.range(length)[None, :]
        visible = (back >= 0) & (back < self.max_seq_len)
        logits = tf.where(visible, logits, _MASKED)
        weights = self.dropout_layer(tf.cast(tf.nn.softmax(logits), self.compute_dtype), training=training)
        attended = tf.transpose(tf.matmul(weights, value), [0, 2, 1, 3])             # [B, L, H, depth]
        output = tf.matmul(tf.reshape(attended, [-1, heads * depth]), tf.reshape(output_kernel, [heads * depth, -1]))
        return tf.reshape(output + output_bias, [batch, length, width])

    def attention_spans(self) -> list[int]:
        """The cache prefixes `step` attends over while the cache fills: powers of two from 64, then M.

        A step at position p < M reads only the smallest span above p (its other slots are empty), so
        generating M events costs about 2/3 of attending over all M slots every time.
        """
        spans, span = [], 64
        while span < self.max_seq_len:
            spans.append(span)
            span *= 2
        return spans + [self.max_seq_len]

    def step(self, inputs: tf.Tensor, key_cache: tf.Tensor, value_cache: tf.Tensor, position: tf.Tensor):
        """One position of generation with a key/value cache.

        Args:
            inputs: [B, D], the layer's input at absolute `position` (int32 scalar, from 0).
            key_cache, value_cache: [M, B, heads, depth], slot-major so that a step writes one
                contiguous slot in place; slot s holds the latest position p <= position with
                p % M == s (a circular buffer: once position >= M the oldest entry is overwritten, so
                attention covers the last M positions, as in `call`).

        Returns:
            ([B, D] output, new key cache, new value cache).
        """
        qkv_kernel, qkv_bias, output_kernel, output_bias, table = self._weights()
        qkv = tf.einsum("bd,dkhe->kbhe", inputs, qkv_kernel) + qkv_bias[:, None]
        query, key, value = tf.unstack(qkv)                                        # [B, H, depth]
        slot = position % self.max_seq_len
        key_cache = tf.tensor_scatter_nd_update(key_cache, [[slot]], key[None])
        value_cache = tf.tensor_scatter_nd_update(value_cache, [[slot]], value[None])

        def attend(span: int):
            slots = tf.range(span)
            # Slot s is (position - s) % M positions back: distance row M - 1 - that of the table.
            rows = self.max_seq_len - 1 - (position - slots) % self.max_seq_len
            relative = tf.einsum("bhd,hsd->bhs", query, tf.gather(table, rows, axis=1))
            logits = tf.einsum("bhd,sbhd->bhs", query, key_cache[:span]) + relative
            logits = tf.cast(logits, tf.float32) * (self.key_dim ** -0.5)
            logits = tf.where((slots <= position)[None, None, :], logits, _MASKED)
            weights = tf.cast(tf.nn.softmax(logits), self.compute_dtype)
            return tf.einsum("bhs,sbhd->bhd", weights, value_cache[:span])

        spans = self.attention_spans()
        # The first span that holds every filled slot (all M once the buffer has wrapped).
        span_index = tf.reduce_sum(tf.cast(position >= tf.constant(spans[:-1], tf.int32), tf.int32))
        attended = tf.switch_case(span_index, [lambda span=span: attend(span) for span in spans])
        return tf.einsum("bhd,hde->be", attended, output_kernel) + output_bias, key_cache, value_cache

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "max_seq_len": self.max_seq_len, "dropout": self.dropout}
