"""`-m lstm`'s name and flags (MechanicalBach's), apart from the model so the command line needs no TensorFlow."""
from __future__ import annotations

import argparse

from zoo.core.flags import fraction, non_negative_int, positive_int
from zoo.core.model_flags import TokenFlags


class LSTMFlags(TokenFlags):
    name = "lstm"

    @classmethod
    def add_arguments(cls, parser: argparse._ArgumentGroup) -> None:
        parser.add_argument("--lstm_size", type=positive_int, default=256, help="units of each LSTM layer")
        parser.add_argument("--lstm_num_layers", type=positive_int, default=3, help="number of LSTM layers")
        parser.add_argument("--lstm_dropout_prob", type=fraction, default=None,
                            help="dropout after each LSTM and hidden dense layer (default: none)")
        parser.add_argument("--lstm_num_hidden_dense", type=non_negative_int, default=2, help="hidden dense layers")
        parser.add_argument("--lstm_hidden_dense_size", type=positive_int, default=256,
                            help="units of each hidden dense layer")
        parser.add_argument("--lstm_hidden_dense_activation", default="relu", help="activation of the hidden dense layers")
        parser.add_argument("--lstm_embedding_size", type=non_negative_int, default=128,
                            help="token embedding size; 0 feeds the seed's scalar id/vocab input instead")
