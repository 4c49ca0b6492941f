"""MechanicalBach's GAN (`-m gan`): a DCGAN-style generator and discriminator on music "images".

Data (`-d`):
    pianoroll (default)  samples of `bars_per_sample` bars cut from each piece's piano-roll, one
                         bar apart: float32 [N, steps, pitches, 1] (see zoo/encodings/pianoroll.py).
    numeric              the seed's one-hot windows of `-s/--seq_len` tokens, stride 1, over the
                         joined token stream: [N, seq_len, vocab, 1].
Validation windows come from the validation split (the seed copied them from training data).

Networks (specs/mechanicalbach.md §4.3), with the seed's flags:
    generator      z ~ N(0, I) [latent] -> Dense(h0·w0·starting_channels, act) -> reshape
                   -> num_hidden_conv_layers × Conv2DTranspose(hidden_channels, act): 4×4 stride 2
                   for the first u layers, 2×2 stride 1 after -> Conv2D(1, 3×3, sigmoid)
    discriminator  Conv2D(hidden_channels, 3×3, act) -> num_hidden_conv_layers × Conv2D(hidden_channels,
                   3×3, act; stride 2 for the first u) each with Dropout(p) if set -> flatten
                   -> (num_dense_layers - 1) × Dense(dense_hidden_size, act) -> Dense(1) logit
Fixes and changes (each with its reason):
* the first discriminator convolution applies the activation (the seed's had none); defaults are
  binary cross-entropy and relu (the seed's CLI gave sparse CCE and a linear activation), and
  DCGAN's learning rate 2e-4 (Adam's default 1e-3 let the discriminator win outright here);
* the seed upsampled u = min(v2(L), v2(V), layers) times, so an odd vocabulary meant no
  upsampling and a Dense layer L·V·64 units wide; here u = layers (at most log2 of the smaller
  side) and the generator draws a grid rounded up to a multiple of 2^u, cropped to the sample;
* the discriminator's stride-2 layers mirror the generator's (the seed's stride-1 stack flattened
  T·P·256 features into its output unit);
* `--gan_binarize sample` (default): the discriminator judges generated samples drawn from the
  generator's probabilities, as real data is binary, with straight-through gradients (`GAN.binarize`);
  fed the probabilities (the seed's `none`), it told real from fake by their softness alone, won,
  and the generator fell silent;
* `--gan_spectral_norm 1` (default): spectral normalisation of the discriminator's layers; without
  it a 32-channel GAN on the 289 training chorales collapsed (silence, then one or two pitches)
  within 300 steps; with it the same run kept moving toward the data's statistics.

Training (`GAN.train_step`, one call per batch, as the seed's loop): one discriminator step on
real (label 1) and generated (label 0) samples, then one generator step on fresh noise with label
1 (the non-saturating loss). `-l binary_crossentropy` (default) or `-l mean_squared_error`
(least-squares GAN). Both networks use `-o`/`--learning_rate`, each with its own optimizer; each
loss is the per-replica mean divided by the number of replicas, scaled by its optimizer's
`scale_loss` (mixed_float16).

Logged: `g_loss`, the generator's loss against the current discriminator (-log D(G(z)) for BCE,
(D(G(z)) - 1)² for least squares); `d_loss`, the discriminator's on real + generated samples;
`d_real_accuracy` / `d_fake_accuracy`; and `loss`, which is NOT an adversarial loss: the pitch
profile gap, the mean over pitches of |rate at which the pitch sounds in the real batch - the
generator's expected rate| (0 = the generator uses every pitch as often as the data). Adversarial
losses say who is winning, not how good the samples are (the generator's is lowest when the
discriminator is weakest, e.g. untrained), so `val_loss`, which picks best.keras, is this gap
measured against the validation split. It is non-finite whenever an adversarial loss is.
"""
from __future__ import annotations

import argparse
import math
import weakref
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from zoo.data.dataset import TrainingData, token_windows
from zoo.encodings.base import Encoding
from zoo.encodings.numeric import NUM_RESERVED
from zoo.errors import DataError, UsageError
from zoo.core.model_type import ModelType
from zoo.core.registry import register_model_type
from zoo.music.io import write_pieces
from zoo.music.score import Score
from zoo.core.optimizers import make_optimizer

