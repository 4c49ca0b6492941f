"""`-m multinn`'s name and flags (MultINN's), apart from the model so the command line needs no TensorFlow."""
from __future__ import annotations

import argparse

from zoo.core.flags import fraction, non_negative_float, non_negative_int, positive_float, positive_int
from zoo.core.model_flags import ModelFlags

MODES = ("joint", "composer", "jamming", "feedback", "feedback_rnn")
GENERATORS = ("rnn_nade", "rnn_multinade", "rnn_rbm")
ENCODERS = ("pass", "dbn")
STAGES = ("generators", "encoders")


class MultINNFlags(ModelFlags):
    name = "multinn"
    flag_defaults = {"learning_rate": 1e-2, "batch_size": 32, "epochs": 20, "loss_function": "nll",
                     "sample_length": 16, "patience": 5}

    @classmethod
    def add_arguments(cls, parser: argparse._ArgumentGroup) -> None:
        parser.add_argument("--mode", type=lambda s: s.lower().replace("-", "_"), choices=MODES, default="composer",
                            help="joint, composer (default), jamming, feedback, feedback_rnn (specs/multinn.md §5)")
        parser.add_argument("--generator", choices=GENERATORS, default=None,
                            help="rnn_nade, rnn_multinade (composer's, its default), rnn_rbm (default: rnn_nade)")
        parser.add_argument("--num_hidden", type=positive_int, default=256, help="hidden units of each NADE / RBM")
        parser.add_argument("--num_hidden_rnn", type=positive_int, nargs="+", default=None,
                            help="LSTM sizes of each generator (default 512 256; feedback modes 256 256)")
        parser.add_argument("--feedback", type=positive_int, nargs="+", default=None,
                            help="feedback module sizes: feedback mode a Dense of the last size (default 128), "
                                 "feedback_rnn an LSTM stack (default 256 128)")
        parser.add_argument("--dropout", type=fraction, default=0.1, help="output dropout of each LSTM (1 - keep_prob)")
        parser.add_argument("--gibbs_k", type=positive_int, default=15, help="rnn_rbm: Gibbs steps of CD-k in training")
        parser.add_argument("--sample_gibbs_k", type=positive_int, default=25,
                            help="rnn_rbm: Gibbs steps per generated step")
        parser.add_argument("--encoder", choices=ENCODERS, default="pass", help="pass (identity) or dbn")
        parser.add_argument("--encoder_hidden", type=positive_int, nargs="+", default=[168, 84],
                            help="dbn: hidden sizes of its RBMs, bottom first")
        parser.add_argument("--encoder_gibbs_k", type=positive_int, default=2,
                            help="dbn: Gibbs steps of each layer's CD-k")
        parser.add_argument("--stage", choices=STAGES, default="generators",
                            help="generators (default), or encoders: pre-train the DBNs with CD-k")
        parser.add_argument("--encoders_from", default=None,
                            help="run (under -w) whose pre-trained DBNs this run's generators use, frozen")
        parser.add_argument("--early_stopping", type=non_negative_int, default=argparse.SUPPRESS,
                            help="MultINN's name for --patience (default 5 for multinn)")
        parser.add_argument("--clip_norm", type=non_negative_float, default=5.0,
                            help="global gradient-norm clip (0: none)")
        parser.add_argument("--adam_epsilon", type=positive_float, default=1e-4,
                            help="epsilon of Adam-like optimizers (MultINN's 1e-4)")

    @classmethod
    def add_generate_arguments(cls, parser) -> None:
        parser.add_argument("--intro_beats", type=non_negative_int, default=8,
                            help="beats of each intro (0: start from nothing)")
        parser.add_argument("--sample_beats", type=positive_int, default=88, help="beats generated after the intro")
        parser.add_argument("--intro_from", choices=["test", "valid", "train", "none"], default=None,
                            help="split of the run's data whose pieces' openings are the intros (none: no intro; "
                                 "default: test, or none with a note when the run's test split is not here)")
        parser.add_argument("--temperature", type=positive_float, default=1.0,
                            help="sampling temperature (divides the NADE logits / RBM energies)")
