"""The cross-modal VAE pair as one `keras.Model`: a signal VAE and a symbol VAE trained jointly.

    signal x [B, 410] --signal encoder--> q_sig(z) --signal decoder--> N(x; mean, variance)
    symbol y [B, S]   --symbol encoder--> q_sym(z) --symbol decoder--> Categorical per head (or Bernoulli)

Loss with one latent layer (specs/crossmodal.md §6.1, with the original's bugs fixed):
    L = NLL_signal + NLL_symbol + beta_1 KL(q_sig || N(0, I)) + beta_2 KL(q_sym || N(0, I)) + cross
    cross = cross_1 KL(q_sig || q_sym) + cross_2 KL(q_sym || q_sig)              (regularization "kld")
          = (cross_1 + cross_2) * sum_d (mean_sig - mean_sym)^2                  (regularization "l2")
each term summed over its dimensions and averaged over the batch. Symbolic NLLs are real
log-likelihoods (cross-entropy on logits); Gaussian heads give variances, sampled with sqrt(v).
With `adversarial`, a discriminator learns real frames from (detached) decoded means with its own
Adam(adv_lr), and the signal VAE gets `adv_weight * -log D(decoded mean)` (0 gives the original's
discriminator-only behaviour).

Hierarchy (several latent sizes, `--dims d_0 d_1 ... d_{L-1}`; spec §5.3). Each VAE is a
hierarchical VAE with bottom-up inference and a top-down generative model:
    inference   q(z_0 | x) q(z_1 | z_0) ... q(z_{L-1} | z_{L-2})        (layer l > 0 encodes z_{l-1}'s sample)
    generation  p(z_{L-1}) = N(0, I), p(z_{l-1} | z_l) Gaussian for l > 0, p(x | z_0)
Every layer l > 0 has its own encoder MLP + Gaussian posterior head and its own conditional-prior
MLP + Gaussian head (the decoder path z_l -> z_{l-1}), with the l-th `hidden` width and depth. Per
VAE the bound is exactly the ELBO of that model, estimated with one reparameterised sample per layer:
    -ELBO = NLL(x | z_0) + KL(q(z_{L-1} | z_{L-2}) || N(0, I))
            + sum_{l < L-1} [ -H(q(z_l | z_{l-1})) - log p(z_l | z_{l+1}) ]
The top layer's KL is analytic (its prior does not depend on a sample); for the layers below, the
conditional prior depends on z_{l+1}, itself drawn from z_l, so the term is the Monte-Carlo estimate
of E[log q - log p] (the log q part taken as its analytic expectation, minus the entropy: unbiased,
lower variance). The cross term and `l2` use the top layer's posteriors (the space both modalities
share); beta_1 / beta_2 weigh the whole rate term of their VAE (top KL and the conditional terms).
Choices: the spec says the original's prior KL used "only the first" layer, which with a bottom-up
hierarchy is not a bound; here the standard-normal prior sits on the top (last) layer, where the
cross term also lives, and the lower layers get learned conditional priors. With one layer all of
this reduces to the loss above, draw for draw.
Outside training, a layer's posterior is computed from the lower layers' posterior means, and
decoding from layer l walks down through the conditional priors' means to the likelihood.
"""
from __future__ import annotations

import keras
from keras import ops

from zoo.core.optimizers import make_optimizer
from zoo.families.crossmodal.crossmodal_layers import (
    Discriminator,
    GaussianHead,
    ResidualMLP,
    gaussian_entropy,
    gaussian_kl,
    gaussian_nll,
)

LOSS_TERMS = ("signal_nll", "symbol_nll", "kl_signal", "kl_symbol", "cross")


