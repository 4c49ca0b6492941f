"""Training throughput of the zoo's `transformer` against a PyTorch model of the same shape.

The README size by default: 4 pre-norm blocks of width 256, 4 heads, feed-forward 1024, relative
self-attention (one learned embedding per head and distance, skewing), final LayerNorm, logits over
the event vocabulary (390), seq_len 256, batch 16, no dropout, no hidden dense layers. The PyTorch
model below has the same layers, shapes and arithmetic (same skewing, same masks). Both train with
Adam (lr 1e-3) on sparse cross-entropy over every next token (PAD = 0 ignored), on the same random
int32 token windows (fixed numpy seed) in the same order, on this machine's CPU. Every measurement
runs in its own subprocess; each warms up (tracing / XLA compilation and a few steps, not timed), then
times `--steps` steps `--repeats` times and reports the median. PyTorch runs before and after ours.

    python bench/transformer_training.py                          # PyTorch + default, xla, threads_1_2
    python bench/transformer_training.py --variant default --steps 10 --repeats 3
    python bench/transformer_training.py --list

The TensorFlow side is the zoo's own path: `zoo.engine.train.build_compiled` and `model.fit` on
`zoo.data.dataset.window_dataset`; a variant changes one setting. Nothing is asserted about timings.
"""
from __future__ import annotations

import argparse
import os
import time

from harness import (add_training_arguments, compare_with_peer, describe, fit_timed, measure, prepare_tf_child,
                     random_windows, tf_threads, training_argv, variants_to_measure)

VOCAB = 390  # the event encoding's vocab_size

VARIANTS: dict[str, dict] = {
    "default": dict(help="the zoo as it is: jit_compile='auto' (no XLA on CPU), TF's thread defaults"),
    "xla": dict(jit=True, help="training.py --jit_compile true: XLA on CPU"),
    "threads_1_2": dict(threads=(1, 2), help="training.py --intra_op_threads 1 --inter_op_threads 2"),
    "xla_threads_2_1": dict(jit=True, threads=(2, 1), help="XLA + --intra_op_threads 2 --inter_op_threads 1"),
    "bf16": dict(precision="mixed_bfloat16", help="--precision mixed_bfloat16 (not like-for-like with float32 PyTorch)"),
}
DEFAULT_SET = ["default", "xla", "threads_1_2"]


def model_config(args) -> dict:
    return dict(embed_dim=args.width, num_heads=args.heads, ff_dim=args.ff, transformer_dropout_prob=0.0,
                transformer_num_hidden_dense=0, transformer_hidden_dense_size=args.width,
                transformer_hidden_dense_activation="relu", transformer_num_layers=args.layers,
                max_seq_len=args.seq_len, seq_len=args.seq_len, optimizer="adam", learning_rate=1e-3,
                loss_function="sparse_categorical_crossentropy")


# ----------------------------------------------------------------------------------------- PyTorch


