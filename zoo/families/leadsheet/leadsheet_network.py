"""lstmprovisor's network (specs/lstmprovisor.md §2, §4, §6.1): the teacher-forced experts and the sampler.

`build_experts` makes the Keras model that trains (features of each expert -> LSTM stack with
trainable initial states and per-sequence dropout -> Dense -> the expert's decoder -> product);
`LeadSheetGenerator` steps the same layers one 1/48-bar step at a time inside one compiled
`tf.while_loop`, re-encoding every sampled note for each expert.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from zoo.families.leadsheet import leadsheet_encoding as ls
from zoo.families.leadsheet.experts import (
    AbsoluteDecoder,
    ChordDecoder,
    CircleOfThirdsDecoder,
    IntervalDecoder,
    LearnedInitialState,
    PerNoteLSTMCell,
    PositionShift,
    ProductOfExperts,
    RhythmDecoder,
)
from zoo.layers.lstm import LSTM

FEATURE_WIDTH = {"abs": 60, "cot": 34, "interval": 50, "chord": 37, "rhythm": 26}
RAW_WIDTH = {"abs": 39, "cot": 13, "interval": 27, "chord": 14, "rhythm": 3}
PER_NOTE_WINDOW = {"interval": 25, "chord": 12}  # notes each per-note block spans (spec §2.2)


def _normal(stddev: float):
    return keras.initializers.RandomNormal(stddev=stddev)


def make_stack(kind: str, units: int, depth: int, raw: int, per_note: int = 0, prefix: str = "") -> dict:
    """The layers of one expert's LSTM stack, named `{prefix}{kind}_lstm{i}` etc. (the names the sampler,
    the export and the saved files rely on): initial states, LSTMs, dropouts (one mask per sequence), the
    output Dense(raw) and, with `per_note`, the position-shift layer. Apply them with `apply_stack`."""
    name = f"{prefix}{kind}"
    stack = {"initial": [], "lstm": [], "dropout": [], "shift": None, "units": units}
    if per_note:
        window = PER_NOTE_WINDOW[kind]
        units = units + per_note * window
        stack["units"] = units
        stack["shift"] = PositionShift(name=f"{name}_shift")
    for layer in range(1, depth + 1):
        stack["initial"].append(LearnedInitialState(units, name=f"{name}_lstm{layer}_initialstate"))
        init = {"kernel_initializer": _normal(1 / units), "recurrent_initializer": _normal(1 / units),
                "bias_initializer": _normal(1 / units), "unit_forget_bias": False}
        if per_note:
            cell = PerNoteLSTMCell(units, per_note, window, "drop" if kind == "interval" else "roll", **init)
            stack["lstm"].append(keras.layers.RNN(cell, return_sequences=True, name=f"{name}_lstm{layer}"))
        else:
            stack["lstm"].append(LSTM(units, return_sequences=True, name=f"{name}_lstm{layer}", **init))
        stack["dropout"].append(keras.layers.Dropout(0.5, noise_shape=(None, 1, units), name=f"{name}_dropout{layer}"))
    stack["full"] = keras.layers.Dense(raw, kernel_initializer=_normal(1 / raw), bias_initializer=_normal(1 / raw),
                                       name=f"{name}_full")
    return stack


def apply_stack(stack: dict, x, pos=None, training=None):
    """Runs a `make_stack` stack over features x [B, T, F] (pos [B, T]: the per-note shift) -> raw [B, T, raw]."""
    features = x
    shift = stack["shift"](pos) if stack["shift"] is not None else None
    for initial, lstm, dropout in zip(stack["initial"], stack["lstm"], stack["dropout"]):
        state = initial(features)
        if shift is not None:
            x = keras.ops.concatenate([x, shift], axis=-1)
        x = dropout(lstm(x, initial_state=state, training=training), training=training)
    return stack["full"](x)


def make_decoder(kind: str, with_artic: bool = True, prefix: str = ""):
    """The weightless layer mapping an expert's raw activations to its [rest, sustain, notes] distribution."""
    name = f"{prefix}{kind}_decoder"
    if kind == "interval":
        return IntervalDecoder(with_artic=with_artic, name=name)
    if kind == "chord":
        return ChordDecoder(with_artic=with_artic, name=name)
    if kind == "cot":
        return CircleOfThirdsDecoder(high=ls.COT_HIGH, name=name)
    return (AbsoluteDecoder if kind == "abs" else RhythmDecoder)(name=name)


