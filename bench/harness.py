"""What the benchmark scripts share: one measurement per subprocess, timed Keras training, the ratio table.

Each measurement runs in a fresh interpreter because oneDNN, threading and mixed-precision settings
must be fixed before TensorFlow starts, and torch and TensorFlow never share a process. A script
re-invokes itself with `--child NAME ...`; the child prints one `RESULT {json}` line, which
`measure` parses. Rates are derived here from the child's per-repeat times.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
RESULT_PREFIX = "RESULT "


def emit(result: dict) -> None:
    """Print a child's result as the one line `measure` reads."""
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def measure(script: str, name: str, argv: list[str], work_per_repeat: Callable[[dict], float],
            env: dict[str, str] | None = None) -> dict:
    """Run `script --child name argv...` and return its result with `rates` (work per second) added.

    `work_per_repeat(result)` says how much work one timed repeat did (samples, tokens, frames), so
    the rate is `work / time` for each repeat and `rate` their median. A failed child gives a dict
    with `error` (its exit code and the last lines it printed) instead.
    """
    child_env = dict(os.environ)
    child_env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    child_env.update(env or {})
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, script, "--child", name, *argv], env=child_env, cwd=REPO,
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if proc.returncode != 0 or not lines:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
        return {"name": name, "error": f"exit {proc.returncode}: {tail}", "wall_s": wall}
    result = json.loads(lines[-1][len(RESULT_PREFIX):])
    work = work_per_repeat(result)
    result["rates"] = [work / t for t in result["times"]]
    result["rate"] = statistics.median(result["rates"])
    result["name"], result["wall_s"] = name, wall
    return result


def describe(result: dict, unit: str, details: str = "") -> str:
    """One progress line for a measurement: median rate, every repeat, and what ran it."""
    if "error" in result:
        return f"{result['name']}: FAILED ({result['error']})"
    rates = ", ".join(f"{r:.1f}" for r in result["rates"])
    warmup = f"warm-up {result['warmup_s']:.1f}s, " if "warmup_s" in result else ""
    return (f"{result['name']}: {result['rate']:.2f} {unit} median of [{rates}] "
            f"({warmup}process {result['wall_s']:.0f}s; {result['framework']}"
            f"{'; ' + result['threads'] if 'threads' in result else ''}{'; ' + details if details else ''})")


def fit_timed(model: Any, dataset: Any, warmup: int, steps: int, repeats: int) -> dict:
    """Time `repeats` epochs of `steps` Keras training steps after an untimed warm-up epoch.

    The warm-up traces (and XLA-compiles) the train function; its wall time is reported apart.
    Returns `times` per repeat, `warmup_s` and the last epoch's `logs`.
    """
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.times: list[float] = []
            self.logs: dict = {}

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.start)
            self.logs = logs or {}

    start = time.perf_counter()
    model.fit(dataset, epochs=1, steps_per_epoch=warmup, verbose=0)
    warmup_s = time.perf_counter() - start
    timer = EpochTimer()
    model.fit(dataset, epochs=repeats, steps_per_epoch=steps, verbose=0, callbacks=[timer])
    return {"times": timer.times, "warmup_s": warmup_s, "logs": timer.logs}


def tf_threads() -> str:
    """TensorFlow's thread settings in words, for the report."""
    import tensorflow as tf

    return (f"intra_op={tf.config.threading.get_intra_op_parallelism_threads()}, "
            f"inter_op={tf.config.threading.get_inter_op_parallelism_threads()} (0 = TF's default)")


def print_ratio_table(peer_runs: list[dict], results: list[dict], unit: str, peer_name: str = "pytorch") -> None:
    """The table: the peer's median over its runs (before and after ours), then each variant's ratio to it.

    Exits with status 1 when every peer run failed, since no ratio can be given.
    """
    peer_rates = [rate for run in peer_runs if "error" not in run for rate in run["rates"]]
    if not peer_rates:
        print(f"{peer_name} failed; no ratios (pip install -r bench/requirements.txt)")
        sys.exit(1)
    peer_rate = statistics.median(peer_rates)
    width = max([len(peer_name), 8] + [len(r["name"]) for r in results]) + 2
    print()
    print(f"{'variant':{width}s} {unit:>12s} {'ours/' + peer_name:>16s}")
    print(f"{peer_name:{width}s} {peer_rate:12.2f} {1.0:16.2f}")
    for result in results:
        if "error" in result:
            print(f"{result['name']:{width}s} {'failed':>12s} {'-':>16s}")
        else:
            print(f"{result['name']:{width}s} {result['rate']:12.2f} {result['rate'] / peer_rate:16.2f}")
    spread = [run["rate"] for run in peer_runs if "error" not in run]
    print(f"({peer_name} before/after ours: {' / '.join(f'{s:.2f}' for s in spread)} {unit})")


