"""Shared by the GAN tests: tiny settings, a tiny compiled GAN, and random binary batches."""
from __future__ import annotations

import types

import keras
import numpy as np

from zoo.core.registry import get_model_type
from zoo.encodings.pianoroll import PianorollEncoding
from zoo.families.gan.gan_model import GAN

GAN_TYPE = get_model_type("GAN")
TINY = dict(gan_latent_dims=16, gan_num_dense_layers=2, gan_dense_hidden_size=8, gan_starting_num_channels=8,
            gan_activation="relu", gan_num_hidden_conv_layers=1, gan_hidden_conv_num_channels=8, gan_dropout_prob=0.1,
            gan_binarize="sample", loss_function="binary_crossentropy", seed=0, optimizer="adam",
            learning_rate=2e-4, seq_len=10)
PIANOROLL = PianorollEncoding()
NUMERIC = types.SimpleNamespace(name="numeric", vocab_size=37)  # odd width: the seed never upsampled it


def tiny_gan(encoding=PIANOROLL, **overrides) -> GAN:
    keras.utils.set_random_seed(0)
    config = {**TINY, **overrides}
    model = GAN_TYPE.build(config, encoding)
    GAN_TYPE.compile(model, config)
    return model


def real_batch(shape, n=8, seed=0) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, *shape, 1)) < 0.1).astype("float32")
