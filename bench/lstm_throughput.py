"""Training throughput of the zoo's `lstm` model against a PyTorch model of the same shape.

MechanicalBach's default size: embedding 128 -> 3 x LSTM(256) -> 2 x Dense(256, relu) -> Dense(vocab),
seq_len 50, batch 64, vocab 390 (the event encoding). Both frameworks train (Adam, sparse cross-entropy
on every next token, PAD = 0 ignored) on the same random int32 token windows (fixed numpy seed), in the
same order, on this machine's CPU. Each measurement runs in its own subprocess (oneDNN and threading
settings must be set before TensorFlow starts; torch and TensorFlow never share a process).

    python bench/lstm_throughput.py                      # PyTorch + the default variant set
    python bench/lstm_throughput.py --variant all        # every variant (takes longer)
    python bench/lstm_throughput.py --variant default --variant xla --steps 30 --repeats 5
    python bench/lstm_throughput.py --list               # the variants and what they change

Prints one line per measurement while running, then a table: variant, samples/s (median of the
repeats), ratio ours / PyTorch. Nothing is asserted about the timings.
"""
from __future__ import annotations

import argparse
import os
import time

from harness import (add_training_arguments, compare_with_peer, describe, fit_timed, measure, prepare_tf_child,
                     random_windows, tf_threads, training_argv, variants_to_measure)

VOCAB = 390  # the event encoding's vocab_size
MODEL_CONFIG = {
    "lstm_size": 256,
    "lstm_num_layers": 3,
    "lstm_dropout_prob": None,
    "lstm_num_hidden_dense": 2,
    "lstm_hidden_dense_size": 256,
    "lstm_hidden_dense_activation": "relu",
    "lstm_embedding_size": 128,
    "optimizer": "adam",
    "learning_rate": None,
    "loss_function": "sparse_categorical_crossentropy",
}

# Each TensorFlow variant: what it changes against the zoo's default training path
# (zoo.engine.train.build_compiled + model.fit on zoo.data.dataset.window_dataset).
#   env: environment set before TensorFlow is imported; jit: compile(jit_compile=...);
#   unroll: LSTM(unroll=True); spe: compile(steps_per_execution=...);
#   threads: (intra_op, inter_op) for tf.config.threading; precision: keras mixed-precision policy.
VARIANTS: dict[str, dict] = {
    "default": dict(help="the zoo as it is: jit_compile='auto' (no XLA on CPU), oneDNN on, TF's thread defaults"),
    "xla": dict(jit=True, help="compile(jit_compile=True): XLA on CPU"),
    "unroll": dict(unroll=True, help="LSTM(unroll=True): the 50 steps unrolled into the graph"),
    "unroll_xla": dict(unroll=True, jit=True, help="unroll + XLA"),
    "spe10": dict(spe=10, help="compile(steps_per_execution=10)"),
    "xla_spe10": dict(jit=True, spe=10, help="XLA + steps_per_execution=10"),
    "unroll_xla_spe10": dict(unroll=True, jit=True, spe=10, help="unroll + XLA + steps_per_execution=10"),
    "onednn_off": dict(env={"TF_ENABLE_ONEDNN_OPTS": "0"}, help="TF_ENABLE_ONEDNN_OPTS=0"),
    "xla_onednn_off": dict(jit=True, env={"TF_ENABLE_ONEDNN_OPTS": "0"}, help="XLA + TF_ENABLE_ONEDNN_OPTS=0"),
    "threads_2_1": dict(threads=(2, 1), help="tf.config.threading intra_op=2, inter_op=1"),
    "threads_1_2": dict(threads=(1, 2), help="training.py --intra_op_threads 1 --inter_op_threads 2"),
    "threads_1_1": dict(threads=(1, 1), help="tf.config.threading intra_op=1, inter_op=1"),
    "threads_1_2_spe10": dict(threads=(1, 2), spe=10, help="intra_op=1, inter_op=2 + steps_per_execution=10"),
    "threads_1_2_unroll": dict(threads=(1, 2), unroll=True, help="intra_op=1, inter_op=2 + LSTM(unroll=True)"),
    "threads_1_2_xla": dict(threads=(1, 2), jit=True, help="intra_op=1, inter_op=2 + XLA"),
    "threads_1_2_bf16": dict(threads=(1, 2), precision="mixed_bfloat16", help="intra_op=1, inter_op=2 + mixed_bfloat16"),
    "xla_threads_2_1": dict(jit=True, threads=(2, 1), help="XLA + intra_op=2, inter_op=1"),
    "bf16": dict(precision="mixed_bfloat16", help="mixed_bfloat16 policy"),
    "xla_bf16": dict(jit=True, precision="mixed_bfloat16", help="XLA + mixed_bfloat16 policy"),
}
DEFAULT_SET = ["default", "xla", "unroll", "spe10", "onednn_off", "bf16", "threads_2_1", "threads_1_2", "threads_1_2_spe10"]


# ----------------------------------------------------------------------------------------- PyTorch


