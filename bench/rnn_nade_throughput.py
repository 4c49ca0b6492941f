"""Training throughput (frames/s) of the zoo's `rnn_nade` against a PyTorch twin on the same batches.

Size: MultINN's defaults (specs/multinn.md §5): LSTM 512 -> LSTM 256 (output dropout 0.1) -> Dense(256 + 88)
-> NADE with 256 hidden units over the 88 keys; Adam lr 1e-2, eps 1e-4, global-norm clip 5; batch 32 chunks of
64 frames cut from the bundled JSB Chorales training split (zoo/families/rnn_piano/roll_data.chunk_rolls), the same
chunks in the same order for both frameworks. The NADE log-likelihood is the same vectorised formula in
both (exclusive cumulative sum over the 88 keys). Each measurement runs in its own subprocess.

    python bench/rnn_nade_throughput.py                    # PyTorch + the default variant set
    python bench/rnn_nade_throughput.py --variant default --steps 5 --repeats 3

Prints one line per measurement, then a table: variant, frames/s (median of the repeats), ratio ours /
PyTorch. Frames = unpadded frames trained on. Nothing is asserted about the timings.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from harness import (REPO, add_training_arguments, compare_with_peer, describe, fit_timed, measure, prepare_tf_child,
                     tf_threads, training_argv, variants_to_measure)

KEYS, NADE_HIDDEN, RNN_UNITS = 88, 256, (512, 256)
VARIANTS: dict[str, dict] = {
    "default": dict(help="the zoo as it is (training.py's default threads, jit_compile='auto')"),
    "threads_1_1": dict(threads=(1, 1), help="--intra_op_threads 1 --inter_op_threads 1"),
    "xla": dict(jit=True, help="compile(jit_compile=True)"),
}
DEFAULT_SET = ["default", "threads_1_1", "xla"]


def batches(args):
    """The first `num_batches` batches of JSB chunks: (rolls [B, T, 88] float32, mask [B, T] bool) numpy pairs."""
    sys.path.insert(0, str(REPO))
    import numpy as np

    from zoo.families.rnn_piano.polyphonic import BUNDLED_JSB, read_polyphonic_json
    from zoo.families.rnn_piano.roll_data import chunk_rolls

    chunks = chunk_rolls(read_polyphonic_json(BUNDLED_JSB)["train"], args.seq_len)
    order = np.random.default_rng(args.seed).permutation(len(chunks))
    out = []
    for b in range(args.num_batches):
        picked = [chunks[i] for i in order[b * args.batch:(b + 1) * args.batch]]
        length = max(len(c) for c in picked)
        rolls = np.zeros((len(picked), length, KEYS), np.float32)
        mask = np.zeros((len(picked), length), bool)
        for i, c in enumerate(picked):
            rolls[i, :len(c)], mask[i, :len(c)] = c, True
        out.append((rolls, mask))
    return out


def run_torch(args) -> dict:
    import torch
    from torch import nn

    torch.manual_seed(args.seed)

    class TorchRnnNade(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm1 = nn.LSTM(KEYS, RNN_UNITS[0], batch_first=True)
            self.lstm2 = nn.LSTM(RNN_UNITS[0], RNN_UNITS[1], batch_first=True)
            self.dropout = nn.Dropout(0.1)
            self.to_biases = nn.Linear(RNN_UNITS[1], NADE_HIDDEN + KEYS)
            std = 1.0 / KEYS ** 0.5
            self.w_enc = nn.Parameter(torch.nn.init.trunc_normal_(torch.empty(KEYS, NADE_HIDDEN), std=std))
            self.w_dec = nn.Parameter(torch.nn.init.trunc_normal_(torch.empty(KEYS, NADE_HIDDEN), std=std))

        def forward(self, rolls, mask):
            inputs = nn.functional.pad(rolls[:, :-1], (0, 0, 1, 0))
            x = self.dropout(self.lstm1(inputs)[0])
            x = self.dropout(self.lstm2(x)[0])
            biases = self.to_biases(x).reshape(-1, NADE_HIDDEN + KEYS)
            b_enc, b_dec = biases[:, :NADE_HIDDEN], biases[:, NADE_HIDDEN:]
            v = rolls.reshape(-1, KEYS)
            contributions = v[:, :, None] * self.w_enc[None]
            shifted = nn.functional.pad(contributions[:, :-1], (0, 0, 1, 0))
            hidden = torch.sigmoid(b_enc[:, None] + torch.cumsum(shifted, 1))
            logits = b_dec + (hidden * self.w_dec[None]).sum(-1)
            nll = nn.functional.binary_cross_entropy_with_logits(logits, v, reduction="none").sum(-1)
            weights = mask.reshape(-1).float()
            return (nll * weights).sum() / weights.sum()

    data = [(torch.from_numpy(r), torch.from_numpy(m)) for r, m in batches(args)]
    model = TorchRnnNade()
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2, eps=1e-4)
    step = 0

    def train_steps(n):
        nonlocal step
        loss = None
        for _ in range(n):
            rolls, mask = data[step % len(data)]
            step += 1
            optimizer.zero_grad(set_to_none=True)
            loss = model(rolls, mask)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
        return float("nan") if loss is None else float(loss)  # --warmup 0 runs no step

    train_steps(args.warmup)
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        loss = train_steps(args.steps)
        times.append(time.perf_counter() - start)
    return {"framework": f"torch {torch.__version__}",
            "threads": f"torch.get_num_threads()={torch.get_num_threads()}", "times": times, "loss": loss,
            "frames_per_repeat": frames_in(data, args, lambda m: int(m.sum()))}


def frames_in(data, args, count) -> int:
    """Unpadded frames in `steps` consecutive batches (the cycle repeats, so this is exact per repeat on average)."""
    per_cycle = [count(m) for _, m in data]
    return int(round(sum(per_cycle) / len(per_cycle) * args.steps))


def run_tf(args, name: str) -> dict:
    spec = VARIANTS[name]
    prepare_tf_child(spec, args.seed)
    import keras
    import tensorflow as tf

    from zoo.core.registry import get_model_type
    from zoo.engine.train import build_compiled

    config = {"num_hidden": NADE_HIDDEN, "rnn_units": list(RNN_UNITS), "dropout": 0.1, "internal_bias": False,
              "rnn_type": "lstm", "optimizer": "adam", "learning_rate": 1e-2, "clip_norm": 5.0,
              "adam_epsilon": 1e-4, "jit_compile": spec.get("jit", "auto")}
    model = build_compiled(get_model_type("rnn_nade"), config, None)
    data = batches(args)
    dataset = tf.data.Dataset.from_generator(
        lambda: iter(data), output_signature=(tf.TensorSpec([None, None, KEYS], tf.float32),
                                              tf.TensorSpec([None, None], tf.bool))).repeat()
    timed = fit_timed(model, dataset, args.warmup, args.steps, args.repeats)
    return {"framework": f"tensorflow {tf.__version__} / keras {keras.__version__}", "threads": tf_threads(),
            "times": timed["times"], "warmup_s": timed["warmup_s"], "loss": float(timed["logs"].get("loss", "nan")),
            "frames_per_repeat": frames_in(data, args, lambda m: int(m.sum()))}


def run(name: str, args) -> dict:
    argv = training_argv(args)
    result = measure(__file__, name, argv, lambda r: r["frames_per_repeat"], {})
    print(describe(result, "frames/s", f"{args.steps} steps, last loss {result.get('loss', float('nan')):.3f}"),
          flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_training_arguments(parser, DEFAULT_SET, steps=10, repeats=3, warmup=2, batch=32, seq_len=64,
                           num_batches=8)
    args = parser.parse_args()
    names = variants_to_measure(args, parser, VARIANTS, DEFAULT_SET,
                                lambda name: run_torch(args) if name == "torch" else run_tf(args, name))
    if names is None:
        return
    print(f"rnn_nade throughput: batch {args.batch} x {args.seq_len} frames of JSB, LSTM {RNN_UNITS}, NADE "
          f"{NADE_HIDDEN} x {KEYS}; {args.steps} steps x {args.repeats} repeats after {args.warmup} warm-up steps; "
          f"os.cpu_count()={os.cpu_count()}", flush=True)
    compare_with_peer(lambda name: run(name, args), names, "frames/s")


if __name__ == "__main__":
    main()
