"""`python -m zoo evaluate`: negative log-likelihood per event and token accuracy on the test split.

NLL is aggregated over tokens (sum of -log p over every target / number of targets), not as a mean
of batch means (specs/metrics.md §5.1). Targets are every next token of the non-overlapping
`seq_len` windows of the joined test pieces, as in training.
"""
from __future__ import annotations

import csv
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from zoo.data.dataset import load_split, token_windows, window_dataset
from zoo.errors import DataError
from zoo.generate import load_run


def token_nll(model, windows: np.ndarray, batch_size: int) -> dict[str, float]:
    """Summed NLL (nats), correct predictions and target count of `model` over `windows`."""

    @tf.function
    def batch_sums(inputs, targets):
        logits = tf.cast(model(inputs, training=False), tf.float32)
        nll = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits)
        correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), targets), tf.float64)
        return tf.reduce_sum(tf.cast(nll, tf.float64)), tf.reduce_sum(correct), tf.size(targets, tf.float64)

    totals = np.zeros(3)
    for inputs, targets in window_dataset(windows, batch_size, shuffle=False):
        totals += [float(v) for v in batch_sums(inputs, targets)]
    return {"nll_sum": totals[0], "correct": totals[1], "tokens": totals[2]}


def evaluate(args: dict[str, Any]) -> dict[str, float]:
    """Evaluates a run on its test split (or `--data_path`); prints the numbers and appends them to evaluation.csv."""
    run, config, model_type, encoding, model = load_run(args["weights_path"], args["name"], checkpoint=args["checkpoint"])
    test_path = args.get("data_path") or config["data"].get("test")
    if not test_path or not Path(test_path).is_file():
        raise DataError(f"no test split for run '{run.name}' (pass one with -p DATA/test.pkl)")
    split = load_split(test_path)
    if split.encoding != config["encoding"]:
        raise DataError(f"{test_path} was not encoded like run '{run.name}'s training data")
    windows = token_windows(split.pieces, config["args"]["seq_len"])
    sums = token_nll(model, windows, args["batch_size"])
    nll = sums["nll_sum"] / sums["tokens"]
    result = {
        "run": run.name,
        "checkpoint": args["checkpoint"],
        "test_data": str(test_path),
        "pieces": len(split.pieces),
        "tokens": int(sums["tokens"]),
        "nll_nats_per_event": nll,
        "nll_bits_per_event": nll / math.log(2),
        "perplexity": math.exp(nll),
        "accuracy": sums["correct"] / sums["tokens"],
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    for key in ("tokens", "nll_nats_per_event", "nll_bits_per_event", "perplexity", "accuracy"):
        value = result[key]
        print(f"{key:>20}: {value:.4f}" if isinstance(value, float) else f"{key:>20}: {value}")
    csv_path = run.path / "evaluation.csv"
    is_new = not csv_path.exists()
    with open(csv_path, "a", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(result))
        if is_new:
            writer.writeheader()
        writer.writerow(result)
    print(f"appended to {csv_path}", file=sys.stderr)
    return result
