"""`python -m zoo evaluate`: a run's own numbers on its test split, and musical metrics of its samples.

Two parts (specs/metrics.md §7):
1. the model type's `evaluate` hook (for next-token models the NLL per event and token accuracy,
   zoo/core/token_model_type.py; `{}` for types without a likelihood), appended to weights/NAME/evaluation.csv;
2. with `--num_samples N > 0`, the metrics of zoo.metrics on N sampled pieces beside the same metrics
   on the decoded test split, with their absolute difference: a table on screen and
   weights/NAME/metrics.csv (rewritten each time).
Both files go to the run's output place (`RunFolder.outputs`): outputs/NAME/ for a preset, which is read-only.

The test split is `-p`, else the one the run recorded in config.json; when that file is gone (a run from
another machine, a preset on a fresh clone), the run's own recorded flags resolve its data again through the
model type's `resolve_data` (the embedded corpora are prepared again, deterministically, into the data cache).
"""
from __future__ import annotations

import csv
import dataclasses
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from zoo.atomic import atomic_path
from zoo.core.run_folder import RunConfig, RunFolder
from zoo.data.dataset import EncodedSplit, load_split
from zoo.engine.generate import load_run
from zoo.errors import DataError, ZooError
from zoo.metrics import METRIC_RESOLUTION, compare_metrics
from zoo.music.score import Score

SAMPLE_BATCH = 32  # pieces per sample_scores call: one call (one compiled loop) for the default 16
METRICS_COLUMNS = ["metric", "generated", "test", "abs_diff"]
# Errors a decoder can raise on data it was not meant for (e.g. a dict piece); anything else is a bug.
_DECODE_ERRORS = (NotImplementedError, ZooError, ValueError, TypeError, KeyError, IndexError)


def evaluate(args: dict[str, Any]) -> dict[str, Any]:
    """Evaluates a run on its test split (or `--data_path`); prints the numbers and appends them to evaluation.csv.

    With `num_samples > 0` also compares musical metrics of that many samples (drawn with `seed`,
    `sample_length` in the model type's unit, None for its default) with the test split's, and
    writes them to metrics.csv. Returns the evaluation.csv row plus "metrics" (rows, or None if skipped).
    """
    run = RunFolder(Path(args["weights_path"]), args["name"])
    run.load_config()  # a run that is not there is said so before anything is locked
    with run.writing():  # evaluation.csv and metrics.csv have one writer, as the run's training files do
        return _evaluate(args)