LOSSES = ("binary_crossentropy", "mean_squared_error")
BINARIZE = ("none", "bernoulli", "categorical")
DEFAULT_BARS = 8
DEFAULT_TOKENS = 200


def upsamplings(sample_shape: tuple[int, int], layers: int) -> int:
    """Stride-2 layers: one per hidden conv layer, as long as 2^u fits in the smaller side."""
    return max(0, min(layers, int(math.floor(math.log2(max(1, min(sample_shape)))))))


@keras.saving.register_keras_serializable(package="zoo")
class GAN(keras.Model):
    """Generator + discriminator trained adversarially; calling the model runs the generator.

    `call(z)`: latents float [B, latent_dims] -> note probabilities float32 [B, T, P, 1].
    `discriminator(x)`: [B, T, P, 1] -> float32 logits [B, 1].

    Args:
        sample_shape: (T, P), the shape of one sample (time steps, pitches or vocabulary).
        latent_dims: int = 100. Size of z.
        num_dense_layers: int = 1. Dense layers of the discriminator's head, the output unit included.
        dense_hidden_size: int = 1000. Units of its hidden dense layers.
        starting_num_channels: int = 64. Channels of the generator's first (reshaped) grid.
        activation: str = "relu". Activation of every hidden layer.
        num_hidden_conv_layers: int = 3. Hidden (transposed) convolutions in each network.
        hidden_conv_num_channels: int = 256. Their channels.
        dropout_prob: float = 0.0. Dropout after each discriminator convolution.
        loss_function: str = "binary_crossentropy" or "mean_squared_error".
        binarize: str = "none". What the discriminator sees of a generated sample (see `binarize`).
        spectral_norm: bool = False. Spectral normalisation of every discriminator layer (Miyato et
            al. 2018), which keeps the discriminator from overpowering the generator.
        seed: int = 0. Seed of the noise drawn in training.
    """

    def __init__(self, sample_shape, latent_dims: int = 100, num_dense_layers: int = 1, dense_hidden_size: int = 1000,
                 starting_num_channels: int = 64, activation: str = "relu", num_hidden_conv_layers: int = 3,
                 hidden_conv_num_channels: int = 256, dropout_prob: float = 0.0,
                 loss_function: str = "binary_crossentropy", binarize: str = "none", spectral_norm: bool = False,
                 seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.sample_shape = (int(sample_shape[0]), int(sample_shape[1]))
        self.latent_dims, self.num_dense_layers, self.dense_hidden_size = int(latent_dims), int(num_dense_layers), int(dense_hidden_size)
        self.starting_num_channels, self.activation = int(starting_num_channels), activation
        self.num_hidden_conv_layers, self.hidden_conv_num_channels = int(num_hidden_conv_layers), int(hidden_conv_num_channels)
        self.dropout_prob, self.loss_function, self.seed = float(dropout_prob or 0.0), loss_function, int(seed)
        if binarize not in BINARIZE:
            raise ValueError(f"binarize must be one of {BINARIZE}, got {binarize!r}")
        self.binarize_mode = binarize
        self.spectral_norm = bool(spectral_norm)
        self.generator = self._make_generator()
        self.discriminator = self._make_discriminator()
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.d_optimizer = None
        self.trackers = {name: keras.metrics.Mean(name=name) for name in
                         ("loss", "g_loss", "d_loss", "d_real_accuracy", "d_fake_accuracy")}

    def _make_generator(self) -> keras.Sequential:
        height, width = self.sample_shape
        u = upsamplings(self.sample_shape, self.num_hidden_conv_layers)
        h0, w0 = -(-height // 2**u), -(-width // 2**u)
        layers = [keras.layers.Dense(h0 * w0 * self.starting_num_channels, activation=self.activation, name="project"),
                  keras.layers.Reshape((h0, w0, self.starting_num_channels), name="grid")]
        for i in range(self.num_hidden_conv_layers):
            kernel, stride = (4, 2) if i < u else (2, 1)
            layers.append(keras.layers.Conv2DTranspose(self.hidden_conv_num_channels, kernel, strides=stride,
                                                       padding="same", activation=self.activation, name=f"deconv_{i}"))
        layers.append(keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid", dtype="float32", name="notes"))
        if (h0 * 2**u, w0 * 2**u) != (height, width):
            layers.append(keras.layers.Cropping2D(((0, h0 * 2**u - height), (0, w0 * 2**u - width)),
                                                  dtype="float32", name="crop"))
        return keras.Sequential(layers, name="generator")

    def _make_discriminator(self) -> keras.Sequential:
        u = upsamplings(self.sample_shape, self.num_hidden_conv_layers)
        conv = dict(padding="same", activation=self.activation)
        layers = [keras.layers.Conv2D(self.hidden_conv_num_channels, 3, name="conv_in", **conv)]
        for i in range(self.num_hidden_conv_layers):
            layers.append(keras.layers.Conv2D(self.hidden_conv_num_channels, 3, strides=2 if i < u else 1,
                                              name=f"conv_{i}", **conv))
            if self.dropout_prob:
                layers.append(keras.layers.Dropout(self.dropout_prob, name=f"dropout_{i}"))
        layers.append(keras.layers.Flatten(name="flatten"))
        for i in range(self.num_dense_layers - 1):
            layers.append(keras.layers.Dense(self.dense_hidden_size, activation=self.activation, name=f"dense_{i}"))
        layers.append(keras.layers.Dense(1, dtype="float32", name="logit"))
        if self.spectral_norm:
            # The wrapper computes in its own policy: give it the layer's, so the logit stays float32.
            layers = [keras.layers.SpectralNormalization(layer, dtype=layer.dtype_policy, name=f"sn_{layer.name}")
                      if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)) else layer for layer in layers]
        return keras.Sequential(layers, name="discriminator")

    def build(self, input_shape=None):
        self.generator.build((None, self.latent_dims))
        self.discriminator.build((None, *self.sample_shape, 1))
        self.built = True

    def call(self, z, training=False):
        return self.generator(z, training=training)

    def compile(self, optimizer="adam", d_optimizer=None, **kwargs):
        """`optimizer` trains the generator, `d_optimizer` (default: a fresh copy of it) the discriminator.

        Under mixed_float16 both are wrapped in a LossScaleOptimizer (Keras wraps `optimizer` itself).
        """
        optimizer = keras.optimizers.get(optimizer)
        if d_optimizer is None:
            d_optimizer = optimizer.__class__.from_config(optimizer.get_config())
        super().compile(optimizer=optimizer, **kwargs)
        if self.dtype_policy.name == "mixed_float16" and not isinstance(d_optimizer, keras.optimizers.LossScaleOptimizer):
            d_optimizer = keras.optimizers.LossScaleOptimizer(d_optimizer)
        self.d_optimizer = d_optimizer

    def build_optimizers(self) -> None:
        """Creates both optimizers' variables (before loading a resume backup into them)."""
        self.optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)

    @property
    def metrics(self):
        return list(self.trackers.values())

    # ------------------------------------------------------------ objective
    def _d_loss(self, real_logits, fake_logits):
        if self.loss_function == "mean_squared_error":
            return ops.mean(ops.square(real_logits - 1.0)) + ops.mean(ops.square(fake_logits))
        return (ops.mean(ops.binary_crossentropy(ops.ones_like(real_logits), real_logits, from_logits=True))
                + ops.mean(ops.binary_crossentropy(ops.zeros_like(fake_logits), fake_logits, from_logits=True)))

    def _g_loss(self, fake_logits):
        if self.loss_function == "mean_squared_error":
            return ops.mean(ops.square(fake_logits - 1.0))
        return ops.mean(ops.binary_crossentropy(ops.ones_like(fake_logits), fake_logits, from_logits=True))

    def binarize(self, probs):
        """A generated sample as the discriminator sees it.

        "none": the probabilities themselves (the seed). "bernoulli": each cell drawn 0/1 with its
        probability; "categorical": one cell per row drawn in proportion to the row's probabilities
        (one-hot, as real numeric windows). Both use the straight-through estimator (forward: the
        draw; backward: the gradient of the probabilities), after BinaryMuseGAN's stochastic binary
        neurons (Dong & Yang 2018), so the discriminator judges binary samples like the data, and
        like what generate.py writes, instead of telling real from fake by softness alone.
        """
        if self.binarize_mode == "none":
            return probs
        if self.binarize_mode == "bernoulli":
            drawn = ops.cast(keras.random.uniform(ops.shape(probs), seed=self.seed_generator) < probs, probs.dtype)
        else:
            width = self.sample_shape[1]
            rows = ops.reshape(ops.log(ops.clip(probs, 1e-6, 1.0)), (-1, width))
            picked = keras.random.categorical(rows, 1, seed=self.seed_generator)[:, 0]
            drawn = ops.reshape(ops.one_hot(picked, width, dtype=probs.dtype), ops.shape(probs))
        return probs + ops.stop_gradient(drawn - probs)

    def _noise(self, batch):
        return keras.random.normal((batch, self.latent_dims), seed=self.seed_generator)

    def _track(self, g_loss, d_loss, real_logits, fake_logits, real, fake):
        # Per-pitch activation rate over batch and time [P], real against the generator's expected one.
        profile_gap = ops.mean(ops.abs(ops.mean(real, axis=(0, 1, 3)) - ops.mean(fake, axis=(0, 1, 3))))
        # "+ 0 * ..." carries a non-finite adversarial loss into `loss`, where the NaN guard looks.
        self.trackers["loss"].update_state(profile_gap + 0.0 * (g_loss + d_loss))
        self.trackers["g_loss"].update_state(g_loss)
        self.trackers["d_loss"].update_state(d_loss)
        self.trackers["d_real_accuracy"].update_state(ops.mean(ops.cast(real_logits > 0, "float32")))
        self.trackers["d_fake_accuracy"].update_state(ops.mean(ops.cast(fake_logits <= 0, "float32")))
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def train_step(self, data):
        real = ops.cast(data, "float32")
        batch = ops.shape(real)[0]
        # Per-replica means / replicas: the gradients summed over replicas are those of the global mean.
        replicas = self.distribute_strategy.num_replicas_in_sync
        d_variables = self.discriminator.trainable_variables
        g_variables = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            fake = ops.stop_gradient(self.generator(self._noise(batch), training=True))
            real_logits = self.discriminator(real, training=True)
            fake_logits = self.discriminator(self.binarize(fake), training=True)
            d_loss = self._d_loss(real_logits, fake_logits)
            scaled = self.d_optimizer.scale_loss(d_loss / replicas)
        self.d_optimizer.apply_gradients(zip(tape.gradient(scaled, d_variables), d_variables))
        with tf.GradientTape() as tape:
            fresh = self.generator(self._noise(batch), training=True)
            g_loss = self._g_loss(self.discriminator(self.binarize(fresh), training=True))
            scaled = self.optimizer.scale_loss(g_loss / replicas)
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, g_variables), g_variables))
        return self._track(g_loss, d_loss, real_logits, fake_logits, real, fake)

    def test_step(self, data):
        real = ops.cast(data, "float32")
        fake = self.generator(self._noise(ops.shape(real)[0]), training=False)
        real_logits = self.discriminator(real, training=False)
        fake_logits = self.discriminator(self.binarize(fake), training=False)
        return self._track(self._g_loss(fake_logits), self._d_loss(real_logits, fake_logits),
                           real_logits, fake_logits, real, fake)

    def get_config(self):
        return {**super().get_config(), "sample_shape": list(self.sample_shape), "latent_dims": self.latent_dims,
                "num_dense_layers": self.num_dense_layers, "dense_hidden_size": self.dense_hidden_size,
                "starting_num_channels": self.starting_num_channels, "activation": self.activation,
                "num_hidden_conv_layers": self.num_hidden_conv_layers,
                "hidden_conv_num_channels": self.hidden_conv_num_channels, "dropout_prob": self.dropout_prob,
                "loss_function": self.loss_function, "binarize": self.binarize_mode,
                "spectral_norm": self.spectral_norm, "seed": self.seed}


