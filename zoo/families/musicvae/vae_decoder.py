"""MusicVAE's melody decoder: flat or hierarchical (conductor) LSTMs with scheduled sampling.

One step loop (`tf.while_loop`) serves training, evaluation and generation: at each step the
input token is the teacher's (the previous target) or the decoder's own previous prediction,
chosen per example and step by a coin with the sampling rate. The hierarchical decoder first runs
its conductor for `n_subsequences` steps from z; the bottom decoder then restarts its state from
each conductor embedding at the start of its subsequence, the previous subsequence's last
prediction being the next one's first fed-back token (symusic's `HierarchicalSeqDecoder`).
The context (z, or the conductor embedding) enters the bottom LSTM's input and output layer
with its gradient, as in Magenta (symusic detaches it: specs/musicvae.md §9).

The conductor's forget gates start with bias +1 (Magenta's LSTMBlockCell forget_bias=1.0): with
PyTorch's init (forget gate ~0.5) the conductor, fed a constant input, loses its z-given initial
state geometrically, ~0.6x per subsequence; at init the 16th output of a 16-step conductor varied
~1/1000 as much with z as the first, so the late bars hardly reached z and were not trained to (issue 6).
"""
from __future__ import annotations

import math
from typing import Any

import keras
import tensorflow as tf


def torch_uniform(units: int) -> keras.initializers.Initializer:
    """PyTorch's LSTM/Linear default: U(-1/sqrt(units), 1/sqrt(units))."""
    bound = 1.0 / math.sqrt(units)
    return keras.initializers.RandomUniform(-bound, bound)


def lstm_step(x_proj, states, recurrent, kernels, biases):
    """One step of stacked LSTMs (gates i, f, g, o as PyTorch).

    Args:
        x_proj: [B, 4H] the first layer's input already multiplied by its kernel.
        states: list of (h, c), one per layer, each [B, H].
        recurrent, kernels, biases: per-layer weights; kernels[0] is unused (x_proj has it).
    Returns:
        (top h [B, H], new states).
    """
    new_states = []
    x = None
    for layer, (h, c) in enumerate(states):
        gates = (x_proj if layer == 0 else tf.matmul(x, kernels[layer])) + tf.matmul(h, recurrent[layer]) + biases[layer]
        i, f, g, o = tf.split(gates, 4, axis=-1)
        c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
        h = tf.sigmoid(o) * tf.tanh(c)
        new_states.append((h, c))
        x = h
    return x, new_states


