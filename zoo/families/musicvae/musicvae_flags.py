"""`-m musicvae`'s name and flags (symusic's config keys as flags), apart from the model so the command line needs
no TensorFlow."""
from __future__ import annotations

import argparse

from zoo.core.flags import non_negative_float
from zoo.core.model_flags import ModelFlags
from zoo.families.musicvae.musicvae_config import CONFIG_FLAGS, JSON_FLAGS


class MusicVAEFlags(ModelFlags):
    name = "musicvae"
    # None: the config file or the seed's defaults decide (batch 64; epochs from num_steps).
    flag_defaults = {"batch_size": None, "epochs": None}

    @classmethod
    def add_arguments(cls, parser: argparse._ArgumentGroup) -> None:
        parser.add_argument("--config", default=None, help="symusic JSON config (zoo/families/musicvae/configs/*.json)")
        for name, (kind, text) in CONFIG_FLAGS.items():
            if name in JSON_FLAGS:
                parser.add_argument(f"--{name}", default=None, metavar="JSON", help=f"{text} (JSON)")
            else:
                parser.add_argument(f"--{name}", type=kind, default=None, help=text)
        parser.add_argument("--grad_clip", type=non_negative_float, default=1.0,
                            help="global gradient-norm clip (0: off)")

    @classmethod
    def add_generate_arguments(cls, parser) -> None:
        parser.add_argument("--mode", choices=["sample", "reconstruct", "interpolate"], default="sample",
                            help="sample z from the prior; reconstruct --input; interpolate between two --input")
        parser.add_argument("--input", nargs="+", default=None, metavar="FILE",
                            help="melody file(s): one to reconstruct, two to interpolate")
        parser.add_argument("--temperature", type=non_negative_float, default=1.0,
                            help="softmax temperature of the decoder (0: argmax)")
