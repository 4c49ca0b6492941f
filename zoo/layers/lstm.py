"""`LSTM`: Keras's LSTM with a whole-sequence CPU kernel for training.

On CPU, Keras runs an LSTM as a `tf.while_loop` over time in which every step multiplies its input
by the input kernel and, in the backward pass, accumulates two weight gradients from a 64-row
product plus an `AddN`: small matrix products and a dozen TensorFlow ops per step, each paying the
executor's overhead. This layer computes the same function the way cuDNN and oneDNN's RNN
primitives do:

- the input projection of every step in one matrix product before the loop (and its weight
  gradient in one product after the backward loop);
- a forward loop holding only `h @ recurrent_kernel` and the gates, and a hand-written backward loop
  holding only `dz @ recurrent_kernel^T` (a `tf.custom_gradient`); the recurrent kernel's gradient is
  one product over all steps afterwards;
- both loops compiled with XLA, which fuses the gate arithmetic of a step into a few kernels.

The weights are Keras's (`kernel`, `recurrent_kernel`, `bias`, gates in i, f, c, o order), and the
class is called `LSTM` on purpose: Keras files its weights in a `.weights.h5` under the class name
(`layers/lstm/cell/vars/0`), so weights and backups move between this layer and `keras.layers.LSTM`
either way (runs saved before this layer existed resume and fine-tune into it). The step-by-step
generators keep using `layer.cell`. Anything the kernel does not cover (a mask, recurrent dropout,
other activations, `unroll`, no bias) and any visible GPU (where Keras picks cuDNN) take Keras's own
path. Measured in bench/lstm_throughput.py.
"""
from __future__ import annotations

import keras
import tensorflow as tf


@tf.function(jit_compile=True)
def _forward_loop(input_projection, h0, c0, recurrent_kernel):
    """input_projection [T, B, 4U] (x @ kernel + bias) -> pre-activations z, h and c of every step, [T, B, ...]."""
    steps = tf.shape(input_projection)[0]

    def step(t, h, c, zs, hs, cs):
        z = input_projection[t] + tf.matmul(h, recurrent_kernel)
        i, f, g, o = tf.split(z, 4, axis=1)
        c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
        h = tf.sigmoid(o) * tf.tanh(c)
        return t + 1, h, c, zs.write(t, z), hs.write(t, h), cs.write(t, c)

    def array():
        return tf.TensorArray(input_projection.dtype, size=steps)

    _, _, _, zs, hs, cs = tf.while_loop(lambda t, *_: t < steps, step, (0, h0, c0, array(), array(), array()),
                                        maximum_iterations=steps)
    return zs.stack(), hs.stack(), cs.stack()


@tf.function(jit_compile=True)
def _backward_loop(zs, cs, c0, d_hs, d_h_last, d_c_last, recurrent_kernel):
    """Gradients of the pre-activations of every step dz [T, B, 4U], of h0 and c0, and of the bias."""
    steps = tf.shape(zs)[0]

    def step(t, dh_next, dc_next, d_bias, dzs):
        # The gate values are recomputed from z here rather than stored: inside the fused loop they
        # cost less than reading [T, B, 4U] tensors back from memory.
        i, f, g, o = tf.split(zs[t], 4, axis=1)
        i, f, g, o = tf.sigmoid(i), tf.sigmoid(f), tf.tanh(g), tf.sigmoid(o)
        c_prev = tf.where(t > 0, cs[tf.maximum(t - 1, 0)], c0)
        tanh_c = tf.tanh(cs[t])
        dh = d_hs[t] + dh_next
        dc = dc_next + dh * o * (1 - tanh_c * tanh_c)
        dz = tf.concat([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g * g),
                        dh * tanh_c * o * (1 - o)], axis=1)
        return (t - 1, tf.matmul(dz, recurrent_kernel, transpose_b=True), dc * f, d_bias + tf.reduce_sum(dz, 0),
                dzs.write(t, dz))

    _, dh0, dc0, d_bias, dzs = tf.while_loop(
        lambda t, *_: t >= 0, step,
        (steps - 1, d_h_last, d_c_last, tf.zeros(tf.shape(zs)[2:], zs.dtype), tf.TensorArray(zs.dtype, size=steps)),
        maximum_iterations=steps)
    return dzs.stack(), dh0, dc0, d_bias


@tf.custom_gradient
def lstm_sequence(x, h0, c0, kernel, recurrent_kernel, bias):
    """A whole LSTM sequence, time-major: x [T, B, D] -> (h of every step [T, B, U], last h, last c)."""
    steps, batch, width = tf.shape(x)[0], tf.shape(x)[1], tf.shape(x)[2]
    units = tf.shape(h0)[-1]
    flat_x = tf.reshape(x, [-1, width])
    input_projection = tf.reshape(tf.matmul(flat_x, kernel) + bias, [steps, batch, 4 * units])
    # The loops are differentiated by hand below; stop_gradient keeps an eager tape from asking the
    # XLA function for its intermediates.
    zs, hs, cs = _forward_loop(*[tf.stop_gradient(v) for v in (input_projection, h0, c0, recurrent_kernel)])

    def gradient(d_hs, d_h, d_c):
        d_hs = tf.zeros_like(hs) if d_hs is None else d_hs
        d_h = tf.zeros_like(h0) if d_h is None else d_h
        d_c = tf.zeros_like(c0) if d_c is None else d_c
        dz, dh0, dc0, d_bias = _backward_loop(zs, cs, c0, d_hs, d_h, d_c, recurrent_kernel)
        dz = tf.reshape(dz, [-1, 4 * units])
        h_prev = tf.reshape(tf.concat([h0[None], hs[:-1]], 0), [-1, units])
        return (tf.reshape(tf.matmul(dz, kernel, transpose_b=True), tf.shape(x)), dh0, dc0,
                tf.matmul(flat_x, dz, transpose_a=True), tf.matmul(h_prev, dz, transpose_a=True), d_bias)

    return (hs, hs[-1], cs[-1]), gradient


@keras.saving.register_keras_serializable(package="zoo")
class LSTM(keras.layers.LSTM):
    """`keras.layers.LSTM` (same arguments, weights and results) with the whole-sequence CPU kernel above."""

    def _takes_sequence_kernel(self, mask) -> bool:
        cell = self.cell
        return (mask is None and not self.recurrent_dropout and not self.unroll and cell.use_bias
                and cell.activation is keras.activations.tanh
                and cell.recurrent_activation is keras.activations.sigmoid
                and not tf.config.list_logical_devices("GPU"))

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if not self._takes_sequence_kernel(mask):
            return super().inner_loop(sequences, initial_state, mask, training=training)
        if training and self.dropout:  # the cell's own input dropout: one mask for every step, as Keras
            sequences = sequences * self.cell.get_dropout_mask(sequences[:, 0, :])[:, None, :]
        x = tf.transpose(sequences, [1, 0, 2])
        if self.go_backwards:  # outputs stay in the order processed, as Keras returns them
            x = tf.reverse(x, [0])
        dtype = x.dtype
        h0, c0 = (tf.cast(state, dtype) for state in initial_state)
        hs, h, c = lstm_sequence(x, h0, c0, *(tf.cast(w, dtype) for w in (self.cell.kernel,
                                                                              self.cell.recurrent_kernel,
                                                                              self.cell.bias)))
        return h, tf.transpose(hs, [1, 0, 2]), [h, c]