def decode_probs(decoder, kind: str, act, pos):
    """An expert's distribution from its raw activations (the interval and chord decoders also take the position)."""
    return decoder([act, pos]) if kind in ("interval", "chord") else decoder(act)


def build_experts(experts: tuple[str, ...], sizes: list[int], depths: list[int], separate_rhythm: bool = False,
                  name: str = "lstmprovisor", per_note: int = 0) -> keras.Model:
    """The teacher-forced network: inputs {"<expert>_features", "interval_pos", "chord_pos"} -> probs [B, T, V].

    `per_note` > 0 (only for the interval and chord experts): each LSTM layer is `sizes` independent units
    plus `per_note` memory cells for each of the expert's WINDOW notes (25 intervals / 12 pitch classes).
    """
    inputs, probs = {}, []
    for kind, units, depth in zip(experts, sizes, depths):
        features = keras.Input((None, FEATURE_WIDTH[kind]), name=f"{kind}_features")
        inputs[f"{kind}_features"] = features
        pos = None
        if kind in ("interval", "chord"):
            pos = keras.Input((None,), dtype="int32", name=f"{kind}_pos")
            inputs[f"{kind}_pos"] = pos
        with_artic = not (separate_rhythm and kind in ("interval", "chord"))
        raw = RAW_WIDTH[kind] - (0 if with_artic else 2)
        act = apply_stack(make_stack(kind, units, depth, raw, per_note), features, pos)
        probs.append(decode_probs(make_decoder(kind, with_artic), kind, act, pos))
    output = probs[0] if len(probs) == 1 else ProductOfExperts(separate_rhythm, name="product")(probs)
    return keras.Model(inputs, output, name=name)


