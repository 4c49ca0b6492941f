"""Presets: finished runs shipped under `weights/<preset>/`, described by a `preset.json` (data, not code).

A preset folder holds `config.json`, `model.keras` (best weights, no optimizer state), `training_log.csv`,
`README.md` (the model card), `preset.json` and maybe a small `primer.*` file. It is read-only: what is made
from it goes to `outputs/<preset>/` (`zoo.core.run_folder.RunFolder.outputs`). `preset.json`:

    {"name": "bach-lstm", "model_type": "lstm", "title": "LSTM composer on Bach chorales",
     "data": {"name": ..., "source": "music21:bach", "licence": ..., "pieces": {"train": 300, "valid": 37, "test": 37}},
     "weights_licence": "CC-BY-4.0", "parameters": 1234567, "files": {"model.keras": "<sha256 hex>"},
     "headline": {"metric": "nll_per_event", "value": 1.234, "label": "test NLL/event (nats)"},
     "training": {"command": ..., "epochs": 12, "steps": 3000, "wall_time_s": 900, "machine": "2-core AMD EPYC"},
     "evaluate": {"command": ...}, "generate": {"command": ...}}

Every key is required; `read_preset` raises a RunError naming the first one missing or mistyped. This module
also puts runs side by side (`compare_runs`, `python -m zoo compare`): it imports no TensorFlow, and pandas
only inside `compare_runs`.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.atomic import atomic_path
from zoo.core.run_folder import PRESET_FILE, RunFolder, check_run_name
from zoo.errors import RunError, UsageError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PRESET_FILE", "PresetInfo", "read_preset", "list_presets", "verify_checksums", "shipped_bytes",
           "sha256_file", "format_presets_table", "compare_runs", "format_comparison", "markdown_table",
           "write_comparison"]

_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_SCHEMA_HINT = "see README.md, 'Presets', for the schema"


@dataclasses.dataclass(frozen=True)
class PresetData:
    """The data a preset trained on: its `name`, `source` (e.g. `music21:bach`), `licence`, pieces per split."""

    name: str
    source: str
    licence: str
    pieces: Mapping[str, int]


@dataclasses.dataclass(frozen=True)
class Headline:
    """The one figure a preset is listed with: `metric` (an evaluation.csv column), its `value` and a `label`."""

    metric: str
    value: float
    label: str


@dataclasses.dataclass(frozen=True)
class TrainingRecord:
    """How a preset was trained: the exact `command`, `epochs`, `steps`, `wall_time_s` and the `machine`."""

    command: str
    epochs: int
    steps: int
    wall_time_s: float
    machine: str


@dataclasses.dataclass(frozen=True)
class PresetInfo:
    """A preset's `preset.json`, checked; `folder` is where it was read from."""

    name: str
    model_type: str
    title: str
    data: PresetData
    weights_licence: str
    parameters: int
    files: Mapping[str, str]
    headline: Headline
    training: TrainingRecord
    evaluate_command: str
    generate_command: str
    folder: Path

    @classmethod
    def from_dict(cls, content: Any, folder: Path) -> "PresetInfo":
        """From preset.json's content; RunError naming the first key missing or of the wrong type."""
        check = _Checker(Path(folder) / PRESET_FILE)
        name, model_type = check.get(content, "name", str), check.get(content, "model_type", str)
        title = check.get(content, "title", str)
        data = check.get(content, "data", dict)
        pieces = check.get(data, "pieces", dict, "data")
        for split, count in pieces.items():
            check.value(count, int, f"data.pieces.{split}")
        headline, training = check.get(content, "headline", dict), check.get(content, "training", dict)
        files = check.get(content, "files", dict)
        if not files:
            check.fail("'files' names no file (at least model.keras with its sha256)")
        for file_name, digest in files.items():
            parts = Path(file_name).parts
            if Path(file_name).is_absolute() or ".." in parts or "\\" in file_name or not file_name.strip("./"):
                check.fail(f"'files' names {file_name!r}, not a file inside the preset folder")
            if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
                check.fail(f"'files.{file_name}' must be a sha256 hex digest (got {str(digest)[:80]!r})")
        return cls(
            name=name, model_type=model_type, title=title,
            data=PresetData(check.get(data, "name", str, "data"), check.get(data, "source", str, "data"),
                            check.get(data, "licence", str, "data"), dict(pieces)),
            weights_licence=check.get(content, "weights_licence", str),
            parameters=check.get(content, "parameters", int), files={k: v.lower() for k, v in files.items()},
            headline=Headline(check.get(headline, "metric", str, "headline"),
                              float(check.get(headline, "value", float, "headline")),
                              check.get(headline, "label", str, "headline")),
            training=TrainingRecord(check.get(training, "command", str, "training"),
                                    check.get(training, "epochs", int, "training"),
                                    check.get(training, "steps", int, "training"),
                                    float(check.get(training, "wall_time_s", float, "training")),
                                    check.get(training, "machine", str, "training")),
            evaluate_command=check.get(check.get(content, "evaluate", dict), "command", str, "evaluate"),
            generate_command=check.get(check.get(content, "generate", dict), "command", str, "generate"),
            folder=Path(folder),
        )

    def to_dict(self) -> dict[str, Any]:
        """preset.json's content (the inverse of `from_dict`)."""
        return {
            "name": self.name, "model_type": self.model_type, "title": self.title,
            "data": {"name": self.data.name, "source": self.data.source, "licence": self.data.licence,
                     "pieces": dict(self.data.pieces)},
            "weights_licence": self.weights_licence, "parameters": self.parameters, "files": dict(self.files),
            "headline": dataclasses.asdict(self.headline), "training": dataclasses.asdict(self.training),
            "evaluate": {"command": self.evaluate_command}, "generate": {"command": self.generate_command},
        }

    @property
    def size_mb(self) -> float:
        """Megabytes (10^6 bytes) of the files in the preset folder: what a clone carries."""
        return shipped_bytes(self.folder) / 1e6