# Sampling modes of `GANSampler.sample`.
THRESHOLD, BERNOULLI, CATEGORICAL, ARGMAX = 0, 1, 2, 3


class GANSampler(tf.Module):
    """The compiled sampling function of a trained generator (traced once per sampler).

    `sample(num_pieces, windows, seed, temperature, threshold, mode, latent_step)` -> float32
    [num_pieces, windows·T, P] of 0/1: each piece is `windows` generated samples in time order.
    Latents follow z_k = sqrt(1 - a²)·z_{k-1} + a·ε_k with a = `latent_step` (1: independent
    windows, as the seed; smaller: neighbouring windows from nearby latents). Modes: THRESHOLD
    (p > threshold), BERNOULLI (p with temperature on its logit), CATEGORICAL (one column per
    row, drawn ∝ p^(1/temperature), the seed's token sampling), ARGMAX (the likeliest column).
    Columns below `first_column` (the numeric encoding's PAD, EOS, UNK) are never drawn in the
    row modes.
    """

    def __init__(self, model: GAN, first_column: int = 0):
        super().__init__(name="gan_sampler")
        self.model = model  # tracked, so its variables export with the endpoint
        self.first_column = first_column
        self.sample = tf.function(self._sample, input_signature=[
            tf.TensorSpec([], tf.int32, name="num_pieces"), tf.TensorSpec([], tf.int32, name="windows"),
            tf.TensorSpec([], tf.int32, name="seed"), tf.TensorSpec([], tf.float32, name="temperature"),
            tf.TensorSpec([], tf.float32, name="threshold"), tf.TensorSpec([], tf.int32, name="mode"),
            tf.TensorSpec([], tf.float32, name="latent_step")])

    def _sample(self, num_pieces, windows, seed, temperature, threshold, mode, latent_step):
        latent = self.model.latent_dims
        steps, width = self.model.sample_shape
        noise = tf.random.stateless_normal(tf.stack([windows, num_pieces, latent]), seed=tf.stack([seed, 0]))
        keep = tf.sqrt(tf.maximum(1.0 - tf.square(latent_step), 0.0))
        z = tf.scan(lambda previous, k_eps: tf.where(k_eps[0] == 0, k_eps[1], keep * previous + latent_step * k_eps[1]),
                    (tf.range(windows), noise), initializer=tf.zeros_like(noise[0]))  # [windows, pieces, latent]
        z = tf.reshape(tf.transpose(z, [1, 0, 2]), [-1, latent])
        probs = tf.cast(self.model(z, training=False), tf.float32)[..., 0]
        probs = tf.reshape(tf.clip_by_value(probs, 1e-6, 1.0 - 1e-6), [num_pieces, windows * steps, width])
        temperature = tf.maximum(temperature, 1e-3)
        logits = (tf.math.log(probs) - tf.math.log1p(-probs)) / temperature
        uniform = tf.random.stateless_uniform(tf.shape(probs), seed=tf.stack([seed, 1]))
        bernoulli = tf.cast(uniform < tf.sigmoid(logits), tf.float32)
        thresholded = tf.cast(probs > threshold, tf.float32)
        allowed = tf.range(width) >= self.first_column
        row_logits = tf.where(allowed, tf.math.log(probs) / temperature, -1e9)
        flat = tf.reshape(row_logits, [-1, width])
        drawn = tf.random.stateless_categorical(flat, 1, seed=tf.stack([seed, 2]))[:, 0]
        best = tf.argmax(flat, axis=-1)
        picked = tf.where(mode == CATEGORICAL, drawn, best)
        one_hot = tf.reshape(tf.one_hot(picked, width), tf.shape(probs))
        return tf.switch_case(mode, [lambda: thresholded, lambda: bernoulli, lambda: one_hot, lambda: one_hot])


