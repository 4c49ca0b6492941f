"""MusicVAE as a `keras.Model`: BiLSTM encoder, melody decoder, and the ELBO `train_step`/`test_step`.

Loss per batch (specs/musicvae.md §4, Magenta's formulas):
    r_loss  = mean over examples of the summed cross-entropy over the T steps
    kl      = KL(q(z|x) || N(0, I)) per example
    loss    = r_loss + beta * mean(max(kl - free_bits * ln 2, 0))
free bits apply to the whole KL of an example (the paper's and Magenta's form, not per dimension).
beta and the scheduled-sampling rate follow `optimizer.iterations`; evaluation decodes
free-running (every step fed its own argmax) at the final beta, and also reports teacher-forced accuracy.
"""
from __future__ import annotations

import math
from typing import Any

import keras
import tensorflow as tf

from zoo.families.musicvae.melody_encoding import NUM_CLASSES
from zoo.families.musicvae.vae_decoder import MelodyDecoder, torch_uniform
from zoo.layers.lstm import LSTM

SOS = NUM_CLASSES  # the decoder's start input: one past the 90 melody classes


def beta_at(step, settings: dict[str, float]):
    """symusic's beta: min(1 + start - rate^step, end), rate = exp(ln(1 + start - end) / duration)."""
    start, end, duration = settings["start_beta"], settings["end_beta"], settings["duration"]
    step = tf.cast(step, tf.float32)
    if duration <= 0 or start >= end:
        return tf.constant(end, tf.float32) + 0.0 * step
    log_rate = math.log(1.0 + start - end) / duration
    return tf.minimum(1.0 + start - tf.exp(log_rate * step), end)


def sampling_rate_at(step, settings: dict[str, Any]):
    """Probability of feeding back the prediction: `constant` rate, or Magenta's inverse sigmoid 1 - k/(k + exp(step/k))."""
    step = tf.cast(step, tf.float32)
    rate = float(settings["rate"])
    if settings["schedule"] == "constant":
        return tf.constant(rate, tf.float32) + 0.0 * step
    return 1.0 - rate / (rate + tf.exp(tf.minimum(step / rate, 80.0)))


