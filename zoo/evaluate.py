"""`python -m zoo evaluate`: a run's own numbers on its test split, printed and appended to a CSV.

What is measured is the model type's `evaluate` hook: for next-token models the NLL per event
and token accuracy (zoo/models/token.py).
"""
from __future__ import annotations

import csv
import sys
import time
from pathlib import Path
from typing import Any

from zoo.data.dataset import load_split
from zoo.errors import DataError
from zoo.generate import load_run


def evaluate(args: dict[str, Any]) -> dict[str, Any]:
    """Evaluates a run on its test split (or `--data_path`); prints the numbers and appends them to evaluation.csv."""
    run, config, model_type, encoding, model = load_run(args["weights_path"], args["name"], checkpoint=args["checkpoint"])
    test_path = args.get("data_path") or config["data"].get("test")
    if not test_path or not Path(test_path).is_file():
        raise DataError(f"no test split for run '{run.name}' (pass one with -p DATA/test.pkl)")
    split = load_split(test_path)
    if split.encoding != config["encoding"]:
        raise DataError(f"{test_path} was not encoded like run '{run.name}'s training data")
    numbers = model_type.evaluate(model, config["args"], encoding, split, args, run)
    result = {
        "run": run.name,
        "checkpoint": args["checkpoint"],
        "test_data": str(test_path),
        "pieces": len(split.pieces),
        **numbers,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    for key, value in numbers.items():
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
