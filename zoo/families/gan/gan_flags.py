"""`-m gan`'s name and flags (MechanicalBach's), apart from the model so the command line needs no TensorFlow."""
from __future__ import annotations

import argparse

from zoo.core.flags import fraction, non_negative_int, open_fraction, positive_float, positive_fraction, positive_int
from zoo.core.model_flags import ModelFlags

DEFAULT_BARS = 8
DEFAULT_TOKENS = 200


class GANFlags(ModelFlags):
    name = "gan"
    # The seed's CLI default (sparse CCE) does not apply to a GAN; DCGAN's learning rate (Radford et
    # al. 2016: Adam's default 1e-3 made its discriminator win); training samples are 8 bars.
    flag_defaults = {"loss_function": "binary_crossentropy", "learning_rate": 2e-4, "sample_length": DEFAULT_BARS}

    @classmethod
    def add_arguments(cls, parser: argparse._ArgumentGroup) -> None:
        parser.add_argument("--gan_latent_dims", type=positive_int, default=100, help="size of the latent space")
        parser.add_argument("--gan_num_dense_layers", type=positive_int, default=1,
                            help="dense layers of the discriminator's head, its output unit included")
        parser.add_argument("--gan_dense_hidden_size", type=positive_int, default=1000,
                            help="units of its hidden dense layers")
        parser.add_argument("--gan_starting_num_channels", type=positive_int, default=64,
                            help="channels of the generator's first grid")
        parser.add_argument("--gan_activation", default="relu", help="activation of the hidden layers (e.g. relu, leaky_relu)")
        parser.add_argument("--gan_num_hidden_conv_layers", type=non_negative_int, default=3,
                            help="hidden convolutional layers of each network")
        parser.add_argument("--gan_hidden_conv_num_channels", type=positive_int, default=256,
                            help="channels of the hidden convolutional layers")
        parser.add_argument("--gan_dropout_prob", type=fraction, default=None,
                            help="dropout after each discriminator convolution (default: none)")
        parser.add_argument("--gan_binarize", choices=["sample", "none"], default="sample",
                            help="what the discriminator sees of a generated sample: sample: notes drawn from "
                                 "the generator's probabilities (Bernoulli for pianoroll, one token a step for "
                                 "numeric) with straight-through gradients; none: the probabilities (the seed's)")
        parser.add_argument("--gan_spectral_norm", type=int, choices=[0, 1], default=1,
                            help="1: spectral normalisation of the discriminator's layers (stops it from winning "
                                 "outright and the generator from collapsing); 0: plain layers (the seed's)")

    @classmethod
    def add_generate_arguments(cls, parser) -> None:
        parser.add_argument("--length", "--num_bars", dest="length", type=positive_int, default=None,
                            help=f"bars (pianoroll runs, default {DEFAULT_BARS}) or tokens (numeric runs, default "
                                 f"{DEFAULT_TOKENS}) per piece, rounded up to whole generated samples")
        parser.add_argument("--sampling", choices=["threshold", "sample"], default=None,
                            help="threshold: notes where p > --threshold (pianoroll) or the likeliest token "
                                 "(numeric); sample (default): Bernoulli notes (pianoroll) or a token drawn by p "
                                 "(numeric, the seed's), as the discriminator saw them in training")
        parser.add_argument("--threshold", type=open_fraction, default=0.5,
                            help="note probability above which a note sounds")
        parser.add_argument("--temperature", type=positive_float, default=1.0,
                            help="sampling temperature (sample mode)")
        parser.add_argument("--latent_step", type=positive_fraction, default=1.0,
                            help="1: independent latents for consecutive samples (the seed's); smaller values "
                                 "walk the latent space so neighbouring samples are related")
