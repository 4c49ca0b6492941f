"""`PianoRollEstimatorModel`: the keras.Model of rnn_nade and rnn_rbm, an RNN-conditioned estimator over 88-key rolls.

It wraps a `RnnNade` or `RnnRbm` (zoo/layers/rnn_estimators.py) with the train/test steps of each
objective: the exact NADE NLL, or the RBM's CD-k cost monitored by its mean-field reconstruction
cross-entropy (`recon`, also the RBM's `val_loss`: the CD cost is not comparable between epochs).
"""
from __future__ import annotations

import keras
import tensorflow as tf

from zoo.layers.rnn_estimators import RnnRbm


@keras.saving.register_keras_serializable(package="zoo")
class PianoRollEstimatorModel(keras.Model):
    """A `RnnNade` or `RnnRbm` over 88-key rolls with its own train/test steps.

    Batches: (rolls [B, T, D] float 0/1, mask [B, T] bool). `call(rolls)` returns the per-frame NLL [B, T]
    (NADE) or the per-frame free energy F_t(v_t) [B, T] (RBM: NLL_t = F_t + log Z_t).
    """

    def __init__(self, estimator: dict, **kwargs):
        super().__init__(**kwargs)
        self.estimator_config = estimator
        self.estimator = keras.saving.deserialize_keras_object(estimator)
        self.is_rbm = isinstance(self.estimator, RnnRbm)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.extra_tracker = keras.metrics.Mean(name="recon" if self.is_rbm else "nll")

    def build(self, input_shape=None):
        self.estimator.build()
        self.built = True

    @staticmethod
    def shifted(rolls):
        """The RNN's inputs: [0, x_1 .. x_{T-1}]."""
        return tf.pad(rolls[:, :-1], [[0, 0], [1, 0], [0, 0]])

    def call(self, rolls, training=None):
        rolls = tf.cast(rolls, self.compute_dtype)
        if self.is_rbm:
            return self.estimator.free_energy(self.shifted(rolls), rolls, training=training)
        return self.estimator(self.shifted(rolls), rolls, training=training)

    def reconstruction_xent(self, rolls, training=None):
        """Mean-field one-step reconstruction cross-entropy [B, T] of each frame (RBM monitor)."""
        bv_offset, bh_offset = self.estimator.conditioned_offsets(self.shifted(rolls), training=training)
        rbm = self.estimator.rbm
        h = rbm.hidden_probs(rolls, bh_offset)
        probs = tf.clip_by_value(rbm.visible_probs(h, bv_offset), 1e-6, 1 - 1e-6)
        return -tf.reduce_sum(rolls * tf.math.log(probs) + (1 - rolls) * tf.math.log(1 - probs), -1)

    def _per_frame(self, rolls, mask, training):
        """(mean over unmasked frames of the estimator's per-step output: NLL or CD cost, frame count)."""
        frames = tf.reduce_sum(mask)
        per_step = self.estimator(self.shifted(rolls), rolls, mask=mask, training=training)
        return tf.reduce_sum(per_step) / frames, frames

    def train_step(self, data):
        rolls, mask = data
        rolls, mask = tf.cast(rolls, self.compute_dtype), tf.cast(mask, self.compute_dtype)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            loss, frames = self._per_frame(rolls, mask, training=True)
            scaled = self.optimizer.scale_loss(loss / replicas)
        grads = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        return self._track(rolls, mask, loss, frames, training=False)

    def test_step(self, data):
        rolls, mask = data
        rolls, mask = tf.cast(rolls, self.compute_dtype), tf.cast(mask, self.compute_dtype)
        if self.is_rbm:  # val_loss = reconstruction cross-entropy (see the module docstring)
            frames = tf.reduce_sum(mask)
            recon = tf.reduce_sum(self.reconstruction_xent(rolls) * mask) / frames
            self.loss_tracker.update_state(recon, sample_weight=frames)
            self.extra_tracker.update_state(recon, sample_weight=frames)
            return self._results()
        loss, frames = self._per_frame(rolls, mask, training=False)
        return self._track(rolls, mask, loss, frames, training=False)

    def _track(self, rolls, mask, loss, frames, training):
        self.loss_tracker.update_state(loss, sample_weight=frames)
        if self.is_rbm:
            recon = tf.reduce_sum(self.reconstruction_xent(rolls, training) * mask) / frames
            self.extra_tracker.update_state(recon, sample_weight=frames)
        else:
            self.extra_tracker.update_state(loss, sample_weight=frames)
        return self._results()

    def _results(self):
        return {m.name: m.result() for m in self.metrics}

    @property
    def metrics(self):
        return [self.loss_tracker, self.extra_tracker]

    def get_config(self):
        return {**super().get_config(), "estimator": self.estimator_config}