_SAMPLERS: "weakref.WeakKeyDictionary[GAN, GANSampler]" = weakref.WeakKeyDictionary()


def sampler_of(model: GAN, encoding: Encoding) -> GANSampler:
    """The model's sampler, created (and traced) once per model."""
    if model not in _SAMPLERS:
        _SAMPLERS[model] = GANSampler(model, NUM_RESERVED if encoding.name == "numeric" else 0)
    return _SAMPLERS[model]


def bar_windows(pieces: list[np.ndarray], steps: int, stride: int, width: int) -> np.ndarray:
    """uint8 [N, steps, width]: every window of `steps` rows, `stride` apart, of each piece; silent ones dropped."""
    windows = []
    for piece in pieces:
        piece = np.asarray(piece)
        if piece.ndim != 2 or piece.shape[1] != width:
            raise DataError(f"a piano-roll piece has shape {piece.shape}, expected [time, {width}]")
        if len(piece) >= steps:
            view = np.lib.stride_tricks.sliding_window_view(piece, steps, axis=0)[::stride]  # [n, width, steps]
            windows.append(view.transpose(0, 2, 1).astype(np.uint8))
    if not windows:
        raise DataError(f"no piece is {steps} steps long: use fewer --bars_per_sample when preparing, or longer pieces")
    windows = np.concatenate(windows)
    return windows[windows.reshape(len(windows), -1).any(axis=1)]