class _Checker:
    """Reads keys of preset.json's objects, raising RunError (naming the file and the key) when one does not fit."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, what: str):
        raise RunError(f"{self.path} is corrupt: {what} ({_SCHEMA_HINT})")

    def get(self, mapping: Any, key: str, kind: type, where: str = "") -> Any:
        full = f"{where}.{key}" if where else key
        if not isinstance(mapping, dict):
            self.fail(f"'{where or 'preset.json'}' must be a JSON object")
        if key not in mapping:
            self.fail(f"'{full}' is missing")
        return self.value(mapping[key], kind, full)

    def value(self, value: Any, kind: type, full: str) -> Any:
        names = {str: "a non-empty string", int: "a whole number >= 0", float: "a number", dict: "a JSON object"}
        fits = {
            str: isinstance(value, str) and bool(value.strip()),
            int: isinstance(value, int) and not isinstance(value, bool) and value >= 0,
            float: isinstance(value, (int, float)) and not isinstance(value, bool),
            dict: isinstance(value, dict),
        }[kind]
        if not fits:
            self.fail(f"'{full}' must be {names[kind]} (got {json.dumps(value)[:80]})")
        return value


def read_preset(folder: str | Path) -> PresetInfo | None:
    """The preset.json of run folder `folder`, checked; None when the folder is an ordinary run (no preset.json).

    RunError when preset.json is corrupt (bad JSON, a key missing or mistyped, a name other than the folder's, a
    model type other than config.json's) or when the folder's config.json is missing or corrupt.
    """
    folder = Path(folder)
    path = folder / PRESET_FILE
    if not path.exists():
        return None
    try:
        content = json.loads(path.read_text())
    except (ValueError, RecursionError, OSError) as error:  # bad JSON or UTF-8, a folder, unreadable
        raise RunError(f"{path} is corrupt: {str(error)[:200]}") from None
    if not isinstance(content, dict):
        raise RunError(f"{path} is corrupt: not a JSON object ({_SCHEMA_HINT})")
    info = PresetInfo.from_dict(content, folder)
    if info.name != folder.name:
        raise RunError(f"{path} is corrupt: it names preset '{info.name}', but its folder is '{folder.name}'")
    try:
        check_run_name(info.name)
    except UsageError as error:
        raise RunError(f"{path} is corrupt: {error}") from None
    config = RunFolder(folder.parent, folder.name).load_config()
    if config["model_type"] != info.model_type:
        raise RunError(f"{path} is corrupt: it says model type '{info.model_type}', its config.json "
                       f"'{config['model_type']}'")
    return info


def list_presets(weights_root: str | Path = "weights") -> list[PresetInfo]:
    """Every preset under `weights_root` (folders holding preset.json), sorted by name; RunError for a corrupt one."""
    root = Path(weights_root)
    if not root.is_dir():
        return []
    folders = [path.parent for path in root.glob(f"*/{PRESET_FILE}")]
    return sorted((read_preset(folder) for folder in folders), key=lambda info: info.name)


def sha256_file(path: str | Path) -> str:
    """The sha256 hex digest of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_checksums(folder: str | Path) -> list[str]:
    """The names in preset.json's `files` whose file is missing or whose sha256 differs; [] when all match.

    RunError when `folder` is not a preset or its preset.json is corrupt.
    """
    folder = Path(folder)
    info = read_preset(folder)
    if info is None:
        raise RunError(f"{folder} is not a preset (no {PRESET_FILE})")
    return [name for name, digest in info.files.items()
            if not (folder / name).is_file() or sha256_file(folder / name) != digest]


def shipped_bytes(folder: str | Path) -> int:
    """Bytes of the plain files in `folder` and below (links not followed)."""
    return sum(path.lstat().st_size for path in Path(folder).rglob("*") if path.is_file() and not path.is_symlink())


def _count(value: int) -> str:
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:.3g}{unit}"
    return str(value)


def format_presets_table(presets: list[PresetInfo]) -> str:
    """A fixed-width table: name, model type, data, parameters, MB, headline figure."""
    header = ["name", "model type", "data", "parameters", "MB", "headline"]
    rows = [[info.name, info.model_type, info.data.name, _count(info.parameters), f"{info.size_mb:.1f}",
             f"{info.headline.value:.4g} {info.headline.label}"] for info in presets]
    return _fixed_width([header, *rows])