@keras.saving.register_keras_serializable(package="zoo")
class MusicVAEModel(keras.Model):
    """Melody classes [B, T] -> teacher-forced logits [B, T, 90] (z = posterior mean unless training).

    Args:
        model_config: dict, the normalised config of zoo.families.musicvae.music_vae (`vae_config`): z_size,
            encoder_params, decoder (MelodyDecoder arguments), feedback ('greedy' | 'sample'),
            feedback_temperature, free_bits, beta_settings, sampling_settings.
    """

    def __init__(self, model_config: dict[str, Any], **kwargs):
        super().__init__(**kwargs)
        self.model_config = model_config
        enc = model_config["encoder_params"]
        self.seq_len = model_config["decoder"]["seq_len"]
        self.z_size = model_config["z_size"]
        self.encoder_embedding = keras.layers.Embedding(
            NUM_CLASSES, enc["embed_size"], embeddings_initializer=keras.initializers.RandomNormal(0.0, 1.0),
            name="encoder_embedding")
        self.encoder_lstms = []
        for i in range(enc["n_layers"]):
            last = i == enc["n_layers"] - 1
            lstm = LSTM(
                enc["hidden_size"], return_sequences=not last, return_state=last, unit_forget_bias=False,
                kernel_initializer=torch_uniform(enc["hidden_size"]),
                recurrent_initializer=torch_uniform(enc["hidden_size"]),
                bias_initializer=torch_uniform(enc["hidden_size"]))
            self.encoder_lstms.append(keras.layers.Bidirectional(lstm, name=f"encoder_bilstm_{i}"))
        fan_in = 2 * enc["hidden_size"]
        dense = dict(kernel_initializer=keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform"),
                     bias_initializer=torch_uniform(fan_in))
        self.mu_layer = keras.layers.Dense(self.z_size, name="mu", **dense)
        self.logvar_layer = keras.layers.Dense(self.z_size, name="logvar", **dense)
        self.decoder = MelodyDecoder(NUM_CLASSES, z_size=self.z_size, name="decoder", **model_config["decoder"])
        self.seed_generator = keras.random.SeedGenerator(0)
        names = ["loss", "r_loss", "kl", "kl_loss", "beta", "sampling", "accuracy", "tf_accuracy"]
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}

    def build(self, input_shape=None):
        self.call(tf.zeros([1, self.seq_len], tf.int32))
        self.built = True

    @property
    def metrics(self):
        return list(self.trackers.values())

    # ---------------------------------------------------------------- forward passes
    def encode(self, melody, training=False):
        """Melody classes [B, T] -> (mu, logvar) [B, Z] float32."""
        x = self.encoder_embedding(melody)
        for lstm in self.encoder_lstms[:-1]:
            x = lstm(x, training=training)
        # Final states of both directions: forward after x_{T-1}, backward after x_0 (Magenta; §9).
        _, forward_h, _, backward_h, _ = self.encoder_lstms[-1](x, training=training)
        summary = tf.concat([forward_h, backward_h], axis=-1)
        return tf.cast(self.mu_layer(summary), tf.float32), tf.cast(self.logvar_layer(summary), tf.float32)

    def decode_logits(self, z, melody, sampling_rate, temperature, seed=None):
        """Decoder logits [B, T, 90] and fed-back predictions for targets `melody` [B, T].

        `sampling_rate`: chance per example and step of feeding the previous prediction (0: teacher
        forcing, 1: free-running). `seed`: a stateless seed [2]; None draws from the model's SeedGenerator.
        """
        batch = tf.shape(melody)[0]
        inputs = tf.concat([tf.fill([batch, 1], SOS), melody[:, :-1]], axis=1)
        shape = [batch, self.seq_len]
        if seed is None:
            uniform = keras.random.uniform(shape, seed=self.seed_generator)
            noise_u = keras.random.uniform(shape + [NUM_CLASSES], minval=1e-6, maxval=1.0, seed=self.seed_generator)
        else:
            uniform = tf.random.stateless_uniform(shape, seed)
            noise_u = tf.random.stateless_uniform(shape + [NUM_CLASSES], seed + 1, minval=1e-6, maxval=1.0)
        gumbel = -tf.math.log(-tf.math.log(noise_u))
        coins = uniform < sampling_rate
        return self.decoder(z, inputs, coins, gumbel, temperature=temperature)

    def generate(self, z, temperature, seed):
        """Decodes z [B, Z] from SOS alone (every step fed back): melody classes int32 [B, T]."""
        batch = tf.shape(z)[0]
        inputs = tf.fill([batch, self.seq_len], SOS)
        shape = [batch, self.seq_len]
        noise_u = tf.random.stateless_uniform(shape + [NUM_CLASSES], seed, minval=1e-6, maxval=1.0)
        gumbel = -tf.math.log(-tf.math.log(noise_u))
        _, predictions = self.decoder(z, inputs, tf.ones(shape, tf.bool), gumbel, temperature=temperature)
        return predictions

    def call(self, melody, training=False):
        mu, logvar = self.encode(melody, training=training)
        z = mu
        if training:
            z = mu + tf.exp(0.5 * logvar) * keras.random.normal(tf.shape(mu), seed=self.seed_generator)
        logits, _ = self.decode_logits(z, melody, 0.0, 0.0)
        return logits

    # ---------------------------------------------------------------- objective
    def elbo_terms(self, melody, mu, logvar, logits):
        """Per-example summed cross-entropy, KL, and per-token correctness."""
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=melody, logits=logits)
        kl = -0.5 * tf.reduce_sum(1.0 + logvar - tf.square(mu) - tf.exp(logvar), axis=-1)
        correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), melody), tf.float32)
        return tf.reduce_sum(ce, axis=-1), kl, correct

    def _elbo(self, melody, sampling_rate, beta, training, temperature):
        mu, logvar = self.encode(melody, training=training)
        eps = keras.random.normal(tf.shape(mu), seed=self.seed_generator)
        z = mu + tf.exp(0.5 * logvar) * eps
        logits, _ = self.decode_logits(z, melody, sampling_rate, temperature)
        r_sum, kl, correct = self.elbo_terms(melody, mu, logvar, logits)
        free_nats = self.model_config["free_bits"] * math.log(2.0)
        kl_loss = tf.reduce_mean(tf.maximum(kl - free_nats, 0.0))
        r_loss = tf.reduce_mean(r_sum)
        return {"loss": r_loss + beta * kl_loss, "r_loss": r_loss, "kl": tf.reduce_mean(kl), "kl_loss": kl_loss,
                "beta": beta, "sampling": sampling_rate, "accuracy": tf.reduce_mean(correct)}, z

    def _update(self, values):
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: self.trackers[name].result() for name in values}

    def train_step(self, data):
        melody = tf.cast(data, tf.int32)
        step = self.optimizer.iterations
        beta = beta_at(step, self.model_config["beta_settings"])
        rate = sampling_rate_at(step, self.model_config["sampling_settings"])
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            values, _ = self._elbo(melody, rate, beta, True, self.model_config["feedback_temperature"])
            scaled = self.optimizer.scale_loss(values["loss"] / replicas)
        grads = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        return self._update(values)

    def test_step(self, data):
        melody = tf.cast(data, tf.int32)
        beta = tf.constant(self.model_config["beta_settings"]["end_beta"], tf.float32)
        values, z = self._elbo(melody, tf.constant(1.0), beta, False, 0.0)
        teacher_logits, _ = self.decode_logits(z, melody, 0.0, 0.0)
        values["tf_accuracy"] = tf.reduce_mean(tf.cast(
            tf.equal(tf.argmax(teacher_logits, -1, output_type=tf.int32), melody), tf.float32))
        return self._update(values)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "model_config": self.model_config}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