def run_torch(args) -> dict:
    import numpy as np
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.manual_seed(args.seed)
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    heads, depth, length = args.heads, args.width // args.heads, args.seq_len

    class RelativeSelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(args.width, 3 * args.width)
            self.output = nn.Linear(args.width, args.width)
            self.relative = nn.Parameter(torch.randn(heads, length, depth) * depth ** -0.5)
            self.register_buffer("causal", torch.ones(length, length, dtype=torch.bool).tril())

        def forward(self, x):
            b, n, _ = x.shape
            q, k, v = self.qkv(x).view(b, n, 3, heads, depth).permute(2, 0, 3, 1, 4)
            relative = torch.einsum("bhid,hjd->bhij", q, self.relative[:, -n:])
            relative = F.pad(relative, (1, 0)).reshape(b, heads, n + 1, n)[:, :, 1:]  # skewing
            logits = (q @ k.transpose(-1, -2) + relative) * depth ** -0.5
            weights = logits.masked_fill(~self.causal[:n, :n], float("-inf")).softmax(-1)
            return self.output((weights @ v).transpose(1, 2).reshape(b, n, args.width))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.attention_norm = nn.LayerNorm(args.width, eps=1e-6)
            self.attention = RelativeSelfAttention()
            self.feed_forward_norm = nn.LayerNorm(args.width, eps=1e-6)
            self.feed_forward = nn.Sequential(nn.Linear(args.width, args.ff), nn.ReLU(), nn.Linear(args.ff, args.width))

        def forward(self, x):
            x = x + self.attention(self.attention_norm(x))
            return x + self.feed_forward(self.feed_forward_norm(x))

    class TorchMusicTransformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(VOCAB, args.width)
            self.blocks = nn.Sequential(*[Block() for _ in range(args.layers)])
            self.final_norm = nn.LayerNorm(args.width, eps=1e-6)
            self.logits = nn.Linear(args.width, VOCAB)

        def forward(self, tokens):
            return self.logits(self.final_norm(self.blocks(self.embedding(tokens))))

    windows = random_windows(args.batch * args.num_batches, args.seq_len, VOCAB, args.seed)
    inputs = torch.from_numpy(windows[:, :-1].astype(np.int64))
    targets = torch.from_numpy(windows[:, 1:].astype(np.int64))
    batches = [(inputs[i: i + args.batch], targets[i: i + args.batch]) for i in range(0, len(windows), args.batch)]
    model = TorchMusicTransformer()
    model.train()
    loss_fn = nn.CrossEntropyLoss(ignore_index=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    step = 0

    def train_steps(n):
        nonlocal step
        loss = None
        for _ in range(n):
            x, y = batches[step % len(batches)]
            step += 1
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x).reshape(-1, VOCAB), y.reshape(-1))
            loss.backward()
            optimizer.step()
        return float("nan") if loss is None else float(loss)  # --warmup 0 runs no step

    start = time.perf_counter()
    train_steps(args.warmup)
    warmup_s = time.perf_counter() - start
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        loss = train_steps(args.steps)
        times.append(time.perf_counter() - start)
    return {"framework": f"torch {torch.__version__}",
            "threads": f"torch threads={torch.get_num_threads()}, interop={torch.get_num_interop_threads()}",
            "times": times, "loss": loss, "warmup_s": warmup_s,
            "parameters": sum(p.numel() for p in model.parameters())}


# -------------------------------------------------------------------------------------- TensorFlow


def run_tf(args, name: str) -> dict:
    spec = VARIANTS[name]
    prepare_tf_child(spec, args.seed)
    import keras
    import tensorflow as tf

    from zoo.data.dataset import window_dataset
    from zoo.encodings import EventEncoding
    from zoo.core.registry import get_model_type
    from zoo.engine.train import build_compiled

    config = model_config(args)
    if "jit" in spec:
        config["jit_compile"] = spec["jit"]
    model = build_compiled(get_model_type("transformer"), config, EventEncoding())
    windows = random_windows(args.batch * args.num_batches, args.seq_len, VOCAB, args.seed)
    dataset = window_dataset(windows, args.batch, shuffle=False).repeat()

    timed = fit_timed(model, dataset, args.warmup, args.steps, args.repeats)
    return {"framework": f"tensorflow {tf.__version__} / keras {keras.__version__}", "threads": tf_threads(),
            "times": timed["times"], "warmup_s": timed["warmup_s"],
            "loss": float(timed["logs"].get("loss", float("nan"))), "parameters": model.count_params()}


# ------------------------------------------------------------------------------------------ driver


def run(name: str, args) -> dict:
    """One measurement in its own process, with its progress line."""
    argv = training_argv(args) + ["--layers", str(args.layers), "--width", str(args.width),
                                  "--heads", str(args.heads), "--ff", str(args.ff)]
    if args.torch_threads:
        argv += ["--torch-threads", str(args.torch_threads)]
    result = measure(__file__, name, argv, lambda r: args.batch * args.steps)
    print(describe(result, "samples/s", f"{result.get('parameters')} parameters, "
                                        f"last loss {result.get('loss', float('nan')):.3f}"), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_training_arguments(parser, DEFAULT_SET, steps=10, repeats=3, warmup=3, batch=16, seq_len=256,
                           num_batches=8)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--ff", type=int, default=1024)
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch.set_num_threads for PyTorch (default: torch's, one per core)")
    args = parser.parse_args()

    names = variants_to_measure(args, parser, VARIANTS, DEFAULT_SET,
                                lambda name: run_torch(args) if name == "torch" else run_tf(args, name))
    if names is None:
        return

    print(f"transformer training throughput: {args.layers} layers, width {args.width}, {args.heads} heads, "
          f"ff {args.ff}, vocab {VOCAB}, seq_len {args.seq_len}, batch {args.batch}; {args.steps} steps x "
          f"{args.repeats} repeats after {args.warmup} warm-up steps; os.cpu_count()={os.cpu_count()}", flush=True)
    compare_with_peer(lambda name: run(name, args), names, "samples/s")
    print(f"(one sample = one window of {args.seq_len} tokens)")


if __name__ == "__main__":
    main()
