"""Thread pools for sampling: the zoo's default at small batches, the flags over it, 0 for TensorFlow's own."""
from __future__ import annotations

import subprocess
import sys

from zoo.engine.threads import SMALL_SAMPLING_BATCH, sampling_threads


def test_small_batches_sample_with_one_thread_per_op_and_flags_win():
    assert sampling_threads(None, None, 1) == (1, None)
    assert sampling_threads(None, None, SMALL_SAMPLING_BATCH) == (1, None)
    assert sampling_threads(None, None, SMALL_SAMPLING_BATCH + 1) == (None, None)  # large ops: TensorFlow's split
    assert sampling_threads(2, 3, 1) == (2, 3)
    assert sampling_threads(0, 0, 1) == (None, None)  # 0: TensorFlow's own default, as the flags' help says


def test_the_sampling_default_reaches_tensorflow():
    """In a fresh process, as generate.py sets them before TensorFlow runs an op: intra 1, inter TensorFlow's (0)."""
    code = (
        "import tensorflow as tf\n"
        "from zoo.engine.threads import configure_threads, sampling_threads\n"
        "configure_threads(*sampling_threads(None, None, 3))\n"
        "print(tf.config.threading.get_intra_op_parallelism_threads(), "
        "tf.config.threading.get_inter_op_parallelism_threads())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["1", "0"]
