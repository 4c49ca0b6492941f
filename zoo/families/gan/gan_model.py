"""The `GAN` keras.Model of `-m gan`: generator and discriminator, and the adversarial train/test steps.

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

import math

import keras
import tensorflow as tf
from keras import ops

BINARIZE = ("none", "bernoulli", "categorical")


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

    def compile(self, optimizer, d_optimizer, **kwargs):
        """`optimizer` trains the generator, `d_optimizer` (another instance: each holds its network's slots)
        the discriminator.

        Under mixed_float16 both are wrapped in a LossScaleOptimizer (Keras wraps `optimizer` itself).
        """
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
