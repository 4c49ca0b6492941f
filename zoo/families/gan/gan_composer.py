"""MechanicalBach's GAN (`-m gan`): a DCGAN-style generator and discriminator on music "images".

Data (`-d`):
    pianoroll (default)  samples of `bars_per_sample` bars cut from each piece's piano-roll, one
                         bar apart: float32 [N, steps, pitches, 1] (see zoo/encodings/pianoroll.py).
    numeric              the seed's one-hot windows of `-s/--seq_len` tokens, stride 1, over the
                         joined token stream: [N, seq_len, vocab, 1].
Validation windows come from the validation split (the seed copied them from training data).

The networks and their training (`GAN`, the fixes to the seed, what is logged) are in
zoo/families/gan/gan_model.py; generation (`GANSampler`) in gan_sampler.py.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from zoo.core.model_type import ModelType
from zoo.core.optimizers import make_optimizer
from zoo.core.registry import register_model_type
from zoo.data.dataset import TrainingData, token_windows
from zoo.encodings.base import Encoding
from zoo.encodings.numeric import NUM_RESERVED
from zoo.errors import DataError, UsageError
from zoo.families.gan.gan_flags import DEFAULT_BARS, DEFAULT_TOKENS, GANFlags
from zoo.families.gan.gan_model import GAN
from zoo.families.gan.gan_sampler import ARGMAX, BERNOULLI, CATEGORICAL, THRESHOLD, GANSampler, sampler_of
from zoo.music.io import write_pieces
from zoo.music.score import Score

LOSSES = ("binary_crossentropy", "mean_squared_error")


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
class GANComposer(GANFlags, ModelType):
    default_encoding = "pianoroll"
    encodings = ("pianoroll", "numeric")
    loss_functions = LOSSES

    @classmethod
    def check_args(cls, args: dict[str, Any]) -> dict[str, Any]:
        try:
            keras.activations.get(args["gan_activation"])
        except (ValueError, TypeError):
            raise UsageError(f"unknown --gan_activation '{args['gan_activation']}' (try relu, leaky_relu, elu, tanh)") from None
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
    def generate(cls, args, run, config, encoding, model) -> list[Path]:
        rolls = cls.sample_rolls(model, encoding, args["num_outputs"], args["length"], args["seed"], args["sampling"],
                                 args["temperature"], args["threshold"], args["latent_step"])
        return write_pieces((cls.decode(roll, encoding) for roll in rolls), args["output_dir"], run.name,
                            "sample", args["seed"])

    @classmethod
    def evaluate(cls, model, config, encoding, split, args, run) -> dict[str, float]:
        """The validation step's numbers on the test split's windows: `pitch_frequency_gap` (what val_loss
        is: the mean over pitches of |how often the pitch sounds in the data - in the generator's output|), the
        adversarial losses, and how often the discriminator calls real windows real and generated ones fake."""
        _, test, description = cls.datasets(TrainingData(split, split, {}, split.encoding), encoding,
                                            {**config, "batch_size": args["batch_size"]})
        cls.compile(model, config)
        numbers = model.evaluate(test, verbose=0, return_dict=True)
        return {"windows": description.split(" ")[0], "pitch_frequency_gap": float(numbers["loss"]),
                **{name: float(numbers[name]) for name in ("g_loss", "d_loss", "d_real_accuracy", "d_fake_accuracy")}}

    @classmethod
    def export_endpoints(cls, model, config) -> dict[str, Any]:
        """`serve`: latents [B, latent] -> probabilities [B, T, P, 1]; `generate`: `GANSampler.sample`."""
        serve = tf.function(lambda z: model(z, training=False),
                            input_signature=[tf.TensorSpec([None, model.latent_dims], tf.float32, name="z")])
        first_column = NUM_RESERVED if config.get("data_mode") == "numeric" else 0
        sampler = GANSampler(model, first_column)
        generate = tf.function(lambda *args: sampler.sample(*args), input_signature=sampler.sample.input_signature)
        return {"serve": serve, "generate": generate}