@keras.saving.register_keras_serializable(package="zoo")
class CrossModalVAE(keras.Model):
    """Signal and symbol VAEs with a shared latent size.

    Args:
        signal_dim: int, bins of a spectral frame (410).
        head_sizes: list of int, classes of each symbolic head in input order (e.g. [10, 13, 6] per instrument).
        label_type: "categorical" (softmax per head) or "binary" (one Bernoulli per input unit).
        latent_dim: int, size of both latent spaces (32), or a list of sizes, one per latent layer
            (bottom first: the hierarchy in the module docstring).
        hidden_1, num_1: int, width and depth of the signal VAE's MLPs (5000, 2), or one per latent layer.
        hidden_2, num_2: int, width and depth of the symbol VAE's MLPs (800, 2), or one per latent layer.
        beta_1, beta_2, cross_1, cross_2: float, loss weights (1, 1, 10, 0).
        regularization: "kld" or "l2", the cross term.
        adversarial: bool; adv_dim, adv_num: discriminator width and depth; adv_lr: its learning rate;
        adv_weight: weight of the signal VAE's adversarial term.
        seed: int, seed of the reparameterisation and discriminator draws.
    """

    def __init__(self, signal_dim: int = 410, head_sizes=(10, 13, 6), label_type: str = "categorical",
                 latent_dim: int | list[int] = 32, hidden_1: int | list[int] = 5000, num_1: int | list[int] = 2,
                 hidden_2: int | list[int] = 800, num_2: int | list[int] = 2,
                 beta_1: float = 1.0, beta_2: float = 1.0, cross_1: float = 10.0, cross_2: float = 0.0,
                 regularization: str = "kld", adversarial: bool = False, adv_dim: int = 500, adv_num: int = 2,
                 adv_lr: float = 1e-5, adv_weight: float = 1.0, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.signal_dim, self.head_sizes = int(signal_dim), [int(s) for s in head_sizes]
        self.symbol_dim = sum(self.head_sizes)
        self.label_type = label_type
        self.latent_dims = _as_list(latent_dim)
        self.num_latent_layers = len(self.latent_dims)
        self.hidden_1s, self.num_1s, self.hidden_2s, self.num_2s = (
            _per_layer(value, self.num_latent_layers, name)
            for value, name in ((hidden_1, "hidden_1"), (num_1, "num_1"), (hidden_2, "hidden_2"), (num_2, "num_2")))
        self.latent_dim = self.latent_dims[-1]  # the shared (top) space that encode_*/decode_* use by default
        self.hidden_1, self.num_1, self.hidden_2, self.num_2 = self.hidden_1s[0], self.num_1s[0], self.hidden_2s[0], self.num_2s[0]
        self.beta_1, self.beta_2, self.cross_1, self.cross_2 = float(beta_1), float(beta_2), float(cross_1), float(cross_2)
        self.regularization = regularization
        self.adversarial, self.adv_dim, self.adv_num = bool(adversarial), int(adv_dim), int(adv_num)
        self.adv_lr, self.adv_weight, self.seed = float(adv_lr), float(adv_weight), int(seed)

        self.signal_encoder = ResidualMLP(self.hidden_1, self.num_1, name="signal_encoder")
        self.signal_posterior = GaussianHead(self.latent_dims[0], name="signal_posterior")
        self.signal_decoder = ResidualMLP(self.hidden_1, self.num_1, name="signal_decoder")
        self.signal_likelihood = GaussianHead(self.signal_dim, name="signal_likelihood")
        self.symbol_encoder = ResidualMLP(self.hidden_2, self.num_2, name="symbol_encoder")
        self.symbol_posterior = GaussianHead(self.latent_dims[0], name="symbol_posterior")
        self.symbol_decoder = ResidualMLP(self.hidden_2, self.num_2, name="symbol_decoder")
        self.symbol_logits = keras.layers.Dense(
            self.symbol_dim, dtype="float32", name="symbol_logits",
            kernel_initializer=keras.initializers.VarianceScaling(1.0, "fan_avg", "untruncated_normal"),
            bias_initializer=keras.initializers.Constant(0.01))
        # Layers 1..L-1 of each VAE: encoder + posterior head, conditional-prior MLP + head (z_l -> z_{l-1}).
        for modality, widths, depths in (("signal", self.hidden_1s, self.num_1s),
                                         ("symbol", self.hidden_2s, self.num_2s)):
            levels = range(1, self.num_latent_layers)
            setattr(self, f"{modality}_upper_encoders",
                    [ResidualMLP(widths[l], depths[l], name=f"{modality}_encoder_{l}") for l in levels])
            setattr(self, f"{modality}_upper_posteriors",
                    [GaussianHead(self.latent_dims[l], name=f"{modality}_posterior_{l}") for l in levels])
            setattr(self, f"{modality}_upper_decoders",
                    [ResidualMLP(widths[l], depths[l], name=f"{modality}_prior_trunk_{l}") for l in levels])
            setattr(self, f"{modality}_upper_priors",
                    [GaussianHead(self.latent_dims[l - 1], name=f"{modality}_prior_{l}") for l in levels])
        self.discriminator = Discriminator(self.adv_dim, self.adv_num, name="discriminator") if self.adversarial else None
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.trackers = {name: keras.metrics.Mean(name=name)
                         for name in ("loss", *LOSS_TERMS, "transcription_accuracy")
                         + (("adv_discriminator", "adv_generator") if self.adversarial else ())}
        if self.adversarial:
            optimizer = make_optimizer("adam", self.adv_lr, epsilon=1e-8)
            if keras.mixed_precision.global_policy().name == "mixed_float16":
                optimizer = keras.mixed_precision.LossScaleOptimizer(optimizer)
            self.d_optimizer = optimizer

    def build(self, input_shape=None):
        self.signal_encoder.build((None, self.signal_dim))
        self.signal_posterior.build((None, self.hidden_1))
        self.signal_decoder.build((None, self.latent_dims[0]))
        self.signal_likelihood.build((None, self.hidden_1))
        self.symbol_encoder.build((None, self.symbol_dim))
        self.symbol_posterior.build((None, self.hidden_2))
        self.symbol_decoder.build((None, self.latent_dims[0]))
        self.symbol_logits.build((None, self.hidden_2))
        for modality, widths in (("signal", self.hidden_1s), ("symbol", self.hidden_2s)):
            for l in range(1, self.num_latent_layers):
                getattr(self, f"{modality}_upper_encoders")[l - 1].build((None, self.latent_dims[l - 1]))
                getattr(self, f"{modality}_upper_posteriors")[l - 1].build((None, widths[l]))
                getattr(self, f"{modality}_upper_decoders")[l - 1].build((None, self.latent_dims[l]))
                getattr(self, f"{modality}_upper_priors")[l - 1].build((None, widths[l]))
        if self.discriminator is not None:
            self.discriminator.build((None, self.signal_dim))
            # Built here so a saved model's discriminator optimizer state loads into it.
            self.d_optimizer.build(self.discriminator.trainable_variables)
        self.built = True

    # ------------------------------------------------------------ the four halves
    def vae_layers(self) -> dict[str, keras.layers.Layer]:
        """Every layer of both VAEs (not the discriminator) by a stable name, bottom layer first."""
        parts = {name: getattr(self, name) for name in (
            "signal_encoder", "signal_posterior", "signal_decoder", "signal_likelihood",
            "symbol_encoder", "symbol_posterior", "symbol_decoder", "symbol_logits")}
        for modality in ("signal", "symbol"):
            for kind in ("encoders", "posteriors", "decoders", "priors"):
                for layer in getattr(self, f"{modality}_upper_{kind}"):
                    parts[layer.name] = layer
        return parts

    def _layer_index(self, layer: int) -> int:
        if not -self.num_latent_layers <= layer < self.num_latent_layers:
            raise ValueError(f"latent layer {layer} of a {self.num_latent_layers}-layer hierarchy")
        return layer % self.num_latent_layers

    def _posteriors(self, modality: str, inputs, training, top: int, sample: bool):
        """[(mean, variance, z)] of latent layers 0..top; layer l > 0 encodes z_{l-1} (a sample or the mean)."""
        stack = [(getattr(self, f"{modality}_encoder"), getattr(self, f"{modality}_posterior"))]
        stack += list(zip(getattr(self, f"{modality}_upper_encoders"), getattr(self, f"{modality}_upper_posteriors")))
        layers, h = [], inputs
        for encoder, head in stack[:top + 1]:
            mean, variance = head(encoder(h, training=training))
            h = self.sample_latent(mean, variance) if sample else mean
            layers.append((mean, variance, h))
        return layers

    def _conditional_prior(self, modality: str, level: int, z, training):
        """p(z_{level-1} | z_level): (mean, variance), level >= 1."""
        trunk = getattr(self, f"{modality}_upper_decoders")[level - 1]
        return getattr(self, f"{modality}_upper_priors")[level - 1](trunk(z, training=training))

    def _descend(self, modality: str, z, layer: int, training):
        """A latent of `layer` -> the bottom layer's, through the conditional priors' means."""
        for level in range(self._layer_index(layer), 0, -1):
            z = self._conditional_prior(modality, level, z, training)[0]
        return z

    def encode_signal(self, x, training=False, layer: int = -1):
        """Spectral frames [B, 410] -> posterior (mean, variance) [B, dims[layer]] (default: the top layer)."""
        return self._posteriors("signal", x, training, self._layer_index(layer), False)[-1][:2]

    def decode_signal(self, z, training=False, layer: int = -1):
        """Latents of `layer` [B, dims[layer]] -> likelihood (mean, variance) [B, 410] of normalised log magnitudes."""
        return self.signal_likelihood(self.signal_decoder(self._descend("signal", z, layer, training), training=training))

    def encode_symbol(self, y, training=False, layer: int = -1):
        """Concatenated one-hot (or multi-hot) labels [B, S] -> posterior (mean, variance) [B, dims[layer]]."""
        return self._posteriors("symbol", y, training, self._layer_index(layer), False)[-1][:2]

    def decode_symbol(self, z, training=False, layer: int = -1):
        """Latents of `layer` -> logits [B, S] (softmax per head, or sigmoid per unit for binary labels)."""
        return self.symbol_logits(self.symbol_decoder(self._descend("symbol", z, layer, training), training=training))

    def sample_latent(self, mean, variance):
        return mean + ops.sqrt(variance) * keras.random.normal(ops.shape(mean), seed=self.seed_generator)

    def call(self, inputs, training=False):
        """{"signal" [B, 410], "symbol" [B, S]} -> reconstructions and transfers, from the posterior means.

        Returns a dict: signal_mean/signal_variance (signal -> signal, decoded from the bottom latent layer),
        symbol_logits (symbol -> symbol, bottom layer), transcription_logits (signal -> symbol) and
        synthesis_mean (symbol -> signal) through the top (shared) layer, and both top-layer posteriors.
        """
        top = self.num_latent_layers - 1
        signal_layers = self._posteriors("signal", inputs["signal"], training, top, False)
        symbol_layers = self._posteriors("symbol", inputs["symbol"], training, top, False)
        (z_sig, v_sig, _), (z_sym, v_sym, _) = signal_layers[-1], symbol_layers[-1]
        signal_mean, signal_variance = self.decode_signal(signal_layers[0][0], training, layer=0)
        synthesis_mean, synthesis_variance = self.decode_signal(z_sym, training)
        return {"signal_mean": signal_mean, "signal_variance": signal_variance,
                "symbol_logits": self.decode_symbol(symbol_layers[0][0], training, layer=0),
                "transcription_logits": self.decode_symbol(z_sig, training),
                "synthesis_mean": synthesis_mean, "synthesis_variance": synthesis_variance,
                "z_signal_mean": z_sig, "z_signal_variance": v_sig, "z_symbol_mean": z_sym, "z_symbol_variance": v_sym}

    # ------------------------------------------------------------ likelihoods
    def symbol_nll(self, y, logits):
        """-log p(y | logits) per example [B]: summed categorical cross-entropies, or Bernoulli for binary labels."""
        if self.label_type == "binary":
            return ops.sum(ops.binary_crossentropy(y, logits, from_logits=True), axis=-1)
        total, start = 0.0, 0
        for size in self.head_sizes:
            total += ops.categorical_crossentropy(y[:, start:start + size], logits[:, start:start + size], from_logits=True)
            start += size
        return total

    def head_accuracy(self, y, logits):
        """Fraction of heads whose argmax is the label's (binary: of units on the right side of 0.5), [B]."""
        if self.label_type == "binary":
            return ops.mean(ops.cast(ops.equal(logits > 0, y > 0.5), "float32"), axis=-1)
        hits, start = 0.0, 0
        for size in self.head_sizes:
            part = slice(start, start + size)
            hits += ops.cast(ops.equal(ops.argmax(y[:, part], -1), ops.argmax(logits[:, part], -1)), "float32")
            start += size
        return hits / len(self.head_sizes)

    def losses_of(self, x, y, training: bool):
        """Every term of the joint loss (batch means) and the decoded signal mean, for one batch."""
        x, y = ops.cast(x, "float32"), ops.cast(y, "float32")
        top = self.num_latent_layers - 1
        signal_layers = self._posteriors("signal", x, training, top, True)
        symbol_layers = self._posteriors("symbol", y, training, top, True)
        z_sig_mean, z_sig_var, _ = signal_layers[-1]
        z_sym_mean, z_sym_var, _ = symbol_layers[-1]
        x_mean, x_var = self.decode_signal(signal_layers[0][2], training, layer=0)
        logits = self.decode_symbol(symbol_layers[0][2], training, layer=0)
        transcription = self.decode_symbol(z_sig_mean, False)
        if self.regularization == "l2":
            cross = (self.cross_1 + self.cross_2) * ops.sum(ops.square(z_sig_mean - z_sym_mean), axis=-1)
        else:
            cross = (self.cross_1 * gaussian_kl(z_sig_mean, z_sig_var, z_sym_mean, z_sym_var)
                     + self.cross_2 * gaussian_kl(z_sym_mean, z_sym_var, z_sig_mean, z_sig_var))
        terms = {
            "signal_nll": ops.mean(gaussian_nll(x, x_mean, x_var)),
            "symbol_nll": ops.mean(self.symbol_nll(y, logits)),
            "kl_signal": ops.mean(self._rate("signal", signal_layers, training)),
            "kl_symbol": ops.mean(self._rate("symbol", symbol_layers, training)),
            "cross": ops.mean(cross),
        }
        terms["loss"] = (terms["signal_nll"] + terms["symbol_nll"] + self.beta_1 * terms["kl_signal"]
                         + self.beta_2 * terms["kl_symbol"] + terms["cross"])
        terms["transcription_accuracy"] = ops.mean(self.head_accuracy(y, ops.stop_gradient(transcription)))
        if self.adversarial and self.adv_weight > 0:
            fake_logit = self.discriminator(x_mean, training=False)
            terms["adv_generator"] = ops.mean(ops.softplus(-fake_logit))  # -log D(x_hat)
            terms["loss"] = terms["loss"] + self.adv_weight * terms["adv_generator"]
        return terms, x_mean

    def _rate(self, modality: str, layers, training):
        """The ELBO's latent terms of one VAE per example [B]: KL(top || N(0, I)) + the conditional terms below."""
        mean, variance, _ = layers[-1]
        rate = gaussian_kl(mean, variance, ops.zeros_like(mean), ops.ones_like(mean))
        for level in range(len(layers) - 1):  # -log p(z_l | z_{l+1}) - H(q(z_l | z_{l-1})), one sample
            prior_mean, prior_variance = self._conditional_prior(modality, level + 1, layers[level + 1][2], training)
            rate += gaussian_nll(layers[level][2], prior_mean, prior_variance) - gaussian_entropy(layers[level][1])
        return rate

    # ------------------------------------------------------------ training
    @property
    def metrics(self):
        return list(self.trackers.values())

    def _update(self, terms):
        for name, value in terms.items():
            if name in self.trackers:
                self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def vae_variables(self) -> list:
        """The trainable variables of both VAEs, not the discriminator's (which has its own optimizer)."""
        skip = {id(v) for v in self.discriminator.trainable_variables} if self.discriminator is not None else set()
        return [v for v in self.trainable_variables if id(v) not in skip]

    def train_step(self, data):
        import tensorflow as tf

        x, y = data
        replicas = self.distribute_strategy.num_replicas_in_sync
        variables = self.vae_variables()
        with tf.GradientTape() as tape:
            terms, x_mean = self.losses_of(x, y, training=True)
            scaled = self.optimizer.scale_loss(terms["loss"] / replicas)
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        if self.adversarial:
            real = ops.cast(keras.random.uniform((ops.shape(x)[0],), seed=self.seed_generator) < 0.5, "float32")
            frames = ops.where(real[:, None] > 0, ops.cast(x, "float32"), ops.stop_gradient(x_mean))
            d_variables = self.discriminator.trainable_variables
            with tf.GradientTape() as tape:
                logit = self.discriminator(frames, training=True)
                d_loss = ops.mean(ops.binary_crossentropy(real, logit, from_logits=True))
                scaled = self.d_optimizer.scale_loss(d_loss / replicas)
            self.d_optimizer.apply_gradients(zip(tape.gradient(scaled, d_variables), d_variables))
            terms["adv_discriminator"] = d_loss
        return self._update(terms)

    def test_step(self, data):
        x, y = data
        terms, x_mean = self.losses_of(x, y, training=False)
        if self.adversarial:
            real_logit = self.discriminator(ops.cast(x, "float32"), training=False)
            fake_logit = self.discriminator(x_mean, training=False)
            terms["adv_discriminator"] = 0.5 * ops.mean(ops.softplus(-real_logit) + ops.softplus(fake_logit))
        return self._update(terms)

    def get_config(self):
        return {**super().get_config(), "signal_dim": self.signal_dim, "head_sizes": self.head_sizes,
                "label_type": self.label_type, "latent_dim": _plain(self.latent_dims), "hidden_1": _plain(self.hidden_1s),
                "num_1": _plain(self.num_1s), "hidden_2": _plain(self.hidden_2s), "num_2": _plain(self.num_2s),
                "beta_1": self.beta_1,
                "beta_2": self.beta_2, "cross_1": self.cross_1, "cross_2": self.cross_2,
                "regularization": self.regularization, "adversarial": self.adversarial, "adv_dim": self.adv_dim,
                "adv_num": self.adv_num, "adv_lr": self.adv_lr, "adv_weight": self.adv_weight, "seed": self.seed}


def _as_list(value) -> list[int]:
    return [int(v) for v in value] if isinstance(value, (list, tuple)) else [int(value)]


def _per_layer(value, count: int, name: str) -> list[int]:
    """One value for every latent layer, or one per layer."""
    values = _as_list(value)
    if len(values) == 1:
        return values * count
    if len(values) != count:
        raise ValueError(f"{name} takes one value or one per latent layer ({count}), got {values}")
    return values


def _plain(values: list[int]) -> int | list[int]:
    """A one-layer model's sizes stay plain ints in its config."""
    return values[0] if len(values) == 1 else list(values)
