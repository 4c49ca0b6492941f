"""`-m transformer`'s name and flags (MechanicalBach's), apart from the model so the command line needs no TensorFlow."""
from __future__ import annotations

import argparse

from zoo.core.flags import fraction, non_negative_int, positive_int
from zoo.core.model_flags import TokenFlags

SEED_BLOCK_DROPOUT = 0.1  # the seed's TransformerBlock(rate=0.1), used when --transformer_dropout_prob is unset


class TransformerFlags(TokenFlags):
    name = "transformer"

    @classmethod
    def add_arguments(cls, parser: argparse._ArgumentGroup) -> None:
        parser.add_argument("--embed_dim", type=positive_int, default=32, help="token embedding size = model width")
        parser.add_argument("--num_heads", type=positive_int, default=2,
                            help="attention heads (must divide --embed_dim)")
        parser.add_argument("--ff_dim", type=positive_int, default=32,
                            help="hidden units of each block's feed-forward net")
        parser.add_argument("--transformer_dropout_prob", type=fraction, default=None,
                            help="dropout in the blocks and after each hidden dense layer "
                                 f"(default: {SEED_BLOCK_DROPOUT} in the blocks, none after the dense layers, as the seed)")
        parser.add_argument("--transformer_num_hidden_dense", type=non_negative_int, default=2,
                            help="hidden dense layers between the last block and the logits")
        parser.add_argument("--transformer_hidden_dense_size", type=positive_int, default=256,
                            help="units of each hidden dense layer")
        parser.add_argument("--transformer_hidden_dense_activation", default="relu",
                            help="activation of the hidden dense layers")
        parser.add_argument("--transformer_num_layers", type=positive_int, default=1, help="decoder blocks")
        parser.add_argument("--max_seq_len", type=positive_int, default=None,
                            help="attention span in events: relative distances learnt and key/value cache "
                                 "slots; generation attends to the last max_seq_len events (default: -s/--seq_len)")
