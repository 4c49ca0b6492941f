"""Keras layers of lstmprovisor's experts (specs/lstmprovisor.md §2-§5).

Every expert maps its raw activations to one distribution over [rest, sustain, MIDI low..high-1]
(39 wide by default): `IntervalDecoder` (relative jumps of at most an octave), `ChordDecoder`
(pitch class relative to the chord root, repeated in every octave), `RhythmDecoder`,
`AbsoluteDecoder` (softmax) and `CircleOfThirdsDecoder`. `ProductOfExperts` multiplies them and
normalises; `SummedNLL` is the training loss, -sum log(p[target] + eps) over batch and time.
`LearnedInitialState` is theano_lstm's trainable initial state [c0, h0] per LSTM layer.
The tests compare every formula with a numpy reference (tests/families/leadsheet/leadsheet_numpy_reference.py).
"""
from __future__ import annotations

import keras
from keras import ops

EPSILON = 1.1920929e-07  # float32 machine epsilon, as the original
WINDOW_RADIUS = 12


def _common_config(layer, **extra):
    return {**keras.layers.Layer.get_config(layer), **extra}


@keras.saving.register_keras_serializable(package="zoo")
class LearnedInitialState(keras.layers.Layer):
    """A trainable [c0 (H), h0 (H)] vector, tiled over the batch: inputs [B, T, F] -> [h0 [B, H], c0 [B, H]]."""

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.state = self.add_weight(
            name="initialstate", shape=(2 * self.units,),
            initializer=keras.initializers.RandomNormal(stddev=1.0 / (2 * self.units)))

    def call(self, inputs):
        batch = ops.shape(inputs)[0]
        c0 = ops.broadcast_to(self.state[None, : self.units], (batch, self.units))
        h0 = ops.broadcast_to(self.state[None, self.units:], (batch, self.units))
        return [h0, c0]

    def compute_output_shape(self, input_shape):
        return [(input_shape[0], self.units), (input_shape[0], self.units)]

    def get_config(self):
        return _common_config(self, units=self.units)


