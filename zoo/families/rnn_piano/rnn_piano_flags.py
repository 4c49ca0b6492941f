"""The names and flags of `-m rnn_nade` and `-m rnn_rbm`, apart from the models so the command line needs no
TensorFlow."""
from __future__ import annotations

import argparse

from zoo.core.flags import fraction, non_negative_float, non_negative_int, positive_float, positive_int
from zoo.core.model_flags import ModelFlags
from zoo.families.rnn_piano.polyphonic import BUNDLED_JSB

RNN_TYPES = ("lstm", "simple")  # zoo.layers.rnn_estimators.RNN_TYPES, whose module imports TensorFlow


def _units(text: str) -> list[int]:
    try:
        units = [int(u) for u in str(text).split(",") if u.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated layer sizes such as 512,256, got {text!r}")
    if not units or min(units) < 1:
        raise argparse.ArgumentTypeError(f"layer sizes must be positive, got {text!r}")
    return units


class RnnPianoFlags(ModelFlags):
    """The flags rnn_nade and rnn_rbm share."""

    @classmethod
    def _add_common_arguments(cls, parser, hidden: int, units: str, rnn_type: str, dropout: float) -> None:
        parser.add_argument("--dataset", default=None,
                            help="polyphonic benchmark JSON {train,valid,test} of MIDI pitch frames "
                                 f"(default: the bundled JSB Chorales, {BUNDLED_JSB.name}); or use -p PICKLE")
        parser.add_argument("--frames_per_beat", type=positive_int, default=None,
                            help="frames per quarter note of --dataset, for writing MIDI (default 1, as JSB's)")
        parser.add_argument("--num_hidden", type=positive_int, default=hidden,
                            help="hidden units of the estimator (default %(default)s)")
        parser.add_argument("--rnn_units", type=_units, default=_units(units), help="RNN layer sizes, comma-separated (default %(default)s)")
        parser.add_argument("--rnn_type", choices=RNN_TYPES, default=rnn_type,
                            help="lstm (MultINN's core) or simple (Boulanger-Lewandowski's tanh RNN; default %(default)s)")
        parser.add_argument("--dropout", type=fraction, default=dropout,
                            help="output dropout after each RNN layer (default %(default)s)")
        parser.add_argument("--clip_norm", type=non_negative_float, default=5.0,
                            help="global gradient-norm clip (0: off; default %(default)s)")
        parser.add_argument("--adam_epsilon", type=positive_float, default=None,
                            help="Adam's epsilon (-o adam only; default 1e-4)")

    @classmethod
    def add_generate_arguments(cls, parser) -> None:
        parser.add_argument("--length", type=positive_int, default=128, help="frames to sample after the intro")
        parser.add_argument("--temperature", type=positive_float, default=1.0,
                            help="sampling temperature (NADE: logits / T; RBM: energies / T)")
        parser.add_argument("--intro_frames", type=non_negative_int, default=0,
                            help="start each piece with this many frames of a test sequence (0: from nothing)")
        parser.add_argument("--intro_index", type=int, default=0,
                            help="test sequence of the first piece's intro (piece i takes index + i)")


class RnnNadeFlags(RnnPianoFlags):
    name = "rnn_nade"
    flag_defaults = {"loss_function": "nade_nll", "batch_size": 32, "seq_len": 64, "learning_rate": 1e-2,
                     "epochs": 20, "sample_length": 128, "patience": 5}

    @classmethod
    def add_arguments(cls, parser) -> None:
        cls._add_common_arguments(parser, hidden=256, units="512,256", rnn_type="lstm", dropout=0.1)
        parser.add_argument("--internal_bias", action="store_true", help="the NADE also learns static biases")


class RnnRbmFlags(RnnPianoFlags):
    name = "rnn_rbm"
    flag_defaults = {"loss_function": "cd", "batch_size": 10, "seq_len": 100, "optimizer": "sgd",
                     "learning_rate": 1e-3, "epochs": 200, "sample_length": 128, "patience": 5}

    @classmethod
    def add_arguments(cls, parser) -> None:
        cls._add_common_arguments(parser, hidden=150, units="100", rnn_type="simple", dropout=0.0)
        parser.add_argument("--gibbs_k", type=positive_int, default=15,
                            help="Gibbs steps of CD-k in training (default %(default)s)")
        parser.add_argument("--sample_k", type=positive_int, default=25,
                            help="Gibbs steps per generated frame (default %(default)s)")