def _fixed_width(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)


# ---------------------------------------------------------------- python -m zoo compare
def compare_runs(weights_root: str | Path = "weights", names: list[str] | None = None,
                 outputs_root: str | Path = "outputs") -> tuple["pd.DataFrame", list[str]]:
    """One row per run: model type, checkpoint, test pieces, the numeric columns of its last evaluation.csv
    row, and per musical metric of metrics.csv its `_generated` value, the test split's (`_test`) and the
    relative gap |generated - test| / |test| (`_rel_gap`, NaN where the test value is 0 or undefined).

    `names` None: every run under `weights_root` that has either file. Each is read from the run's output
    place (`RunFolder.outputs`: outputs/<preset>/ for a preset). Returns the table and the names of runs that
    have neither file. RunError for an unknown run or a corrupt file.
    """
    import pandas as pd

    root = Path(weights_root)
    if names is None:
        names = sorted(path.parent.name for path in root.glob("*/config.json")) if root.is_dir() else []
    rows, missing, eval_columns, metric_columns = [], [], [], []
    for name in names:
        run = RunFolder(root, name, outputs_root=Path(outputs_root))
        config = run.load_config()
        evaluation_csv, metrics_csv = _latest(run, run.evaluation_csv), _latest(run, run.metrics_csv)
        if not evaluation_csv.is_file() and not metrics_csv.is_file():
            missing.append(name)
            continue
        row: dict[str, Any] = {"run": name, "model_type": config["model_type"], "checkpoint": None,
                               "test_pieces": None}
        if evaluation_csv.is_file():
            evaluation = _read_csv(pd, evaluation_csv)
            if len(evaluation):
                last = evaluation.iloc[-1]
                row["checkpoint"] = last.get("checkpoint")
                row["test_pieces"] = last.get("pieces")
                for column in evaluation.columns:
                    if column != "pieces" and pd.api.types.is_numeric_dtype(evaluation[column]):
                        row[column] = last[column]
                        eval_columns += [] if column in eval_columns else [column]
        if metrics_csv.is_file():
            metrics = _read_csv(pd, metrics_csv)
            if not {"metric", "generated", "test"} <= set(metrics.columns):
                raise RunError(f"{metrics_csv} is corrupt: it needs the columns metric, generated, test")
            for metric, generated, test in zip(metrics["metric"], pd.to_numeric(metrics["generated"], errors="coerce"),
                                               pd.to_numeric(metrics["test"], errors="coerce")):
                gap = abs(generated - test) / abs(test) if math.isfinite(test) and test != 0 else math.nan
                columns = [f"{metric}_generated", f"{metric}_test", f"{metric}_rel_gap"]
                row.update(zip(columns, (float(generated), float(test), float(gap))))
                metric_columns += [] if columns[0] in metric_columns else columns
        rows.append(row)
    columns = ["run", "model_type", "checkpoint", "test_pieces", *eval_columns, *metric_columns]
    return pd.DataFrame(rows, columns=columns), missing


def _latest(run: RunFolder, output: Path) -> Path:
    """A run's output file; for a preset not evaluated here, the one it ships (its card's figures)."""
    return output if output.is_file() or not run.is_preset else run.path / output.name


def _read_csv(pd, path: Path) -> "pd.DataFrame":
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as error:
        raise RunError(f"{path} is corrupt: {str(error).strip()[:200]}") from None


def _cell(value: Any) -> str:
    """A table cell: whole numbers as such, other numbers to 5 significant digits, NaN as 'nan', None empty."""
    if hasattr(value, "item") and not isinstance(value, str):  # a numpy scalar
        value = value.item()
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.5g}"
    return str(value)


def format_comparison(frame: "pd.DataFrame") -> str:
    """The comparison for a terminal: one column per run, one row per figure (the CSV is one row per run)."""
    if frame.empty:
        return "nothing to compare"
    cells = [["", *[_cell(v) for v in frame["run"]]]]
    cells += [[column, *[_cell(v) for v in frame[column]]] for column in frame.columns if column != "run"]
    return _fixed_width(cells)


def markdown_table(frame: "pd.DataFrame") -> str:
    """The comparison as a GitHub Markdown table, one row per run (written here: pandas' needs tabulate)."""
    def line(cells):
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    numeric = [column != "run" and all(isinstance(v, (int, float)) or hasattr(v, "item") for v in frame[column])
               for column in frame.columns]
    lines = [line(list(map(str, frame.columns))), "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    lines += [line([_cell(v) for v in values]) for values in frame.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def write_comparison(frame: "pd.DataFrame", output_dir: str | Path) -> tuple[Path, Path]:
    """Writes `compare.csv` (NaN as 'nan') and `compare.md` to `output_dir`, atomically; returns both paths."""
    output_dir = Path(output_dir)
    csv_path, md_path = output_dir / "compare.csv", output_dir / "compare.md"
    with atomic_path(csv_path) as tmp:
        frame.to_csv(tmp, index=False, na_rep="nan")
    with atomic_path(md_path) as tmp:
        tmp.write_text(markdown_table(frame))
    return csv_path, md_path