def run_torch(args) -> dict:
    import numpy as np
    import torch
    from torch import nn

    torch.manual_seed(args.seed)

    class TorchLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(VOCAB, 128)
            self.lstm = nn.LSTM(128, 256, num_layers=3, batch_first=True)
            self.hidden = nn.Sequential(nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU())
            self.logits = nn.Linear(256, VOCAB)

        def forward(self, tokens):
            x, _ = self.lstm(self.embedding(tokens))
            return self.logits(self.hidden(x))

    windows = random_windows(args.batch * args.num_batches, args.seq_len, VOCAB, args.seed)
    inputs = torch.from_numpy(windows[:, :-1].astype(np.int64))
    targets = torch.from_numpy(windows[:, 1:].astype(np.int64))
    batches = [
        (inputs[i : i + args.batch], targets[i : i + args.batch]) for i in range(0, len(windows), args.batch)
    ]
    model = TorchLSTM()
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
            logits = model(x)
            loss = loss_fn(logits.reshape(-1, VOCAB), y.reshape(-1))
            loss.backward()
            optimizer.step()
        return float("nan") if loss is None else float(loss)  # --warmup 0 runs no step

    train_steps(args.warmup)
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        loss = train_steps(args.steps)
        times.append(time.perf_counter() - start)
    return {
        "framework": f"torch {torch.__version__}",
        "threads": f"torch.get_num_threads()={torch.get_num_threads()}, interop={torch.get_num_interop_threads()}",
        "times": times,
        "loss": loss,
    }


# -------------------------------------------------------------------------------------- TensorFlow


def run_tf(args, name: str) -> dict:
    spec = VARIANTS[name]
    prepare_tf_child(spec, args.seed)
    import keras
    import tensorflow as tf

    from zoo.data.dataset import window_dataset
    from zoo.core.registry import get_model_type
    from zoo.encodings import EventEncoding
    from zoo.core.optimizers import make_optimizer
    from zoo.engine.train import build_compiled

    model_type = get_model_type("lstm")
    config = dict(MODEL_CONFIG)
    if "jit" in spec:
        config["jit_compile"] = spec["jit"]

    if spec.get("unroll") or spec.get("spe"):
        # Same layers as model_type.build, with the one setting changed, compiled like build_compiled.
        model = model_type.build(config, EventEncoding())
        if spec.get("unroll"):
            def clone(layer):
                layer_config = layer.get_config()
                if isinstance(layer, keras.layers.LSTM):
                    layer_config["unroll"] = True
                return layer.__class__.from_config(layer_config)

            model = keras.models.clone_model(model, clone_function=clone)
        model.compile(  # the arguments of TokenModelType.compile, plus steps_per_execution
            optimizer=make_optimizer(config["optimizer"], config.get("learning_rate")),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            jit_compile=config.get("jit_compile", "auto"),
            steps_per_execution=spec.get("spe", 1),
        )
    else:
        model = build_compiled(model_type, config, EventEncoding())

    windows = random_windows(args.batch * args.num_batches, args.seq_len, VOCAB, args.seed)
    dataset = window_dataset(windows, args.batch, shuffle=False).repeat()

    spe = spec.get("spe", 1)
    steps = max(spe, args.steps // spe * spe)
    warmup = max(spe, -(-args.warmup // spe) * spe)

    timed = fit_timed(model, dataset, warmup, steps, args.repeats)
    return {
        "framework": f"tensorflow {tf.__version__} / keras {keras.__version__}",
        "threads": tf_threads(),
        "times": timed["times"],
        "steps": steps,
        "warmup_s": timed["warmup_s"],
        "loss": float(timed["logs"].get("loss", float("nan"))),
    }


# ------------------------------------------------------------------------------------------ driver


def run(name: str, args) -> dict:
    """One measurement in its own process; a variant's environment is set before TensorFlow starts."""
    argv = training_argv(args)
    env = {} if name == "torch" else VARIANTS[name].get("env", {})
    result = measure(__file__, name, argv, lambda r: args.batch * r["steps"], env)
    print(describe(result, "samples/s", f"{result.get('steps')} steps, last loss {result.get('loss', float('nan')):.3f}"),
          flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_training_arguments(parser, DEFAULT_SET, steps=30, repeats=5, warmup=3, batch=64, seq_len=50,
                           num_batches=16)
    args = parser.parse_args()

    names = variants_to_measure(args, parser, VARIANTS, DEFAULT_SET,
                                lambda name: run_torch(args) if name == "torch" else run_tf(args, name))
    if names is None:
        return

    print(f"lstm throughput: batch {args.batch}, seq_len {args.seq_len}, vocab {VOCAB}, 3x LSTM 256, "
          f"2x Dense 256 relu, embedding 128; {args.steps} steps x {args.repeats} repeats after "
          f"{args.warmup} warm-up steps; os.cpu_count()={os.cpu_count()}", flush=True)
    # PyTorch is measured before and after the TensorFlow variants; the ratio uses the median of both.
    compare_with_peer(lambda name: run(name, args), names, "samples/s")


if __name__ == "__main__":
    main()
