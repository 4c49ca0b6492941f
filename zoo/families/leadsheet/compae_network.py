"""lstmprovisor's compressing autoencoder (`compae`, specs/lstmprovisor.md §4.3) as a `keras.Model`.

Per expert e (interval and chord for poex; one for abs, cot, rel):
    encoder_e: [beat, (position), chord shift, cur_input]            -> LSTM stack -> Dense(manager width)
    A = sum_e encoder_e                 -> QueueManager -> strengths s, vectors v, features = queue_transform(s, v)
    decoder_e: [beat, (position), chord shift, feature, last_output] -> LSTM stack -> Dense -> its decoder
    probs = normalised product of the decoders' distributions (as poex)
Inputs: {"<e>_features" [B, T, context + W] (context then last_output, as poex), "<e>_current" [B, T, W],
"<e>_pos" [B, T] (interval, chord)}. Layers are named "enc_<e>_..." and "dec_<e>_..." (the sampler and the
.ctome export find them by name). `train_step` minimises the loss mode's mix of the reconstruction NLL R
(summed over batch and time) and the manager's loss Q, plus the REINFORCE surrogate for sample_var.
"""
from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf
from keras import ops

from zoo.families.leadsheet import compae_queue as q
from zoo.families.leadsheet import leadsheet_encoding as ls
from zoo.families.leadsheet.compae_manager import QueueManager
from zoo.families.leadsheet.experts import ProductOfExperts, step_nll
from zoo.families.leadsheet.leadsheet_network import (
    FEATURE_WIDTH,
    RAW_WIDTH,
    apply_stack,
    decode_probs,
    make_decoder,
    make_stack,
)

METRICS = ("loss", "reconstruction_loss", "queue_loss", "sparsity_loss", "variational_loss", "surrogate_loss",
           "raw_loss_sum", "trigger_scale", "nll_per_step", "mean_strength", "features_per_bar")


def context_width(kind: str) -> int:
    """Width of beat [+ position] + chord shift of an expert."""
    return FEATURE_WIDTH[kind] - ls.ENCODING_WIDTH[kind]