class _Decoder(keras.layers.Layer):
    """Base: a weightless map from raw activations (and a position) to a [..., 2 + high - low] distribution."""

    def __init__(self, low: int = 48, high: int = 85, with_artic: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.low, self.high, self.with_artic = low, high, with_artic

    def get_config(self):
        return _common_config(self, low=self.low, high=self.high, with_artic=self.with_artic)


@keras.saving.register_keras_serializable(package="zoo")
class IntervalDecoder(_Decoder):
    """[act [..., 27 | 25], position [...]] -> [..., 39]: note n gets softmax(jump n - pos), 0 beyond an octave."""

    def call(self, inputs):
        act, pos = inputs
        r = ops.softmax(ops.cast(act, "float32"), axis=-1)
        jumps = r[..., 2:] if self.with_artic else r
        idx = ops.arange(self.low, self.high, dtype="int32") - ops.cast(pos, "int32")[..., None] + WINDOW_RADIUS
        mask = ops.cast((idx >= 0) & (idx <= 2 * WINDOW_RADIUS), "float32")
        q = ops.take_along_axis(jumps, ops.clip(idx, 0, 2 * WINDOW_RADIUS), axis=-1) * mask
        if self.with_artic:
            total = ops.maximum(ops.sum(q, axis=-1) + r[..., 0] + r[..., 1], EPSILON)[..., None]
            return ops.concatenate([r[..., :2], q], axis=-1) / total
        total = ops.maximum(ops.sum(q, axis=-1), EPSILON)[..., None]
        return ops.concatenate([ops.ones_like(q[..., :2]), q / total], axis=-1)


@keras.saving.register_keras_serializable(package="zoo")
class ChordDecoder(_Decoder):
    """[act [..., 14 | 12], root [...]] -> [..., 39]: note n gets softmax(pitch class (n - root) mod 12); not normalised."""

    def call(self, inputs):
        act, root = inputs
        r = ops.softmax(ops.cast(act, "float32"), axis=-1)
        pcs = r[..., 2:] if self.with_artic else r
        idx = ops.mod(ops.arange(self.low, self.high, dtype="int32") - ops.cast(root, "int32")[..., None], 12)
        q = ops.take_along_axis(pcs, idx, axis=-1)
        head = r[..., :2] if self.with_artic else ops.ones_like(q[..., :2])
        return ops.concatenate([head, q], axis=-1)


@keras.saving.register_keras_serializable(package="zoo")
class RhythmDecoder(_Decoder):
    """act [..., 3] -> [..., 39]: [p_rest, p_sustain, p_articulate repeated for every pitch]."""

    def call(self, act):
        r = ops.softmax(ops.cast(act, "float32"), axis=-1)
        return ops.concatenate([r[..., :2], ops.repeat(r[..., 2:3], self.high - self.low, axis=-1)], axis=-1)


@keras.saving.register_keras_serializable(package="zoo")
class AbsoluteDecoder(_Decoder):
    """act [..., 39] -> softmax."""

    def call(self, act):
        return ops.softmax(ops.cast(act, "float32"), axis=-1)


@keras.saving.register_keras_serializable(package="zoo")
class CircleOfThirdsDecoder(_Decoder):
    """act [..., 13] -> [..., 38]: P(play) P(octave) P(pc mod 4) P(pc mod 3) per note (Franklin 2004)."""

    def call(self, act):
        act = ops.cast(act, "float32")
        rsp = ops.softmax(act[..., 0:3], axis=-1)
        c1, c2 = ops.softmax(act[..., 3:7], axis=-1), ops.softmax(act[..., 7:10], axis=-1)
        octave = ops.softmax(act[..., 10:13], axis=-1)
        k = ops.arange(self.high - self.low, dtype="int32")
        notes = (rsp[..., 2:3] * ops.take(octave, k // 12, axis=-1) * ops.take(c1, ops.mod(ops.mod(k, 12), 4), axis=-1)
                 * ops.take(c2, ops.mod(ops.mod(k, 12), 3), axis=-1))
        return ops.concatenate([rsp[..., :2], notes], axis=-1)


@keras.saving.register_keras_serializable(package="zoo")
class ProductOfExperts(keras.layers.Layer):
    """[p_1, ..., p_E] (each [..., V]) -> normalised product; with `separate_rhythm` only the notes are
    renormalised, to the mass the rhythm expert leaves for articulation."""

    def __init__(self, separate_rhythm: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.separate_rhythm = separate_rhythm

    def call(self, probs):
        prod = probs[0]
        for p in probs[1:]:
            prod = prod * p
        if not self.separate_rhythm:
            return prod / ops.maximum(ops.sum(prod, axis=-1, keepdims=True), EPSILON)
        head, notes = prod[..., :2], prod[..., 2:]
        scale = (1.0 - ops.sum(head, axis=-1, keepdims=True)) / ops.maximum(ops.sum(notes, axis=-1, keepdims=True), EPSILON)
        return ops.concatenate([head, notes * scale], axis=-1)

    def get_config(self):
        return _common_config(self, separate_rhythm=self.separate_rhythm)


def step_nll(y_true, y_pred):
    """-log(p[target] + eps) per step: y_true int [B, T], y_pred [B, T, V] -> [B, T]."""
    picked = ops.take_along_axis(y_pred, ops.cast(y_true, "int32")[..., None], axis=-1)[..., 0]
    return -ops.log(picked + EPSILON)


@keras.saving.register_keras_serializable(package="zoo")
class SummedNLL(keras.losses.Loss):
    """The original's loss: the NLL summed over time per sequence, and (reduction "sum") over the batch."""

    def __init__(self, name: str = "summed_nll", reduction: str = "sum", **kwargs):
        super().__init__(name=name, reduction=reduction, **kwargs)

    def call(self, y_true, y_pred):
        return ops.sum(step_nll(y_true, y_pred), axis=-1)


@keras.saving.register_keras_serializable(package="zoo")
def nll_per_step(y_true, y_pred):
    """Mean NLL per step (nats): the number the quality table reports."""
    return ops.mean(step_nll(y_true, y_pred), axis=-1)


@keras.saving.register_keras_serializable(package="zoo")
class PositionShift(keras.layers.Layer):
    """pos [B, T] int -> [B, T, 1] float: pos_t - pos_{t-1}, 0 at t = 0 (how far the note memory moves)."""

    def call(self, pos):
        pos = ops.cast(pos, "float32")
        return ops.concatenate([ops.zeros_like(pos[:, :1]), pos[:, 1:] - pos[:, :-1]], axis=1)[..., None]

    def compute_output_shape(self, input_shape):
        return (*input_shape, 1)


@keras.saving.register_keras_serializable(package="zoo")
class PerNoteLSTMCell(keras.layers.LSTMCell):
    """An LSTM cell whose last `per_note x window` memory cells belong to notes (spec §2.2, `--per_note`).

    Its input is [x, shift] (the last channel is the position change). Before the usual update the
    per-note block of c (not h), seen as [window, per_note], moves by `shift` rows: new[i] = old[i + shift],
    zero-filled ("drop", the interval expert) or cyclic ("roll", the chord expert).
    """

    def __init__(self, units: int, per_note: int = 10, window: int = 25, mode: str = "drop", **kwargs):
        super().__init__(units, **kwargs)
        if mode not in ("drop", "roll") or per_note * window > units:
            raise ValueError(f"bad per-note layout: {per_note} x {window} cells ({mode}) in {units} units")
        self.per_note, self.window, self.mode = per_note, window, mode

    def build(self, input_shape):
        super().build((*input_shape[:-1], input_shape[-1] - 1))

    def shift_memory(self, c, shift):
        independent = self.units - self.per_note * self.window
        block = ops.reshape(c[:, independent:], (-1, self.window, self.per_note))
        index = ops.arange(self.window, dtype="int32")[None, :] + ops.cast(ops.round(shift), "int32")[:, None]
        if self.mode == "roll":
            valid = ops.ones_like(index, dtype=c.dtype)
            index = ops.mod(index, self.window)
        else:
            valid = ops.cast((index >= 0) & (index < self.window), c.dtype)
            index = ops.clip(index, 0, self.window - 1)
        moved = ops.take_along_axis(block, ops.repeat(index[..., None], self.per_note, axis=-1), axis=1)
        moved = ops.reshape(moved * valid[..., None], (-1, self.per_note * self.window))
        return ops.concatenate([c[:, :independent], moved], axis=-1)

    def call(self, inputs, states, training=False):
        h, c = states
        return super().call(inputs[..., :-1], [h, self.shift_memory(c, inputs[..., -1])], training=training)

    def get_config(self):
        return {**super().get_config(), "per_note": self.per_note, "window": self.window, "mode": self.mode}
