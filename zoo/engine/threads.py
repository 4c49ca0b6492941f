"""TensorFlow's CPU thread pools: the defaults the zoo picks for a workload, and the
`--intra_op_threads`/`--inter_op_threads` flags that override them."""
from __future__ import annotations

import sys

import tensorflow as tf

from zoo.core.sampling import SMALL_SAMPLING_BATCH


def sampling_threads(intra_op: int | None, inter_op: int | None, batch_size: int) -> tuple[int | None, int | None]:
    """The (intra_op, inter_op) pools for sampling `batch_size` sequences step by step, from the flags
    (None: not given, 0: TensorFlow's own); None in the result means TensorFlow's default.

    TensorFlow's default splits every op across all usable cores. A sampling step at a small batch is
    a hundred ops of a few microseconds each, where splitting costs more than it gains: one thread per
    op, with independent ops still running side by side, is faster.
    """
    defaults = (1, None) if batch_size <= SMALL_SAMPLING_BATCH else (None, None)
    return tuple(default if flag is None else flag or None for flag, default in zip((intra_op, inter_op), defaults))


def configure_threads(intra_op: int | None, inter_op: int | None, *, warn: bool = True) -> None:
    """Sets TensorFlow's CPU thread pools (None: TensorFlow's default, one thread per usable core);
    must run before TensorFlow executes its first op. `warn`: say so on stderr when TensorFlow had
    already started and the pools cannot change (off for defaults the user did not ask for).

    Training keeps TensorFlow's defaults: with the zoo's LSTM and attention kernels they were the
    fastest tried on 2 cores (bench/lstm_throughput.py, bench/transformer_training.py); on 1 core
    every choice is 1 / 1.
    """
    try:
        if intra_op:
            tf.config.threading.set_intra_op_parallelism_threads(intra_op)
        if inter_op:
            tf.config.threading.set_inter_op_parallelism_threads(inter_op)
    except RuntimeError:  # TensorFlow already ran an op in this process (e.g. under pytest)
        current = (tf.config.threading.get_intra_op_parallelism_threads(),
                   tf.config.threading.get_inter_op_parallelism_threads())
        if warn and (intra_op or current[0], inter_op or current[1]) != current:
            print("warning: --intra_op_threads/--inter_op_threads ignored: TensorFlow had already started "
                  "in this process", file=sys.stderr)
