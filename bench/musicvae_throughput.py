"""Training steps per second of the zoo's flat 2-bar MusicVAE against a PyTorch model of the same shape.

Shape (the seed's flat config at 2 bars, `--size seed`): Embedding(90, 12) -> BiLSTM(2048) -> mu, logvar (512);
decoder 'another': initial state tanh(Linear(512 -> 3 x 2 x 2048)), 3 x LSTM(2048) on [embedding 12, z 512],
output Linear(12 + 2048 + 512 -> 90); 32 steps with a per-example scheduled-sampling coin (greedy
feedback); loss = summed cross-entropy + beta * max(KL - free_bits ln 2, 0); Adam(1e-3, eps 1e-8), global
gradient-norm clip 1.0; batch 64. `--size small` divides every width by 8 (a quick check).
Both train on the same random melody windows (fixed numpy seed), each in its own subprocess, on this CPU,
with the same number of threads (`--threads`, default 1: on a shared 2-core machine PyTorch's 2 spinning
threads slowed it 25x in our runs).

    python bench/musicvae_throughput.py                  # seed size, 3 timed steps each (slow on 2 cores)
    python bench/musicvae_throughput.py --size small --steps 20
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SIZES = {
    "seed": dict(z=512, enc=2048, dec=2048, layers=3, embed=12),
    "small": dict(z=64, enc=256, dec=256, layers=3, embed=12),
}
T, BATCH, CLASSES, FREE_BITS, BETA, SAMPLING = 32, 64, 90, 0.0, 0.2, 0.1


def windows(steps: int):
    import numpy as np

    return np.random.default_rng(0).integers(0, CLASSES, (steps, BATCH, T)).astype(np.int32)


def run_tensorflow(size: dict, warmup: int, steps: int, threads: int) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, str(REPO))
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    from zoo.families.musicvae.melody_encoding import MelodyEncoding
    from zoo.families.musicvae.musicvae_config import resolve_config
    from zoo.families.musicvae.music_vae import MusicVAE

    seq = {"key": "greedy", "params": {"z_size": size["z"], "decoder_args": {"key": "another", "params": {
        "z_size": size["z"], "embed_size": size["embed"], "hidden_size": size["dec"], "n_layers": size["layers"]}}}}
    vae = resolve_config({
        "slice_bar": 2, "z_size": size["z"], "free_bits": FREE_BITS, "seq_decoder_args": json.dumps(seq),
        "encoder_params": json.dumps({"embed_size": size["embed"], "hidden_size": size["enc"], "n_layers": 1}),
        "sampling_settings": json.dumps({"schedule": "constant", "rate": SAMPLING}),
        "beta_settings": json.dumps({"start_beta": BETA, "end_beta": BETA, "duration": 1}),
    })
    config = {"musicvae": vae, "optimizer": "adam", "learning_rate": 1e-3, "grad_clip": 1.0, "jit_compile": "auto"}
    model = MusicVAE.build(config, MelodyEncoding())
    MusicVAE.compile(model, config)
    data = windows(warmup + steps)
    times = []

    class Timer(tf.keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            times.append(time.perf_counter() - self.start)

    history = model.fit(tf.data.Dataset.from_tensor_slices(data), epochs=1, verbose=0, callbacks=[Timer()])
    timed = times[warmup:]
    return {"framework": f"tensorflow {tf.__version__}", "steps_per_s": len(timed) / sum(timed),
            "warmup_s": sum(times[:warmup]), "loss": float(history.history["loss"][-1])}


def run_torch(size: dict, warmup: int, steps: int, threads: int) -> dict:
    import torch
    from torch import nn

    torch.manual_seed(0)
    torch.set_num_threads(threads)
    E, Z, H, L = size["embed"], size["z"], size["dec"], size["layers"]

    class TorchVAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc_embed = nn.Embedding(CLASSES, E)
            self.encoder = nn.LSTM(E, size["enc"], batch_first=True, bidirectional=True)
            self.mu, self.logvar = nn.Linear(2 * size["enc"], Z), nn.Linear(2 * size["enc"], Z)
            self.state = nn.Linear(Z, L * 2 * H)
            self.dec_embed = nn.Embedding(CLASSES + 1, E)
            self.cells = nn.ModuleList([nn.LSTMCell(E + Z if i == 0 else H, H) for i in range(L)])
            self.out = nn.Linear(E + H + Z, CLASSES)

        def forward(self, x):
            _, (h, _) = self.encoder(self.enc_embed(x))
            summary = torch.cat([h[0], h[1]], -1)  # final forward and backward states
            mu, logvar = self.mu(summary), self.logvar(summary)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            parts = torch.tanh(self.state(z)).chunk(2 * L, -1)
            states = [(parts[2 * i], parts[2 * i + 1]) for i in range(L)]
            inputs = torch.cat([torch.full_like(x[:, :1], CLASSES), x[:, :-1]], 1)
            coins = torch.rand(x.shape) < SAMPLING
            prediction, logits = inputs[:, 0], []
            for t in range(T):
                token = torch.where(coins[:, t] & (t > 0), prediction, inputs[:, t])
                emb = self.dec_embed(token)
                h_in = torch.cat([emb, z], -1)
                new = []
                for cell, state in zip(self.cells, states):
                    h, c = cell(h_in, state)
                    new.append((h, c))
                    h_in = h
                states = new
                step = self.out(torch.cat([emb, h_in, z], -1))
                prediction = step.detach().argmax(-1)
                logits.append(step)
            logits = torch.stack(logits, 1)
            r = nn.functional.cross_entropy(logits.reshape(-1, CLASSES), x.reshape(-1).long(),
                                            reduction="sum") / x.shape[0]
            kl = -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(-1)
            return r + BETA * torch.clamp(kl - FREE_BITS * 0.6931471805599453, min=0).mean()

    model = TorchVAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)
    data = torch.from_numpy(windows(warmup + steps)).long()
    times = []
    for batch in data:
        start = time.perf_counter()
        optimizer.zero_grad()
        loss = model(batch)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        times.append(time.perf_counter() - start)
    timed = times[warmup:]
    return {"framework": f"torch {torch.__version__} ({torch.get_num_threads()} threads)",
            "steps_per_s": len(timed) / sum(timed), "warmup_s": sum(times[:warmup]), "loss": float(loss.detach())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="seed")
    parser.add_argument("--steps", type=int, default=3, help="timed training steps per framework")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (tracing, allocation)")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads of each framework (torch.set_num_threads; TF intra- and inter-op pools)")
    parser.add_argument("--worker", choices=["tensorflow", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run = run_tensorflow if args.worker == "tensorflow" else run_torch
        print(json.dumps(run(SIZES[args.size], args.warmup, args.steps, args.threads)))
        return
    results = {}
    for worker in ("torch", "tensorflow"):
        out = subprocess.run([sys.executable, __file__, "--worker", worker, "--size", args.size,
                              "--steps", str(args.steps), "--warmup", str(args.warmup), "--threads", str(args.threads)],
                             capture_output=True, text=True, check=True)
        results[worker] = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{worker}: {results[worker]}", flush=True)
    ratio = results["tensorflow"]["steps_per_s"] / results["torch"]["steps_per_s"]
    print(f"size {args.size}, batch {BATCH}, {args.threads} thread(s), {T} steps: zoo {results['tensorflow']['steps_per_s']:.3f} steps/s, "
          f"PyTorch {results['torch']['steps_per_s']:.3f} steps/s, zoo/PyTorch = {ratio:.2f}x")


if __name__ == "__main__":
    main()
