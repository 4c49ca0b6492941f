"""Training steps per second of `poex` at the default size against a PyTorch twin, and generation time.

Both sides train the same two-expert network (interval expert: 50 inputs -> LSTM 300 -> LSTM 300 ->
Dense 27 -> interval decoder; chord expert: 37 -> 300 -> 300 -> 14 -> chord decoder; trainable
initial states; dropout 0.5 with one mask per sequence; normalised product; summed NLL; Adam 2e-4,
epsilon 1e-8) on the same precomputed batches (10 random 4-bar segments of the shared lead sheets,
built once by zoo.families.leadsheet.leadsheet_encoding) in the same order. The TensorFlow side is the zoo's own path:
`zoo.engine.train.build_compiled` and `Model.fit`. Each side warms up (tracing, 3 steps) and then times
`--steps` steps `--repeats` times; the median is reported. Then it times `LeadSheetGenerator` over
32 bars (1,536 steps) of chord changes, first call (with tracing) and a second call.

    python bench/poex_throughput.py [--steps 20] [--repeats 3] [--data ../shared/data/leadsheets]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BATCH, SEG, UNITS = 10, 192, 300


def make_batches(data: Path, count: int, seed: int = 0):
    """`count` batches (inputs dict, target) of random segments, exactly as training draws them."""
    from zoo.families.leadsheet import leadsheet_encoding as ls
    from zoo.families.leadsheet.leadsheet_data import segment_starts
    from zoo.families.leadsheet.leadsheet_model_type import LeadSheetModelType
    from zoo.music.leadsheet import read_leadsheet

    pieces = []
    for path in sorted(data.rglob("*.ls"))[:80]:
        try:
            grid = ls.score_to_grid(read_leadsheet(path))
        except Exception:  # 3/4 etc.: skipped as in prepare
            continue
        if len(grid["pitch"]) >= SEG:
            pieces.append(grid)
    rng = np.random.default_rng(seed)
    encoding = ls.ProductOfExpertsEncoding()
    batches = []
    for _ in range(count):
        windows = []
        for _ in range(BATCH):
            piece = pieces[rng.integers(len(pieces))]
            starts = segment_starts(len(piece["pitch"]), SEG, 48)
            windows.append(ls.window(piece, int(starts[rng.integers(len(starts))]), SEG))
        inputs, target = encoding.batch(windows, rng.integers(-12, 13, BATCH))
        batches.append((LeadSheetModelType.model_inputs(inputs, ("interval", "chord")), target))
    return batches


def time_tensorflow(batches, steps: int, repeats: int) -> tuple[float, list[float]]:
    import tensorflow as tf

    from zoo.core.registry import get_model_type
    from zoo.engine.train import build_compiled

    model = build_compiled(get_model_type("poex"), {"layer_size": [UNITS], "num_layers": [2], "optimizer": "adam",
                                                    "learning_rate": 2e-4, "jit_compile": "auto"}, None)

    def dataset(chunk):
        inputs = {k: np.stack([b[0][k] for b in chunk]).reshape(-1, *chunk[0][0][k].shape[1:]) for k in chunk[0][0]}
        target = np.concatenate([b[1] for b in chunk])
        return tf.data.Dataset.from_tensor_slices((inputs, target)).batch(BATCH)

    start = time.perf_counter()
    model.fit(dataset(batches[:3]), epochs=1, verbose=0, shuffle=False)
    warmup = time.perf_counter() - start
    rates = []
    for r in range(repeats):
        chunk = batches[3 + r * steps: 3 + (r + 1) * steps]
        start = time.perf_counter()
        model.fit(dataset(chunk), epochs=1, verbose=0, shuffle=False)
        rates.append(steps / (time.perf_counter() - start))
    print(f"tensorflow warm-up {warmup:.1f} s; steps/s per repeat: {', '.join(f'{x:.2f}' for x in rates)}")
    return statistics.median(rates), rates


def time_torch(batches, steps: int, repeats: int) -> float:
    import torch

    eps = 1.1920929e-07

    class Expert(torch.nn.Module):
        def __init__(self, inputs: int, raw: int):
            super().__init__()
            self.lstms = torch.nn.ModuleList([torch.nn.LSTM(inputs, UNITS, batch_first=True),
                                              torch.nn.LSTM(UNITS, UNITS, batch_first=True)])
            self.initial = torch.nn.ParameterList([torch.nn.Parameter(torch.randn(2 * UNITS) / (2 * UNITS))
                                                   for _ in range(2)])
            self.full = torch.nn.Linear(UNITS, raw)

        def forward(self, x):
            for lstm, init in zip(self.lstms, self.initial):
                c0 = init[:UNITS].expand(1, x.shape[0], UNITS).contiguous()
                h0 = init[UNITS:].expand(1, x.shape[0], UNITS).contiguous()
                x, _ = lstm(x, (h0, c0))
                if self.training:  # one mask per sequence
                    x = x * (torch.rand(x.shape[0], 1, UNITS) < 0.5).float() * 2.0
            return self.full(x)

    class Poex(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.interval, self.chord = Expert(50, 27), Expert(37, 14)
            self.notes = torch.arange(48, 85)

        def forward(self, inputs):
            r = torch.softmax(self.interval(inputs["interval_features"]), -1)
            idx = self.notes - inputs["interval_pos"][..., None] + 12
            mask = ((idx >= 0) & (idx < 25)).float()
            q = torch.gather(r[..., 2:], -1, idx.clamp(0, 24)) * mask
            p_int = torch.cat([r[..., :2], q], -1) / (q.sum(-1) + r[..., 0] + r[..., 1]).clamp_min(eps)[..., None]
            c = torch.softmax(self.chord(inputs["chord_features"]), -1)
            pc = torch.gather(c[..., 2:], -1, (self.notes - inputs["chord_pos"][..., None]) % 12)
            prod = p_int * torch.cat([c[..., :2], pc], -1)
            return prod / prod.sum(-1, keepdim=True).clamp_min(eps)

    torch.manual_seed(0)
    model = Poex()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-4, eps=1e-8)
    tensors = [({k: torch.from_numpy(np.asarray(v)).long() if k.endswith("_pos") else torch.from_numpy(v)
                 for k, v in inputs.items()}, torch.from_numpy(target).long()) for inputs, target in batches]

    def step(inputs, target):
        optimizer.zero_grad()
        probs = model(inputs)
        loss = -torch.log(torch.gather(probs, -1, target[..., None]) + eps).sum()
        loss.backward()
        optimizer.step()

    start = time.perf_counter()
    for inputs, target in tensors[:3]:
        step(inputs, target)
    warmup = time.perf_counter() - start
    rates = []
    for r in range(repeats):
        start = time.perf_counter()
        for inputs, target in tensors[3 + r * steps: 3 + (r + 1) * steps]:
            step(inputs, target)
        rates.append(steps / (time.perf_counter() - start))
    print(f"pytorch {torch.__version__} ({torch.get_num_threads()} threads) warm-up {warmup:.1f} s; "
          f"steps/s per repeat: {', '.join(f'{x:.2f}' for x in rates)}")
    return statistics.median(rates)


def time_generation(bars: int = 32) -> tuple[float, float]:
    import keras
    import tensorflow as tf

    from zoo.core.registry import get_model_type
    from zoo.families.leadsheet.leadsheet_generation import chart_grid
    from zoo.families.leadsheet.leadsheet_network import LeadSheetGenerator

    keras.utils.set_random_seed(0)
    model = get_model_type("poex").build({"layer_size": [UNITS], "num_layers": [2]}, None)
    grid = chart_grid(("Dm7", "G7", "CM7", "A7"), bars)
    generator = LeadSheetGenerator(model, ("interval", "chord"))
    args = (tf.constant(grid["root"][None], tf.int32), tf.constant(grid["chord"][None], tf.float32),
            tf.constant([72], tf.int32))
    times = []
    for seed in (0, 1):
        start = time.perf_counter()
        chosen, _, _ = generator.generate(*args, tf.constant([seed, 0], tf.int32))
        chosen.numpy()
        times.append(time.perf_counter() - start)
    return times[0], times[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "leadsheets"))
    args = parser.parse_args()
    batches = make_batches(Path(args.data), 3 + args.steps * args.repeats)
    torch_rate = time_torch(batches, args.steps, args.repeats)
    tf_rate, _ = time_tensorflow(batches, args.steps, args.repeats)
    first, second = time_generation()
    print(f"poex default size (2 experts x 2 x LSTM 300), batch {BATCH} x {SEG} steps, {os.cpu_count()} CPUs")
    print(f"  zoo (Keras {__import__('keras').__version__}, Model.fit): {tf_rate:.2f} steps/s")
    print(f"  PyTorch twin:                      {torch_rate:.2f} steps/s")
    print(f"  ratio zoo / PyTorch:               {tf_rate / torch_rate:.2f}x")
    print(f"  generation, 32 bars (1536 steps), batch 1: {first:.1f} s first call (traces), {second:.1f} s second")


if __name__ == "__main__":
    main()