class LeadSheetGenerator(tf.Module):
    """Samples melodies over chord changes one step at a time, in one compiled `tf.while_loop`.

    `generate(roots [B, T] int32, chords [B, T, 12] float32, start_pos [B] int32, seed [2] int32)`
    -> (chosen [B, T] int32, probs [B, T, V] float32, expert_probs [E, B, T, V] float32).
    Each expert re-encodes the sampled index for its next input (spec §3, §6.1); no dropout.

    A decoder conditioned on per-step vectors (the compressing autoencoder: `feature_size` F, layers named
    `{prefix}{kind}_...`) takes a fifth argument `features [B, T, F]`, fed to every expert between the
    chord shift and `last_output`; `hide_output` leaves `last_output` out.
    """

    def __init__(self, model: keras.Model, experts: tuple[str, ...], low: int = ls.LOW, prefix: str = "",
                 feature_size: int | None = None, hide_output: bool = False):
        super().__init__(name="leadsheet_generator")
        self.model = model
        self.experts = experts
        self.low = low
        self.hide_output = hide_output
        self.layers = {}
        for kind in experts:
            name = f"{prefix}{kind}"
            depth = 0
            while True:
                try:
                    model.get_layer(f"{name}_lstm{depth + 1}")
                except ValueError:
                    break
                depth += 1
            self.layers[kind] = {
                "cells": [model.get_layer(f"{name}_lstm{i}").cell for i in range(1, depth + 1)],
                "initial": [model.get_layer(f"{name}_lstm{i}_initialstate") for i in range(1, depth + 1)],
                "full": model.get_layer(f"{name}_full"),
                "decoder": model.get_layer(f"{name}_decoder"),
            }
        self.product = model.get_layer(f"{prefix}product") if len(experts) > 1 else None
        signature = [
            tf.TensorSpec([None, None], tf.int32, name="roots"),
            tf.TensorSpec([None, None, 12], tf.float32, name="chords"),
            tf.TensorSpec([None], tf.int32, name="start_pos"),
            tf.TensorSpec([2], tf.int32, name="seed"),
        ]
        if feature_size is not None:
            signature.append(tf.TensorSpec([None, None, feature_size], tf.float32, name="features"))
        self.generate = tf.function(self._generate, input_signature=signature)

    def _encode(self, kind: str, index, pos, root):
        """The expert's encoded form of the sampled index (its next `last_output`)."""
        if kind == "abs":
            return tf.one_hot(index, 39)
        if kind == "interval":
            encoded = tf.where(index < 2, index, tf.clip_by_value(index + self.low - pos + 12, 0, 26))
            return tf.one_hot(encoded, 27)
        if kind == "chord":
            return tf.one_hot(tf.where(index < 2, index, tf.math.floormod(index - 2 + self.low - root, 12) + 2), 14)
        if kind == "rhythm":
            return tf.one_hot(tf.minimum(index, 2), 3)
        midi = index - 2 + self.low  # cot
        played = tf.cast(index >= 2, tf.float32)[:, None]
        return tf.one_hot(tf.minimum(index, 2), 13) + played * (
            tf.one_hot(3 + tf.math.floormod(midi, 12) % 4, 13) + tf.one_hot(7 + tf.math.floormod(midi, 12) % 3, 13)
            + tf.one_hot(10 + tf.clip_by_value((midi - self.low) // 12, 0, 2), 13))

    def _features(self, kind: str, t, pos, root, chord, last, extra=None):
        batch = tf.shape(root)[0]
        beat = tf.cast(tf.equal(tf.math.floormod(t, tf.constant(ls.BEAT_PERIODS)), 0), tf.float32)
        parts = [tf.tile(beat[None, :], [batch, 1])]
        if ls.USES_POSITION[kind]:
            bounds = tf.constant([ls.LOW, ls.HIGH], tf.float32)
            parts.append(tf.maximum(0.0, 1.0 - tf.abs(tf.cast(pos, tf.float32)[:, None] - bounds) / (ls.HIGH - ls.LOW)))
        index = tf.math.floormod(tf.range(12)[None, :] + (pos - root)[:, None], 12)
        parts.append(tf.gather(chord, index, batch_dims=1))
        if extra is not None:
            parts.append(extra)
        if not self.hide_output:
            parts.append(last)
        return tf.concat(parts, axis=1)

    def _generate(self, roots, chords, start_pos, seed, features=None):
        batch, steps = tf.shape(roots)[0], tf.shape(roots)[1]
        states, lasts, previous = [], [], []
        for kind in self.experts:
            previous.append({"interval": start_pos, "chord": roots[:, 0]}.get(kind, tf.zeros([batch], tf.int32)))
            for init in self.layers[kind]["initial"]:
                units = init.units
                states.append(tf.tile(init.state[None, units:], [batch, 1]))  # h0
                states.append(tf.tile(init.state[None, :units], [batch, 1]))  # c0
            lasts.append(self._encode(kind, tf.zeros([batch], tf.int32), tf.zeros([batch], tf.int32),
                                      tf.zeros([batch], tf.int32)))
        arrays = (tf.TensorArray(tf.int32, size=steps), tf.TensorArray(tf.float32, size=steps),
                  tf.TensorArray(tf.float32, size=steps))

        def body(t, interval_pos, previous, states, lasts, chosen_ta, probs_ta, experts_ta):
            root, chord = roots[:, t], chords[:, t]
            new_states, expert_probs, positions = [], [], []
            k = 0
            for e, kind in enumerate(self.experts):
                pos = {"interval": interval_pos, "chord": root, "rhythm": root}.get(kind, tf.zeros_like(root))
                positions.append(pos)
                x = self._features(kind, t, pos, root, chord, lasts[e], None if features is None else features[:, t])
                shift = tf.cast(pos - previous[e], tf.float32)[:, None]
                for cell in self.layers[kind]["cells"]:
                    if isinstance(cell, PerNoteLSTMCell):
                        x = tf.concat([x, shift], axis=1)
                    x, (h, c) = cell(x, [states[k], states[k + 1]], training=False)
                    new_states += [h, c]
                    k += 2
                act = self.layers[kind]["full"](x)
                decoder = self.layers[kind]["decoder"]
                expert_probs.append(decoder([act, pos]) if kind in ("interval", "chord") else decoder(act))
            probs = self.product(expert_probs) if self.product is not None else expert_probs[0]
            step_seed = tf.random.experimental.stateless_fold_in(seed, t)
            index = tf.cast(tf.random.stateless_categorical(tf.math.log(probs + 1e-12), 1, seed=step_seed)[:, 0],
                            tf.int32)
            new_lasts = [self._encode(kind, index, positions[e], root) for e, kind in enumerate(self.experts)]
            new_interval_pos = tf.where(index < 2, interval_pos, index + self.low - 2)
            return (t + 1, new_interval_pos, positions, new_states, new_lasts, chosen_ta.write(t, index),
                    probs_ta.write(t, probs), experts_ta.write(t, tf.stack(expert_probs)))

        _, _, _, _, _, chosen, probs, experts = tf.while_loop(
            lambda t, *_: t < steps, body, (tf.constant(0), start_pos, previous, states, lasts, *arrays))
        return (tf.transpose(chosen.stack()), tf.transpose(probs.stack(), [1, 0, 2]),
                tf.transpose(experts.stack(), [1, 2, 0, 3]))