@keras.saving.register_keras_serializable(package="zoo")
class MelodyDecoder(keras.layers.Layer):
    """z [B, Z] + teacher inputs [B, T] -> logits [B, T, num_classes].

    Args:
        num_classes: int. Output classes (90 melody classes); the input vocabulary adds SOS = num_classes.
        seq_len: int. Steps T.
        z_size: int. Latent size.
        decoder: str. 'another' (context in the LSTM input and output layer) or 'simple' (only in the state).
        embed_size, hidden_size, n_layers: int. The bottom decoder's token embedding and LSTMs.
        n_subsequences: int = 1. 1: flat decoder; U > 1: hierarchical with a conductor of U steps.
        conductor_hidden, conductor_layers, c_size: int. The conductor's LSTMs and embedding size (hier only).
        conductor_forget_bias: float = 1.0. Added to the conductor's initial forget-gate biases (only the
            initial weights change; 0 is PyTorch's/symusic's init).
        autoregressive: bool = True. False (hier + 'another' only): the bottom decoder sees no tokens, only
            its subsequence's conductor embedding (Magenta's `disable_autoregression`, as in its
            hierdec-mel_16bar); it then decodes the same with and without teacher forcing.
    """

    def __init__(self, num_classes: int, seq_len: int, z_size: int, decoder: str, embed_size: int,
                 hidden_size: int, n_layers: int, n_subsequences: int = 1, conductor_hidden: int = 0,
                 conductor_layers: int = 0, c_size: int = 0, conductor_forget_bias: float = 1.0,
                 autoregressive: bool = True, **kwargs):
        super().__init__(**kwargs)
        if seq_len % n_subsequences:
            raise ValueError(f"{n_subsequences} subsequences do not divide {seq_len} steps")
        if not autoregressive and (n_subsequences == 1 or decoder != "another"):
            raise ValueError("a decoder without autoregression needs the hier conductor and the 'another' decoder")
        self.num_classes = num_classes
        self.seq_len = seq_len
        self.z_size = z_size
        self.decoder = decoder
        self.embed_size = embed_size
        self.hidden_size = hidden_size
        self.n_layers = n_layers
        self.n_subsequences = n_subsequences
        self.conductor_hidden = conductor_hidden
        self.conductor_layers = conductor_layers
        self.c_size = c_size
        self.conductor_forget_bias = conductor_forget_bias
        self.autoregressive = autoregressive

    @property
    def hierarchical(self) -> bool:
        return self.n_subsequences > 1

    @property
    def token_size(self) -> int:
        """Width of the fed-back token's embedding in the LSTM input and output layer (0 without autoregression)."""
        return self.embed_size if self.autoregressive else 0

    @property
    def context_size(self) -> int:
        return self.c_size if self.hierarchical else self.z_size

    def _dense(self, name, fan_in, units):
        init = torch_uniform(fan_in)
        return (self.add_weight(name=f"{name}_kernel", shape=(fan_in, units), initializer=init),
                self.add_weight(name=f"{name}_bias", shape=(units,), initializer=init))

    def _lstm(self, name, input_size, units, layers, forget_bias=0.0):
        """Stacked LSTM weights, PyTorch's uniform init; `forget_bias` is added to the forget gates' initial bias."""
        init = torch_uniform(units)
        kernels, recurrent, biases = [], [], []
        for layer in range(layers):
            size = input_size if layer == 0 else units
            kernels.append(self.add_weight(name=f"{name}{layer}_kernel", shape=(size, 4 * units), initializer=init))
            recurrent.append(self.add_weight(name=f"{name}{layer}_recurrent", shape=(units, 4 * units), initializer=init))
            bias = self.add_weight(name=f"{name}{layer}_bias", shape=(4 * units,), initializer=init)
            if forget_bias:
                offset = tf.concat([tf.zeros([units]), tf.fill([units], float(forget_bias)), tf.zeros([2 * units])], 0)
                bias.assign(bias + tf.cast(offset, bias.dtype))
            biases.append(bias)
        return kernels, recurrent, biases

    def build(self, input_shape=None):
        ctx = self.context_size
        if self.hierarchical:
            self.cond_init = self._dense("conductor_state", self.z_size, 2 * self.conductor_layers * self.conductor_hidden)
            self.cond_lstm = self._lstm("conductor_lstm", 1, self.conductor_hidden, self.conductor_layers,
                                        forget_bias=self.conductor_forget_bias)
            self.cond_out = self._dense("conductor_output", self.conductor_hidden, self.c_size)
        self.state_init = self._dense("state", ctx, 2 * self.n_layers * self.hidden_size)
        if self.autoregressive:
            self.embedding = self.add_weight(name="embedding", shape=(self.num_classes + 1, self.embed_size),
                                             initializer=keras.initializers.RandomNormal(0.0, 1.0))
        uses_context = self.decoder == "another"
        token_size = self.token_size
        lstm_in = token_size + (ctx if uses_context else 0)
        self.lstm = self._lstm("lstm", lstm_in, self.hidden_size, self.n_layers)
        out_in = (token_size + self.hidden_size + ctx) if uses_context else self.hidden_size
        self.output_layer = self._dense("output", out_in, self.num_classes)
        self.built = True

    def _initial_states(self, context, units, layers, dense):
        """tanh(Dense(context)) -> [(h, c)] per layer; context [..., C]."""
        flat = tf.tanh(tf.matmul(context, dense[0]) + dense[1])
        parts = tf.split(flat, 2 * layers, axis=-1)
        return [(parts[2 * i], parts[2 * i + 1]) for i in range(layers)]

    def contexts(self, z):
        """[B, U, C]: z itself (flat) or the conductor's embeddings (hier)."""
        if not self.hierarchical:
            return z[:, None, :]
        kernels, recurrent, biases = self.cond_lstm
        states = self._initial_states(z, self.conductor_hidden, self.conductor_layers, self.cond_init)
        ones = tf.ones_like(z[:, :1])
        x_proj = tf.matmul(ones, kernels[0])
        outputs = []
        for _ in range(self.n_subsequences):
            top, states = lstm_step(x_proj, states, recurrent, kernels, biases)
            outputs.append(tf.matmul(top, self.cond_out[0]) + self.cond_out[1])
        return tf.stack(outputs, axis=1)

    def call(self, z, inputs, coins, noise, temperature):
        """Runs the step loop.

        Args:
            z: float [B, Z] latent codes.
            inputs: int32 [B, T] teacher inputs (SOS then the targets shifted right; all SOS to generate).
            coins: bool [B, T] True where the step feeds the previous prediction instead of the teacher's
                token (ignored at t = 0).
            noise: float [B, T, num_classes] Gumbel noise for sampled feedback.
            temperature: float scalar; 0 feeds back the argmax, > 0 samples at that temperature.
        Returns:
            (logits float32 [B, T, num_classes], fed-back predictions int32 [B, T]).
        """
        z = tf.cast(z, self.compute_dtype)
        contexts = self.contexts(z)  # [B, U, C]
        kernels, recurrent, biases = self.lstm
        uses_context = self.decoder == "another"
        E, H = self.token_size, self.hidden_size
        # Everything that depends only on the token or the context is multiplied out once.
        w_out, b_out = self.output_layer
        if self.autoregressive:
            input_table = tf.matmul(self.embedding, kernels[0][:E])  # [V+1, 4H]
            output_table = tf.matmul(self.embedding, w_out[:E])  # [V+1, classes]
        else:  # every token looks the same: only the conductor embedding drives the bottom decoder
            input_table = tf.zeros([self.num_classes + 1, 4 * H], self.compute_dtype)
            output_table = tf.zeros([self.num_classes + 1, self.num_classes], self.compute_dtype)
        if uses_context:
            context_in = tf.einsum("buc,cg->bug", contexts, kernels[0][E:])
            w_hidden = w_out[E:E + H]
            context_out = tf.einsum("buc,cv->buv", contexts, w_out[E + H:]) + b_out
        else:
            context_in = tf.zeros_like(contexts[..., :1]) + tf.zeros([4 * H], self.compute_dtype)
            w_hidden = w_out
            context_out = tf.zeros_like(contexts[..., :1]) + b_out
        init_states = self._initial_states(contexts, H, self.n_layers, self.state_init)  # each [B, U, H]
        batch = tf.shape(z)[0]
        sub_len = self.seq_len // self.n_subsequences
        temperature = tf.cast(temperature, tf.float32)
        noise = tf.cast(noise, tf.float32)

        def body(t, prediction, states, logits_array, predictions_array):
            u = t // sub_len
            restart = tf.equal(t % sub_len, 0)
            states = [
                (tf.where(restart, h0[:, u], h), tf.where(restart, c0[:, u], c))
                for (h0, c0), (h, c) in zip(init_states, states)
            ]
            feed_back = tf.logical_and(coins[:, t], t > 0)
            token = tf.where(feed_back, prediction, inputs[:, t])
            x_proj = tf.gather(input_table, token) + context_in[:, u]
            top, states = lstm_step(x_proj, states, recurrent, kernels, biases)
            logits = tf.gather(output_table, token) + tf.matmul(top, w_hidden) + context_out[:, u]
            logits = tf.cast(logits, tf.float32)
            scores = tf.stop_gradient(logits) + temperature * noise[:, t]
            prediction = tf.argmax(scores, axis=-1, output_type=tf.int32)
            return (t + 1, prediction, states, logits_array.write(t, logits),
                    predictions_array.write(t, prediction))

        zeros = tf.zeros([batch, H], self.compute_dtype)
        _, _, _, logits_array, predictions_array = tf.while_loop(
            lambda t, *_: t < self.seq_len,
            body,
            (tf.constant(0), inputs[:, 0], [(zeros, zeros)] * self.n_layers,
             tf.TensorArray(tf.float32, size=self.seq_len, element_shape=[None, self.num_classes]),
             tf.TensorArray(tf.int32, size=self.seq_len, element_shape=[None])),
            maximum_iterations=self.seq_len,
        )
        logits = tf.transpose(logits_array.stack(), [1, 0, 2])
        predictions = tf.transpose(predictions_array.stack(), [1, 0])
        return logits, predictions

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "num_classes": self.num_classes, "seq_len": self.seq_len, "z_size": self.z_size,
            "decoder": self.decoder, "embed_size": self.embed_size, "hidden_size": self.hidden_size,
            "n_layers": self.n_layers, "n_subsequences": self.n_subsequences,
            "conductor_hidden": self.conductor_hidden, "conductor_layers": self.conductor_layers,
            "c_size": self.c_size, "conductor_forget_bias": self.conductor_forget_bias,
            "autoregressive": self.autoregressive,
        }
