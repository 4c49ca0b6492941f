"""How far --init_from starts ahead: first-epoch training loss from another run's weights vs from scratch.

For every registered model type, on the tiny recipes of tests/fixtures/tiny_runs.py (the legacy fixtures'
small data): train SOURCE for --epochs epochs, then one epoch of NEW with --init_from SOURCE and one of
SCRATCH with the same flags and seed, and print each run's first-epoch loss (training_log.csv). The
first-epoch loss of NEW should sit near SOURCE's last, far below SCRATCH's.

    python tools/warm_start_report.py                       # every type, ~10 min on 2 cores
    python tools/warm_start_report.py lstm poex --epochs 20
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def losses(run: Path) -> list[float]:
    with open(run / "training_log.csv", newline="") as file:
        return [float(row["loss"]) for row in csv.DictReader(file)]


def main() -> None:
    from fixtures.tiny_runs import TINY
    from zoo.cli import run_cli, training_main

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("types", nargs="*", default=sorted(TINY))
    parser.add_argument("--epochs", type=int, default=10, help="epochs of the source run")
    parser.add_argument("--steps_per_epoch", type=int, default=10)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        os.chdir(work)  # any default-data cache goes here
        for name in args.types:
            flags = [str(flag) for flag in TINY[name][0]]
            common = ["-m", name, "-w", str(work / name), "-t", str(work / "logs" / name), "--verbose", "0",
                      "--seed", "0", "--sample_every", "0", "--steps_per_epoch", str(args.steps_per_epoch), *flags]
            runs = {"source": ["-e", str(args.epochs)], "new": ["-e", "1", "--init_from", "source"],
                    "scratch": ["-e", "1"]}
            for run, extra in runs.items():
                if run_cli(training_main, [*common, "-n", run, *extra]) != 0:
                    sys.exit(f"{name}: training {run} failed")
            source, new, scratch = (losses(work / name / run) for run in runs)
            rows.append((name, scratch[0], new[0], source[0], source[-1]))
            print(f"{name}: scratch {scratch[0]:.4f}, init_from {new[0]:.4f} "
                  f"(source: first {source[0]:.4f}, last {source[-1]:.4f})", flush=True)
    print(f"\n{'type':<12} {'scratch':>10} {'init_from':>10} {'source 1st':>11} {'source last':>12}")
    for name, *numbers in rows:
        print(f"{name:<12} " + " ".join(f"{n:>10.4f}" for n in numbers))


if __name__ == "__main__":
    main()