@keras.saving.register_keras_serializable(package="zoo")
class CompressingAutoencoder(keras.Model):
    """Teacher-forced reconstruction probs [B, T, V] from the inputs dict above.

    Args:
        model_config: dict with experts (tuple of expert kinds), sizes, depths (per expert), per_note,
            feature_size, manager (QueueManager kwargs: kind, period, sparsity_scale, variational_scale,
            pre_noise, post_noise, seed), hide_output, loss_mode ("add" | "priority" | "cutoff" | "trigger"),
            loss_option (priority curviness / cutoff / trigger value), ramp_time, train_decoder_only.
    """

    def __init__(self, model_config: dict[str, Any], **kwargs):
        super().__init__(**kwargs)
        self.model_config = model_config
        self.experts = tuple(model_config["experts"])
        per_note = int(model_config.get("per_note") or 0)
        self.manager = QueueManager(feature_size=model_config["feature_size"], name="manager",
                                    **model_config["manager"])
        width = self.manager.activation_width
        self.encoders = [make_stack(kind, units, depth, width, per_note, prefix="enc_")
                         for kind, units, depth in zip(self.experts, model_config["sizes"], model_config["depths"])]
        self.decoders = [make_stack(kind, units, depth, RAW_WIDTH[kind], per_note, prefix="dec_")
                         for kind, units, depth in zip(self.experts, model_config["sizes"], model_config["depths"])]
        self.output_decoders = [make_decoder(kind, prefix="dec_") for kind in self.experts]
        self.product = ProductOfExperts(name="dec_product") if len(self.experts) > 1 else None
        self.trackers = {name: keras.metrics.Mean(name=name) for name in METRICS}

    def build(self, input_shape=None):
        steps = 2
        dummy = {}
        for kind in self.experts:
            dummy[f"{kind}_features"] = ops.zeros((1, steps, FEATURE_WIDTH[kind]))
            dummy[f"{kind}_current"] = ops.zeros((1, steps, ls.ENCODING_WIDTH[kind]))
            if kind in ("interval", "chord"):
                dummy[f"{kind}_pos"] = ops.zeros((1, steps), "int32")
        self.call(dummy)
        # Training state: the trigger loss mode's latch and ramp, sample_var's moving-average baseline.
        self.trigger_on = self.add_weight(name="trigger_on", shape=(), initializer="zeros", trainable=False)
        self.trigger_scale = self.add_weight(name="trigger_scale", shape=(), initializer="zeros", trainable=False)
        self.baseline_sum = self.add_weight(name="baseline_sum", shape=(), initializer="zeros", trainable=False)
        self.baseline_weight = self.add_weight(name="baseline_weight", shape=(), trainable=False,
                                               initializer=keras.initializers.Constant(q.EPSILON))
        self.built = True

    @property
    def metrics(self):
        return list(self.trackers.values())

    # ---------------------------------------------------------------- forward passes
    def _pos(self, inputs, kind):
        return inputs.get(f"{kind}_pos") if kind in ("interval", "chord") else None

    def encode(self, inputs, training=False, seed=None) -> dict:
        """The manager's dict (strengths [B, T], vectors and features [B, T, F], losses) for the melodies in `inputs`."""
        total = None
        for kind, stack in zip(self.experts, self.encoders):
            context = ops.cast(inputs[f"{kind}_features"], "float32")[..., :context_width(kind)]
            x = ops.concatenate([context, ops.cast(inputs[f"{kind}_current"], "float32")], axis=-1)
            act = apply_stack(stack, x, self._pos(inputs, kind), training=training)
            total = act if total is None else total + act
        return self.manager(total, seed=seed)

    def decode(self, inputs, features, training=False):
        """Teacher-forced decoding from features [B, T, F]: (probs [B, T, V], [each expert's probs])."""
        expert_probs = []
        for kind, stack, decoder in zip(self.experts, self.decoders, self.output_decoders):
            given = ops.cast(inputs[f"{kind}_features"], "float32")
            parts = [given[..., :context_width(kind)], ops.cast(features, "float32")]
            if not self.model_config.get("hide_output"):
                parts.append(given[..., context_width(kind):])
            pos = self._pos(inputs, kind)
            act = apply_stack(stack, ops.concatenate(parts, axis=-1), pos, training=training)
            expert_probs.append(decode_probs(decoder, kind, act, pos))
        probs = self.product(expert_probs) if self.product is not None else expert_probs[0]
        return probs, expert_probs

    def call(self, inputs, training=False):
        managed = self.encode(inputs, training=training)
        return self.decode(inputs, managed["features"], training=training)[0]

    # ---------------------------------------------------------------- objective
    def _objective(self, inputs, target, training):
        managed = self.encode(inputs, training=training)
        probs, _ = self.decode(inputs, managed["features"], training=training)
        nll = step_nll(target, probs)
        reconstruction = ops.sum(nll)
        config = self.model_config
        loss, trigger_on, trigger_scale = q.combine_losses(
            config["loss_mode"], reconstruction, managed["queue_loss"], ops.shape(target)[0],
            config.get("loss_option") or 0.0, config.get("ramp_time") or 1.0, self.trigger_on, self.trigger_scale)
        surrogate = ops.zeros((), "float32")
        if self.manager.kind == "sample_var" and training:  # a training signal only: 0 in validation
            baseline = self.baseline_sum / self.baseline_weight
            surrogate = q.reinforce_surrogate(managed["strength_probs"], managed["strengths"], reconstruction, baseline)
        steps = ops.cast(ops.shape(target)[1], "float32")
        strength_sum = ops.sum(managed["strengths"], axis=1)
        values = {
            "loss": loss, "reconstruction_loss": reconstruction, "queue_loss": managed["queue_loss"],
            "sparsity_loss": managed["sparsity_loss"], "variational_loss": managed["variational_loss"],
            "surrogate_loss": surrogate, "raw_loss_sum": reconstruction + managed["queue_loss"],
            "trigger_scale": ops.convert_to_tensor(self.trigger_scale), "nll_per_step": ops.mean(nll),
            "mean_strength": ops.mean(managed["strengths"]),
            "features_per_bar": ops.mean(strength_sum) * ls.STEPS_PER_BAR / steps,
        }
        return values, (trigger_on, trigger_scale, reconstruction)

    def _trained_variables(self):
        if not self.model_config.get("train_decoder_only"):
            return self.trainable_variables
        layers = [layer for stack in self.decoders for layer in (*stack["initial"], *stack["lstm"], stack["full"])]
        return [v for layer in layers for v in layer.trainable_variables]

    def train_step(self, data):
        inputs, target, _ = keras.utils.unpack_x_y_sample_weight(data)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        variables = self._trained_variables()
        with tf.GradientTape() as tape:
            values, (trigger_on, trigger_scale, reconstruction) = self._objective(inputs, target, True)
            scaled = self.optimizer.scale_loss((values["loss"] + values["surrogate_loss"]) / replicas)
        grads = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients([(g, v) for g, v in zip(grads, variables) if g is not None])
        if self.model_config["loss_mode"] == "trigger":
            self.trigger_on.assign(trigger_on)
            self.trigger_scale.assign(trigger_scale)
        if self.manager.kind == "sample_var":
            acc_sum, acc_weight = q.update_baseline(self.baseline_sum, self.baseline_weight, reconstruction)
            self.baseline_sum.assign(acc_sum)
            self.baseline_weight.assign(acc_weight)
        return self._update(values)

    def test_step(self, data):
        inputs, target, _ = keras.utils.unpack_x_y_sample_weight(data)
        values, _ = self._objective(inputs, target, False)
        return self._update(values)

    def _update(self, values):
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "model_config": self.model_config}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