def select_variants(requested: list[str] | None, variants: dict, default_set: list[str], error: Callable) -> list[str]:
    """Variant names from repeatable, comma-separated `--variant` values ('all' = every variant)."""
    names = [n.strip() for item in (requested or [",".join(default_set)]) for n in item.split(",") if n.strip()]
    names = list(variants) if "all" in names else names
    unknown = [n for n in names if n not in variants]
    if unknown:
        error(f"unknown variant(s) {', '.join(unknown)} (see --list)")
    return names


def random_windows(num_windows: int, seq_len: int, vocab: int, seed: int):
    """Random token windows [num_windows, seq_len + 1] in 1..vocab-1 (no PAD = 0), int32: the same in every process."""
    import numpy as np

    return np.random.default_rng(seed).integers(1, vocab, size=(num_windows, seq_len + 1), dtype=np.int32)


def compare_with_peer(run_one: Callable[[str], dict], names: list[str], unit: str, peer: str = "torch") -> None:
    """Measures the peer, each variant, then the peer again (the machine may drift), and prints the ratio table."""
    peer_runs = [run_one(peer)]
    results = [run_one(name) for name in names]
    peer_runs.append(run_one(peer))
    print_ratio_table(peer_runs, results, unit)


def list_variants(variants: dict, default_set: list[str]) -> None:
    """`--list`: every variant, what it changes, and whether it is measured by default."""
    width = max(len(name) for name in variants) + 2
    for name, spec in variants.items():
        print(f"{name:{width}s} {spec['help']}{'  [in default set]' if name in default_set else ''}")


def add_training_arguments(parser, default_set: list[str], steps: int, repeats: int, warmup: int, batch: int,
                           seq_len: int, num_batches: int) -> None:
    """The flags every training-throughput script takes, with that script's defaults."""
    parser.add_argument("--variant", action="append", default=None,
                        help=f"TensorFlow variant(s), repeatable or comma-separated, or 'all'; "
                             f"default: {','.join(default_set)}")
    parser.add_argument("--steps", type=int, default=steps, help=f"timed training steps per repeat (default {steps})")
    parser.add_argument("--repeats", type=int, default=repeats,
                        help=f"timed repeats; the median is reported (default {repeats})")
    parser.add_argument("--warmup", type=int, default=warmup,
                        help=f"untimed warm-up steps after tracing (default {warmup})")
    parser.add_argument("--batch", type=int, default=batch)
    parser.add_argument("--seq-len", type=int, default=seq_len)
    parser.add_argument("--num-batches", type=int, default=num_batches,
                        help=f"distinct batches cycled through (default {num_batches})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--list", action="store_true", help="list the variants and exit")
    parser.add_argument("--child", help=argparse.SUPPRESS)



def training_argv(args) -> list[str]:
    """The flags of `add_training_arguments` as a child's argv (the parent passes them on to `measure`)."""
    return ["--steps", str(args.steps), "--repeats", str(args.repeats), "--warmup", str(args.warmup),
            "--batch", str(args.batch), "--seq-len", str(args.seq_len), "--num-batches", str(args.num_batches),
            "--seed", str(args.seed)]

def prepare_tf_child(spec: dict, seed: int) -> None:
    """In a TensorFlow child: the zoo importable, the variant's threads and precision set, the seed fixed.

    (A variant's environment was set by the parent before this process started; see `measure`.)
    """
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    import keras

    from zoo.engine.threads import configure_threads

    if spec.get("threads"):
        configure_threads(*spec["threads"])  # what --intra_op_threads / --inter_op_threads do
    keras.utils.set_random_seed(seed)
    keras.mixed_precision.set_global_policy(spec.get("precision", "float32"))


def variants_to_measure(args, parser, variants: dict, default_set: list[str],
                        child: Callable[[str], dict]) -> list[str] | None:
    """The parent's variant names; None when this process was a child (it measured and emitted) or `--list`."""
    if args.child:
        result = child(args.child)
        result.setdefault("steps", args.steps)
        emit(result)
        return None
    if args.list:
        list_variants(variants, default_set)
        return None
    return select_variants(args.variant, variants, default_set, parser.error)
