"""RNN-conditioned per-step estimators: RNN-NADE and RNN-RBM (specs/multinn.md §2, §4.1, §4.4).

An RNN stack reads the inputs [B, T, D_in] (the caller shifts them: inputs_t = x_{t-1} plus any
conditioning) and a linear Dense maps its output at t to the estimator's biases for frame t:
(b_enc [H], b_dec [D]) of a NADE, or the offsets (W_uh, W_uv) of an RBM's hidden and visible biases.

The RNN is MultINN's LSTM core by default (forget bias 0, output dropout after every layer) or, with
`rnn_type="simple"`, Boulanger-Lewandowski's tanh recurrence u_t = tanh(b_u + v_t W_vu + u_{t-1} W_uu).
The step API (`initial_state`, `step`, `sample_frame`) runs one time step with the same weights, and
`sample_sequence` is the compiled generation loop (a `tf.while_loop` over time) built on it.
"""
from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from zoo.layers.lstm import LSTM
from zoo.layers.nade import Nade, fold_seed, seed_tensor, uniform_at
from zoo.layers.rbm import Rbm

RNN_TYPES = ("lstm", "simple")


class RnnConditioner(keras.layers.Layer):
    """The shared part: RNN stack + output dropout + Dense(num_hidden + num_dims) split into two bias blocks."""

    def __init__(self, num_dims: int, num_hidden: int, rnn_units=(128,), dropout: float = 0.1,
                 rnn_type: str = "lstm", input_dims: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if rnn_type not in RNN_TYPES:
            raise ValueError(f"rnn_type must be one of {RNN_TYPES}, not {rnn_type!r}")
        self.num_dims, self.num_hidden = int(num_dims), int(num_hidden)
        self.rnn_units = tuple(int(u) for u in rnn_units)
        self.dropout, self.rnn_type = float(dropout), rnn_type
        self.input_dims = int(input_dims) if input_dims is not None else self.num_dims
        self.rnns = []
        for i, units in enumerate(self.rnn_units):
            if rnn_type == "lstm":
                layer = LSTM(units, return_sequences=True, unit_forget_bias=False, name=f"lstm_{i}")
            else:
                layer = keras.layers.SimpleRNN(units, return_sequences=True, name=f"rnn_{i}")
            self.rnns.append(layer)
        self.dropouts = [keras.layers.Dropout(self.dropout, name=f"dropout_{i}") for i in range(len(self.rnn_units))]
        self.to_biases = keras.layers.Dense(self.num_hidden + self.num_dims, name="to_biases")

    def build(self, input_shape=None):
        features = self.input_dims
        for layer, units in zip(self.rnns, self.rnn_units):
            layer.build((None, None, features))
            features = units
        self.to_biases.build((None, features))
        self._build_estimator()
        self.built = True

    def _build_estimator(self):
        raise NotImplementedError

    def biases(self, inputs, training=None):
        """(hidden-side [B, T, H], visible-side [B, T, D]) biases of every step from inputs [B, T, D_in]."""
        outputs = ops.cast(inputs, self.compute_dtype)
        for rnn, dropout in zip(self.rnns, self.dropouts):
            outputs = dropout(rnn(outputs, training=training), training=training)
        projected = self.to_biases(outputs)
        return projected[..., : self.num_hidden], projected[..., self.num_hidden:]

    def initial_state(self, batch_size):
        """Zero RNN state: a list with [h, c] per LSTM layer (or [h] per simple-RNN layer), each [B, units]."""
        states = []
        for units in self.rnn_units:
            zeros = ops.zeros((batch_size, units), self.compute_dtype)
            states.append([zeros, zeros] if self.rnn_type == "lstm" else [zeros])
        return states

    def step(self, input_t, state):
        """One time step: input_t [B, D_in], state -> (hidden-side [B, H], visible-side [B, D], new state)."""
        outputs, new_state = ops.cast(input_t, self.compute_dtype), []
        for rnn, layer_state in zip(self.rnns, state):
            outputs, next_layer_state = rnn.cell(outputs, list(layer_state), training=False)
            new_state.append(list(next_layer_state))
        projected = self.to_biases(outputs)
        return projected[:, : self.num_hidden], projected[:, self.num_hidden:], new_state

    def sample_sequence(self, primer, num_steps, seed, temperature=1.0, **sample_kwargs):
        """Consumes primer [B, P, D] (P >= 0, teacher forced), then samples num_steps frames: [B, num_steps, D].

        The RNN reads a zero frame first (the training shift), then each frame in turn; one `tf.while_loop`
        over P + num_steps steps, so under `tf.function` it traces once per input signature.
        Needs input_dims == num_dims (the previous frame is the whole input).
        """
        if self.input_dims != self.num_dims:
            raise ValueError("sample_sequence needs input_dims == num_dims; step() the RNN yourself otherwise")
        seed = seed_tensor(seed)
        primer = ops.cast(primer, self.compute_dtype)
        batch, primer_len = ops.shape(primer)[0], ops.shape(primer)[1]
        total = primer_len + num_steps
        frames = tf.TensorArray(self.compute_dtype, size=num_steps, element_shape=(None, self.num_dims))
        state = self.initial_state(batch)
        previous = ops.zeros((batch, self.num_dims), self.compute_dtype)

        def body(t, previous, state, frames):
            # step() returns the two bias blocks in the order sample_frame() takes them.
            first, second, state = self.step(previous, state)
            step_seed = fold_seed(seed, t)
            sampled = self.sample_frame(first, second, step_seed, temperature, **sample_kwargs)
            in_primer = t < primer_len
            frame = tf.cond(in_primer, lambda: primer[:, tf.minimum(t, primer_len - 1)], lambda: sampled)
            frames = tf.cond(in_primer, lambda: frames, lambda: frames.write(t - primer_len, frame))
            return t + 1, frame, state, frames

        _, _, _, frames = tf.while_loop(lambda t, *_: t < total, body, (tf.constant(0), previous, state, frames))
        return ops.transpose(frames.stack(), (1, 0, 2))

    def compute_mask(self, *args, **kwargs):
        return None  # the per-step outputs are already zero where the mask is False

    def get_config(self):
        return {**super().get_config(), "num_dims": self.num_dims, "num_hidden": self.num_hidden,
                "rnn_units": list(self.rnn_units), "dropout": self.dropout, "rnn_type": self.rnn_type,
                "input_dims": self.input_dims}


@keras.saving.register_keras_serializable(package="zoo")
class RnnNade(RnnConditioner):
    """RNN-NADE: an RNN stack -> Dense(H + D) -> (b_enc, b_dec) of a NADE per time step.

    Args:
        num_dims (int): D, units per frame.
        num_hidden (int): H, the NADE's hidden size.
        rnn_units (tuple of int, (128,)): RNN layer sizes.
        dropout (float, 0.1): output dropout after every RNN layer (training only).
        internal_bias (bool, False): the NADE also has static biases (the Dense bias plays that role otherwise).
        rnn_type (str, "lstm"): "lstm" (MultINN) or "simple" (Boulanger-Lewandowski's tanh RNN).
        input_dims (int, None): D_in, the RNN's input width; defaults to D.
    """

    def __init__(self, num_dims: int, num_hidden: int, rnn_units=(128,), dropout: float = 0.1,
                 internal_bias: bool = False, rnn_type: str = "lstm", input_dims: int | None = None, **kwargs):
        super().__init__(num_dims, num_hidden, rnn_units, dropout, rnn_type, input_dims, **kwargs)
        self.internal_bias = bool(internal_bias)
        self.nade = Nade(self.num_dims, self.num_hidden, internal_bias=self.internal_bias, name="nade")

    def _build_estimator(self):
        self.nade.build()

    def call(self, inputs, targets, mask=None, training=None):
        """NLL [B, T] (nats, summed over D) of targets [B, T, D] given inputs [B, T, D_in]; 0 where mask is False."""
        b_enc, b_dec = self.biases(inputs, training=training)
        batch, steps = ops.shape(targets)[0], ops.shape(targets)[1]
        flat = lambda a: ops.reshape(a, (-1, ops.shape(a)[-1]))  # noqa: E731
        nll = -ops.reshape(self.nade.log_prob(flat(targets), flat(b_enc), flat(b_dec)), (batch, steps))
        if mask is not None:
            nll = nll * ops.cast(mask, nll.dtype)
        return nll

    def sample_frame(self, b_enc, b_dec, seed, temperature=1.0):
        """A frame [B, D] from the NADE with these biases."""
        return self.nade.sample(b_enc, b_dec, seed, temperature)

    def get_config(self):
        return {**super().get_config(), "internal_bias": self.internal_bias}


@keras.saving.register_keras_serializable(package="zoo")
class RnnRbm(RnnConditioner):
    """RNN-RBM (Boulanger-Lewandowski et al. 2012): b_v^(t) = b_v + u_{t-1} W_uv, b_h^(t) = b_h + u_{t-1} W_uh.

    The cost of step t is F_t(v_t) - F_t(stop_grad(v_t^(k))), v_t^(k) from a `gibbs_k`-step chain started at
    v_t; the RNN gets its gradient through the conditioned biases in F_t. Generation runs a `sample_k`-step
    chain per frame, started from zeros (the tutorial's choice).

    Args: as RnnNade (no internal_bias: the RBM's static biases are always there), plus
        gibbs_k (int, 15): Gibbs steps of CD-k in training.
        sample_k (int, 25): Gibbs steps per generated frame.
        seed (int, None): seed of the layer's SeedGenerator (the training chains).
    """

    def __init__(self, num_dims: int, num_hidden: int, rnn_units=(100,), dropout: float = 0.0,
                 gibbs_k: int = 15, sample_k: int = 25, rnn_type: str = "lstm", input_dims: int | None = None,
                 seed: int | None = None, **kwargs):
        super().__init__(num_dims, num_hidden, rnn_units, dropout, rnn_type, input_dims, **kwargs)
        self.gibbs_k, self.sample_k, self.seed = int(gibbs_k), int(sample_k), seed
        self.rbm = Rbm(self.num_dims, self.num_hidden, name="rbm")
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _build_estimator(self):
        self.rbm.build()

    def conditioned_offsets(self, inputs, training=None):
        """(bv_offset [B, T, D], bh_offset [B, T, H]): the RNN-conditioned parts of each step's RBM biases."""
        bh_offset, bv_offset = self.biases(inputs, training=training)
        return bv_offset, bh_offset

    def call(self, inputs, targets, mask=None, training=None):
        """Per-step CD-k cost [B, T]: F_t(v_t) - F_t(v_t^(k)); 0 where mask is False. Not a likelihood."""
        bv_offset, bh_offset = self.conditioned_offsets(inputs, training=training)
        batch, steps = ops.shape(targets)[0], ops.shape(targets)[1]
        flat = lambda a: ops.reshape(a, (-1, ops.shape(a)[-1]))  # noqa: E731
        v, bv, bh = flat(ops.cast(targets, self.compute_dtype)), flat(bv_offset), flat(bh_offset)
        v_k, _ = self.rbm.gibbs(v, self.gibbs_k, self.seed_generator, bv, bh)
        cost = self.rbm.free_energy(v, bv, bh) - self.rbm.free_energy(v_k, bv, bh)
        cost = ops.reshape(cost, (batch, steps))
        if mask is not None:
            cost = cost * ops.cast(mask, cost.dtype)
        return cost

    def free_energy(self, inputs, targets, training=None):
        """F_t(v_t) [B, T] under each step's conditioned RBM (NLL_t = F_t(v_t) + log Z_t)."""
        bv_offset, bh_offset = self.conditioned_offsets(inputs, training=training)
        batch, steps = ops.shape(targets)[0], ops.shape(targets)[1]
        flat = lambda a: ops.reshape(a, (-1, ops.shape(a)[-1]))  # noqa: E731
        energy = self.rbm.free_energy(flat(targets), flat(bv_offset), flat(bh_offset))
        return ops.reshape(energy, (batch, steps))

    def step(self, input_t, state):
        """One step: (bv_offset [B, D], bh_offset [B, H], new state) — visible side first, as sample_frame takes it."""
        hidden_side, visible_side, state = super().step(input_t, state)
        return visible_side, hidden_side, state

    def sample_frame(self, bv_offset, bh_offset, seed, temperature=1.0, k=None):
        """A frame [B, D]: the last visible sample of a k-step (default sample_k) Gibbs chain from zeros.

        temperature scales the energy (all biases and weights divided by it), 1 = the model.
        """
        k = self.sample_k if k is None else k
        scale = 1.0 / temperature
        bv, bh = self.rbm.biases(bv_offset, bh_offset)
        kernel = self.rbm.kernel * scale
        seed = seed_tensor(seed)
        v0 = ops.zeros_like(bv_offset)

        def body(i, v):
            h_probs = ops.sigmoid((ops.matmul(v, kernel) + bh * scale))
            h = ops.cast(uniform_at(ops.shape(h_probs), seed, 2 * i) < h_probs, v.dtype)
            v_probs = ops.sigmoid(ops.matmul(h, ops.transpose(kernel)) + bv * scale)
            return ops.cast(uniform_at(ops.shape(v_probs), seed, 2 * i + 1) < v_probs, v.dtype)

        return ops.fori_loop(0, k, body, v0)

    def sample_sequence(self, primer, num_steps, seed, temperature=1.0, k=None):
        """As RnnNade.sample_sequence; `k` Gibbs steps per frame (default sample_k)."""
        return super().sample_sequence(primer, num_steps, seed, temperature, k=k)

    def get_config(self):
        return {**super().get_config(), "gibbs_k": self.gibbs_k, "sample_k": self.sample_k, "seed": self.seed}
