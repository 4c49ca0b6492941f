"""TensorFlow's CPU thread pools, set from the `--intra_op_threads`/`--inter_op_threads` flags that
training, generation and the benchmarks share."""
from __future__ import annotations

import sys

import tensorflow as tf


def configure_threads(intra_op: int | None, inter_op: int | None) -> None:
    """Sets TensorFlow's CPU thread pools; must run before TensorFlow executes its first op.

    On a 2-core CPU, one thread per op and two ops at a time trains the LSTM about 1.4x faster
    than TensorFlow's default (bench/lstm_throughput.py).
    """
    try:
        if intra_op:
            tf.config.threading.set_intra_op_parallelism_threads(intra_op)
        if inter_op:
            tf.config.threading.set_inter_op_parallelism_threads(inter_op)
    except RuntimeError:  # TensorFlow already ran an op in this process (e.g. under pytest)
        current = (tf.config.threading.get_intra_op_parallelism_threads(),
                   tf.config.threading.get_inter_op_parallelism_threads())
        if (intra_op or current[0], inter_op or current[1]) != current:
            print("warning: --intra_op_threads/--inter_op_threads ignored: TensorFlow had already started "
                  "in this process", file=sys.stderr)