@register_model_type
class GANComposer(ModelType):
    name = "gan"
    default_encoding = "pianoroll"
    encodings = ("pianoroll", "numeric")
    loss_functions = LOSSES
    # The seed's CLI default (sparse CCE) does not apply to a GAN; DCGAN's learning rate (Radford et
    # al. 2016: Adam's default 1e-3 made its discriminator win); training samples are 8 bars.
    flag_defaults = {"loss_function": "binary_crossentropy", "learning_rate": 2e-4, "sample_length": DEFAULT_BARS}

    @classmethod
    def add_arguments(cls, parser: argparse._ArgumentGroup) -> None:
        parser.add_argument("--gan_latent_dims", type=int, default=100, help="size of the latent space")
        parser.add_argument("--gan_num_dense_layers", type=int, default=1,
                            help="dense layers of the discriminator's head, its output unit included")
        parser.add_argument("--gan_dense_hidden_size", type=int, default=1000, help="units of its hidden dense layers")
        parser.add_argument("--gan_starting_num_channels", type=int, default=64,
                            help="channels of the generator's first grid")
        parser.add_argument("--gan_activation", default="relu", help="activation of the hidden layers (e.g. relu, leaky_relu)")
        parser.add_argument("--gan_num_hidden_conv_layers", type=int, default=3,
                            help="hidden convolutional layers of each network")
        parser.add_argument("--gan_hidden_conv_num_channels", type=int, default=256,
                            help="channels of the hidden convolutional layers")
        parser.add_argument("--gan_dropout_prob", type=float, default=None,
                            help="dropout after each discriminator convolution (default: none)")
        parser.add_argument("--gan_binarize", choices=["sample", "none"], default="sample",
                            help="what the discriminator sees of a generated sample: sample: notes drawn from "
                                 "the generator's probabilities (Bernoulli for pianoroll, one token a step for "
                                 "numeric) with straight-through gradients; none: the probabilities (the seed's)")
        parser.add_argument("--gan_spectral_norm", type=int, choices=[0, 1], default=1,
                            help="1: spectral normalisation of the discriminator's layers (stops it from winning "
                                 "outright and the generator from collapsing); 0: plain layers (the seed's)")

    @classmethod
    def check_args(cls, args: dict[str, Any]) -> dict[str, Any]:
        for flag in ("gan_latent_dims", "gan_num_dense_layers", "gan_dense_hidden_size", "gan_starting_num_channels",
                     "gan_hidden_conv_num_channels"):
            if args[flag] < 1:
                raise UsageError(f"--{flag} must be at least 1 (got {args[flag]})")
        if args["gan_num_hidden_conv_layers"] < 0:
            raise UsageError(f"--gan_num_hidden_conv_layers must be 0 or more (got {args['gan_num_hidden_conv_layers']})")
        dropout = args.get("gan_dropout_prob")
        if dropout is not None and not 0.0 <= dropout < 1.0:
            raise UsageError(f"--gan_dropout_prob must be in [0, 1) (got {dropout})")
        try:
            keras.activations.get(args["gan_activation"])
        except (ValueError, TypeError):
            raise UsageError(f"unknown --gan_activation '{args['gan_activation']}' (try relu, leaky_relu, elu, tanh)") from None
        if args["loss_function"] not in LOSSES:
            raise UsageError(f"loss '{args['loss_function']}' does not apply to model type 'gan' (it takes: {', '.join(LOSSES)})")
        return args

    # ------------------------------------------------------------ training
    @classmethod
    def sample_shape(cls, config: dict[str, Any], encoding: Encoding) -> tuple[int, int]:
        if encoding.name == "pianoroll":
            return encoding.steps_per_sample, encoding.num_pitches
        return config["seq_len"], encoding.vocab_size

    @classmethod
    def datasets(cls, data: TrainingData, encoding: Encoding, config: dict[str, Any]):
        batch, seed = config["batch_size"], config["seed"]
        if encoding.name == "pianoroll":
            steps, stride = encoding.steps_per_sample, encoding.steps_per_bar
            train = bar_windows(data.train.pieces, steps, stride, encoding.num_pitches)
            valid = bar_windows(data.valid.pieces, steps, stride, encoding.num_pitches)

            def to_image(windows):
                return tf.cast(windows, tf.float32)[..., None]

            description = f"{len(train)} samples of {encoding.bars_per_sample} bars ({steps} x {encoding.num_pitches})"
        else:
            # seq_len tokens a window, every start position (the seed's stride 1).
            train = token_windows(data.train.pieces, config["seq_len"] - 1, stride=1)
            valid = token_windows(data.valid.pieces, config["seq_len"] - 1, stride=1)
            vocab = encoding.vocab_size

            def to_image(windows):
                return tf.one_hot(windows, vocab, dtype=tf.float32)[..., None]

            description = f"{len(train)} one-hot windows of {config['seq_len']} x {vocab}"

        def pipeline(windows, shuffle):
            dataset = tf.data.Dataset.from_tensor_slices(windows)
            if shuffle:
                dataset = dataset.shuffle(len(windows), seed=seed, reshuffle_each_iteration=True)
            return dataset.batch(batch).map(to_image, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

        return pipeline(train, True), pipeline(valid, False), description

    @classmethod
    def binarize_mode(cls, config: dict[str, Any], encoding: Encoding) -> str:
        if config.get("gan_binarize", "sample") == "none":
            return "none"
        return "bernoulli" if encoding.name == "pianoroll" else "categorical"

    @classmethod
    def build(cls, config: dict[str, Any], encoding: Encoding) -> GAN:
        model = GAN(cls.sample_shape(config, encoding), latent_dims=config["gan_latent_dims"],
                    num_dense_layers=config["gan_num_dense_layers"], dense_hidden_size=config["gan_dense_hidden_size"],
                    starting_num_channels=config["gan_starting_num_channels"], activation=config["gan_activation"],
                    num_hidden_conv_layers=config["gan_num_hidden_conv_layers"],
                    hidden_conv_num_channels=config["gan_hidden_conv_num_channels"],
                    dropout_prob=config.get("gan_dropout_prob") or 0.0, loss_function=config["loss_function"],
                    binarize=cls.binarize_mode(config, encoding), spectral_norm=bool(config.get("gan_spectral_norm", 1)),
                    seed=config["seed"], name="gan")
        model.build((None, config["gan_latent_dims"]))
        return model

    @classmethod
    def compile(cls, model: GAN, config: dict[str, Any]) -> None:
        model.compile(optimizer=make_optimizer(config["optimizer"], config.get("learning_rate")),
                      d_optimizer=make_optimizer(config["optimizer"], config.get("learning_rate")),
                      jit_compile=config.get("jit_compile", "auto"))

    @classmethod
    def build_optimizer_state(cls, model: GAN) -> None:
        model.build_optimizers()

    # ------------------------------------------------------------ generation
    @classmethod
    def sample_rolls(cls, model: GAN, encoding: Encoding, num_pieces: int, length: int | None, seed: int,
                     sampling: str | None = None, temperature: float = 1.0, threshold: float = 0.5,
                     latent_step: float = 1.0) -> np.ndarray:
        """0/1 float32 [num_pieces, steps, P]: `length` bars (pianoroll) or tokens (numeric), rounded up to whole samples."""
        steps = model.sample_shape[0]
        if encoding.name == "pianoroll":
            windows = -(-(length or DEFAULT_BARS) // encoding.bars_per_sample)
            mode = {"threshold": THRESHOLD, "sample": BERNOULLI}[sampling or "sample"]
        else:
            windows = -(-(length or DEFAULT_TOKENS) // steps)
            mode = {"threshold": ARGMAX, "sample": CATEGORICAL}[sampling or "sample"]
        rolls = sampler_of(model, encoding).sample(
            tf.constant(num_pieces, tf.int32), tf.constant(windows, tf.int32), tf.constant(seed, tf.int32),
            tf.constant(temperature, tf.float32), tf.constant(threshold, tf.float32), tf.constant(mode, tf.int32),
            tf.constant(latent_step, tf.float32))
        return rolls.numpy()

    @classmethod
    def decode(cls, roll: np.ndarray, encoding: Encoding) -> Score:
        if encoding.name == "pianoroll":
            return encoding.decode(roll)
        return encoding.decode(roll.argmax(axis=-1).astype(np.int32))

    @classmethod
    def sample_scores(cls, model, config, encoding, num_outputs, seed, length=None) -> list[Score]:
        """Pieces of `length` bars (pianoroll, default 8) or tokens (numeric, default 200), default sampling."""
        rolls = cls.sample_rolls(model, encoding, num_outputs, length, seed)
        return [cls.decode(roll, encoding) for roll in rolls]

    @classmethod
    def add_generate_arguments(cls, parser) -> None:
        parser.add_argument("--length", "--num_bars", dest="length", type=int, default=None,
                            help=f"bars (pianoroll runs, default {DEFAULT_BARS}) or tokens (numeric runs, default "
                                 f"{DEFAULT_TOKENS}) per piece, rounded up to whole generated samples")
        parser.add_argument("--sampling", choices=["threshold", "sample"], default=None,
                            help="threshold: notes where p > --threshold (pianoroll) or the likeliest token "
                                 "(numeric); sample (default): Bernoulli notes (pianoroll) or a token drawn by p "
                                 "(numeric, the seed's), as the discriminator saw them in training")
        parser.add_argument("--threshold", type=float, default=0.5, help="note probability above which a note sounds")
        parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (sample mode)")
        parser.add_argument("--latent_step", type=float, default=1.0,
                            help="1: independent latents for consecutive samples (the seed's); smaller values "
                                 "walk the latent space so neighbouring samples are related")

    @classmethod
    def generate(cls, args, run, config, encoding, model) -> list[Path]:
        if args["length"] is not None and args["length"] < 1:
            raise UsageError(f"--length must be at least 1 (got {args['length']})")
        if not 0.0 < args["threshold"] < 1.0:
            raise UsageError(f"--threshold must be between 0 and 1 (got {args['threshold']})")
        if args["temperature"] <= 0:
            raise UsageError(f"--temperature must be positive (got {args['temperature']})")
        if not 0.0 < args["latent_step"] <= 1.0:
            raise UsageError(f"--latent_step must be in (0, 1] (got {args['latent_step']})")
        rolls = cls.sample_rolls(model, encoding, args["num_outputs"], args["length"], args["seed"], args["sampling"],
                                 args["temperature"], args["threshold"], args["latent_step"])
        return write_pieces((cls.decode(roll, encoding) for roll in rolls), args["output_dir"],
                            f"{run.name}-{args['seed']}")

    @classmethod
    def export_endpoints(cls, model, config) -> dict[str, Any]:
        """`serve`: latents [B, latent] -> probabilities [B, T, P, 1]; `generate`: `GANSampler.sample`."""
        serve = tf.function(lambda z: model(z, training=False),
                            input_signature=[tf.TensorSpec([None, model.latent_dims], tf.float32, name="z")])
        first_column = NUM_RESERVED if config.get("data_mode") == "numeric" else 0
        sampler = GANSampler(model, first_column)
        generate = tf.function(lambda *args: sampler.sample(*args), input_signature=sampler.sample.input_signature)
        return {"serve": serve, "generate": generate}