def _evaluate(args: dict[str, Any]) -> dict[str, Any]:
    num_samples = int(args.get("num_samples") or 0)
    run, config, model_type, encoding, model = load_run(args["weights_path"], args["name"],
                                                        checkpoint=args["checkpoint"])
    test_path = args.get("data_path") or run_test_split(run.name, config, model_type)
    if not Path(test_path).is_file():
        raise DataError(f"no test split for run '{run.name}' ({test_path} is not a file; pass one with "
                        "-p DATA/test.pkl)")
    run.check_no_links(run.metrics_csv, run.evaluation_csv)
    split = load_split(test_path)
    if split.encoding != config["encoding"]:
        raise DataError(f"{test_path} was not encoded like run '{run.name}'s training data")
    if args.get("pieces"):  # a quick check on the first N pieces (a card's figure is the whole split's)
        split = dataclasses.replace(split, pieces=split.pieces[:args["pieces"]], sources=split.sources[:args["pieces"]])
    run_config = RunConfig.from_dict(config)
    numbers = model_type.evaluate(model, run_config, encoding, split, args, run)
    for key, value in numbers.items():
        print(f"{key:>20}: {value:.4f}" if isinstance(value, float) else f"{key:>20}: {value}")

    rows = None
    if num_samples:
        rows = musical_metrics(model_type, model, run_config, encoding, split, num_samples,
                               int(args.get("seed") or 0), args.get("sample_length"))
    if rows is not None:
        print(format_metrics_table(rows, f"{num_samples} samples vs {len(split.pieces)} test pieces "
                                         f"({test_path}, {encoding.name} encoding)"))
        metrics_path = run.metrics_csv
        write_metrics_csv(rows, metrics_path)
        print(f"wrote {metrics_path}", file=sys.stderr)

    result = {
        "run": run.name,
        "checkpoint": args["checkpoint"],
        "test_data": str(test_path),
        "pieces": len(split.pieces),
        **numbers,
        "metric_samples": num_samples if rows is not None else 0,
        "seed": int(args.get("seed") or 0),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    csv_path = run.evaluation_csv
    append_csv_row(csv_path, result)
    print(f"appended to {csv_path}", file=sys.stderr)
    return {**result, "metrics": rows}


def run_test_split(name: str, config: dict[str, Any], model_type) -> str:
    """The test split run `name` recorded in config.json; when that file is gone (a run from another machine, a
    preset on a fresh clone), the test split of the data its recorded flags resolve to (`model_type.resolve_data`).

    A data path from config.json is as good as one from -p: user data, read by the restricted unpickler.
    DataError, one line naming what to pass, when neither gives one.
    """
    data_paths = config.get("data") if isinstance(config.get("data"), dict) else {}
    recorded = data_paths.get("test")
    if isinstance(recorded, str) and Path(recorded).is_file():
        return recorded
    why = f"{recorded} is not here" if isinstance(recorded, str) else "config.json names none"
    args = config.get("args")
    test_path = None
    if isinstance(args, dict):
        try:
            test_path = model_type.resolve_data(dict(args)).paths.get("test")
        except (ZooError, KeyError, OSError) as error:  # data gone, or a flag an older run did not record
            why += f", and its recorded flags do not resolve its data ({type(error).__name__}: {str(error)[:160]})"
        else:
            why += ", and the data its recorded flags resolve to has no test split" if test_path is None else ""
    if test_path is None or not Path(test_path).is_file():
        raise DataError(f"no test split for run '{name}' ({why}; pass one with -p DATA/test.pkl)")
    print(f"note: {why}; using the test split of the data the run's recorded flags resolve to: {test_path}",
          file=sys.stderr)
    return str(test_path)


def draw_samples(model_type, model, config: dict[str, Any], encoding, num_samples: int, seed: int,
                 length: int | None = None) -> list[Score]:
    """`num_samples` pieces from `model_type.sample_scores`, `SAMPLE_BATCH` at a time behind a progress bar.

    The first batch uses `seed` itself (so up to 32 samples equal one `sample_scores(..., seed)` call);
    later batches use seeds derived from (seed, batch index).
    """
    scores: list[Score] = []
    with tqdm(total=num_samples, desc="sampling", unit="piece", leave=False, disable=None) as bar:
        for index, first in enumerate(range(0, num_samples, SAMPLE_BATCH)):
            count = min(SAMPLE_BATCH, num_samples - first)
            batch_seed = seed if index == 0 else int(np.random.SeedSequence([seed, index]).generate_state(1)[0] >> 1)
            scores.extend(model_type.sample_scores(model, config, encoding, count, batch_seed, length))
            bar.update(count)
    return scores


def decode_split(encoding, split: EncodedSplit) -> list[Score]:
    """The test split's pieces back as scores (raises what the decoder raises)."""
    return [encoding.decode(piece) for piece in tqdm(split.pieces, desc="decoding test split", unit="piece",
                                                      leave=False, disable=None)]


def musical_metrics(model_type, model, config: dict[str, Any], encoding, split: EncodedSplit, num_samples: int,
                    seed: int, length: int | None = None) -> list[dict] | None:
    """Rows {"metric", "generated", "reference", "abs_diff"} of `zoo.metrics.compare_metrics`.

    None, after a one-line note on stderr, when the model type cannot sample or the test split
    cannot be decoded.
    """
    pieces = model_type.metric_pieces(model, config, encoding, split, num_samples, seed, length)
    if pieces is not None:
        generated, reference = pieces
        return compare_metrics(same_parts(generated, reference), reference)
    try:
        reference = decode_split(encoding, split)
    except _DECODE_ERRORS as error:
        print(f"note: no musical metrics: the test split cannot be decoded by the "
              f"'{encoding.name}' encoding ({type(error).__name__}: {error})", file=sys.stderr)
        return None
    try:
        generated = draw_samples(model_type, model, config, encoding, num_samples, seed, length)
    except NotImplementedError:
        print(f"note: no musical metrics: model type '{model_type.name}' does not sample pieces", file=sys.stderr)
        return None
    return compare_metrics(same_parts(generated, reference), reference)


def same_parts(generated: list[Score], reference: list[Score]) -> list[Score]:
    """The generated pieces with only the tracks the test pieces have (by name), so metrics compare like with
    like: a lead-sheet sample's chord track is accompaniment the model does not write and the decoded test
    melodies do not have. Unchanged when no generated track name is among the reference's."""
    names = {track.name for score in reference for track in score.tracks}
    if not any(track.name in names for score in generated for track in score.tracks):
        return generated
    return [dataclasses.replace(score, tracks=[track for track in score.tracks if track.name in names])
            for score in generated]


def _number(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.4f}"


def format_metrics_table(rows: list[dict], source: str) -> str:
    """The metrics table as text: metric, generated mean, test mean, |difference|; `source` says what was compared."""
    lines = [f"musical metrics, means of {source}; {METRIC_RESOLUTION} steps per quarter, NaN where undefined",
             f"{'metric':<26}{'generated':>12}{'test':>12}{'|diff|':>12}"]
    for row in rows:
        lines.append(f"{row['metric']:<26}{_number(row['generated']):>12}{_number(row['reference']):>12}"
                     f"{_number(row['abs_diff']):>12}")
    return "\n".join(lines)


def write_metrics_csv(rows: list[dict], path: Path) -> None:
    """Writes the rows as CSV (metric, generated, test, abs_diff; NaN as 'nan'), atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(METRICS_COLUMNS)
            for row in rows:
                writer.writerow([row["metric"], repr(row["generated"]), repr(row["reference"]), repr(row["abs_diff"])])


def append_csv_row(path: Path, row: dict[str, Any]) -> None:
    """Appends `row` to the CSV at `path`, keeping every row aligned with the header.

    The file is rewritten whole, atomically (it holds one row per evaluation): a full disk leaves the old
    file, never half a row. A header that lists other columns (another model type, an older version)
    becomes the union of the columns; cells a row does not have stay empty.
    """
    header: list[str] = []
    old_rows: list[dict[str, str]] = []
    if path.exists():
        with open(path, newline="") as file:
            reader = csv.DictReader(file)
            header, old_rows = list(reader.fieldnames or []), list(reader)
    columns = header + [key for key in row if key not in header]
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=columns, restval="", extrasaction="ignore")
            writer.writeheader()
            writer.writerows(old_rows)
            writer.writerow(row)
