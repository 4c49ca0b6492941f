"""One run = one folder: where a run's config, model, checkpoints, backup, samples and export live.

    weights/<name>/config.json        model type, every flag, encoding config, data, versions
    weights/<name>/model.keras        the final model
    weights/<name>/checkpoints/       last.keras (every epoch) and best.keras (lowest val_loss)
    weights/<name>/backup/            resume state for --resume_auto
    weights/<name>/samples/           MIDI / WAV / PNG written in training and by generate.py
    weights/<name>/export/            SavedModel
    logs/<name>/                      TensorBoard
    weights/.locks/<name>.lock        held by the one process that writes the run (zoo.locks)

A preset (a finished run committed under weights/<name>/ with a `preset.json`, zoo/core/presets.py) is
read-only: what generate.py, `python -m zoo evaluate` and `python -m zoo export` write for it goes to
`outputs/<name>/` (samples/, evaluation.csv, metrics.csv, export/) instead: `RunFolder.outputs`.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from zoo.atomic import write_json
from zoo.errors import RunError, UsageError
from zoo.locks import hold_lock

_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# What a resume (--resume_auto) takes from its command line, when given there: how long training goes on.
# Everything else (the model, the data, the encoding) is the run's own, from its config.json.
RESUMABLE_FLAGS = ("epochs", "max_steps", "patience", "min_delta")
MAX_NAME_LENGTH = 100  # well under a file system's 255 bytes, with room for the suffixes of derived files
PRESET_FILE = "preset.json"  # marks a run folder as a preset (read-only; zoo/core/presets.py reads it)
LOCKS_FOLDER = ".locks"


def check_run_name(name: str) -> str:
    """A run name is one plain folder name: letters, digits, '.', '_', '-' (no paths, no '..').

    fullmatch, not match + '$': '$' also matches before a final newline.
    """
    if (not isinstance(name, str) or not _NAME_PATTERN.fullmatch(name) or ".." in name
            or len(name) > MAX_NAME_LENGTH):
        raise UsageError(f"run name {name!r} is not a plain folder name (use up to {MAX_NAME_LENGTH} letters, "
                         "digits, '.', '_', '-')")
    return name


@dataclasses.dataclass(frozen=True)
class RunConfig(Mapping):
    """A run's config.json as the engine hands it to the model type's hooks.

    It reads as the run's flat flag dict (`config["seq_len"]`, `config.get(...)`, `{**config}`), and it
    carries what else the run recorded, typed: the model type, the run name, the encoding config and the
    paths of the data it trained on, so no hook reads config.json again.
    """

    model_type: str
    name: str
    args: Mapping[str, Any]
    encoding: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    data: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> "RunConfig":
        """From config.json's content (as `RunFolder.load_config` checked it, or as the trainer is writing it)."""
        return cls(model_type=config["model_type"], name=str(config.get("name", "")), args=dict(config.get("args", {})),
                   encoding=dict(config.get("encoding") or {}), data=dict(config.get("data") or {}))

    def __getitem__(self, key: str) -> Any:
        return self.args[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.args)

    def __len__(self) -> int:
        return len(self.args)


@dataclasses.dataclass(frozen=True)
class RunFolder:
    """The folder of run `name` under `weights_root`, and where its logs and outputs go.

    Training writes in `path` (config, model, checkpoints, backup, training samples). What is made from a
    finished run (generate.py's samples, evaluation.csv, metrics.csv, the export) goes to `outputs`: the run
    folder itself, or `outputs_root/<name>/` (relative to the working directory) for a preset, whose folder is
    tracked by git and never written.
    """

    weights_root: Path
    name: str
    logs_root: Path = Path("logs")
    outputs_root: Path = Path("outputs")

    def __post_init__(self):
        check_run_name(self.name)

    @property
    def path(self) -> Path:
        return Path(self.weights_root) / self.name

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def model_path(self) -> Path:
        return self.path / "model.keras"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def backup(self) -> Path:
        return self.path / "backup"

    @property
    def is_preset(self) -> bool:
        """Whether the folder is a preset (holds preset.json): read-only, its outputs go to `outputs_root`."""
        return (self.path / PRESET_FILE).is_file()

    @property
    def outputs(self) -> Path:
        """Where this run's outputs go: the run folder, or `outputs_root/<name>/` for a preset."""
        return Path(self.outputs_root) / self.name if self.is_preset else self.path

    @property
    def samples(self) -> Path:
        return self.outputs / "samples"

    @property
    def export(self) -> Path:
        return self.outputs / "export"

    @property
    def evaluation_csv(self) -> Path:
        """`python -m zoo evaluate`'s numbers, one row per evaluation (read by `compare` and the cross-modal info)."""
        return self.outputs / "evaluation.csv"

    @property
    def metrics_csv(self) -> Path:
        """The last evaluation's musical metrics of samples beside the test split's."""
        return self.outputs / "metrics.csv"

    @property
    def log_dir(self) -> Path:
        return Path(self.logs_root) / self.name

    @property
    def lock_path(self) -> Path:
        """The lock its writer holds: beside the run folders (a refused start makes no folder), and for a preset
        beside its outputs (its writers write only there)."""
        root = self.outputs_root if self.is_preset else self.weights_root
        return Path(root) / LOCKS_FOLDER / f"{self.name}.lock"

    def writing(self) -> contextlib.AbstractContextManager:
        """`with run.writing():` the block is the run's one writer (training, resume, evaluate, export);
        RunBusy naming the other writer otherwise. Readers (generate.py) never take it."""
        return hold_lock(self.lock_path, f"run '{self.name}'")

    def check_no_links(self, *paths: Path) -> None:
        """RunError when a path the zoo is about to write in the run folder (or its outputs) is a symbolic link,
        or lies inside a preset's folder.

        A run folder from elsewhere (an unpacked archive) could hold `samples/` or `samples/NAME-sample-s0-0.mid`
        as a link to a folder or file outside it; writing through it would write outside the run.
        `paths` are folders (checked with their entries) or files, inside this run's folder or `outputs`.
        """
        preset = self.is_preset
        for path in paths:
            path = Path(path)
            if preset and _inside(path, self.path):
                raise RunError(f"{path} is inside preset '{self.name}' ({self.path}), which is read-only: "
                               f"write to {self.outputs} or another folder")
            root = next((folder for folder in (self.path, self.outputs) if _inside(path, folder)), None)
            if root is None:
                continue  # a folder the user named (--output_dir): theirs to choose
            inside = Path(os.path.abspath(path)).relative_to(os.path.abspath(root))
            steps = [root.joinpath(*inside.parts[:i + 1]) for i in range(len(inside.parts))]
            entries = list(path.iterdir()) if path.is_dir() and not path.is_symlink() else []
            for candidate in steps + entries:
                if candidate.is_symlink():
                    raise RunError(f"{candidate} is a symbolic link: the zoo writes only plain files inside the "
                                   "run folder (remove the link)")

    def exists(self) -> bool:
        return self.config_path.is_file()

    def save_config(self, config: dict[str, Any]) -> None:
        write_json(config, self.config_path)

    def load_config(self) -> dict[str, Any]:
        """The run's config.json; RunError naming the folder when the run does not exist or is corrupt."""
        if not self.path.is_dir():
            known = sorted(p.parent.name for p in Path(self.weights_root).glob("*/config.json"))
            hint = f" (runs in {self.weights_root}: {', '.join(p for p in known)})" if known else ""
            raise RunError(f"no run named '{self.name}' in {self.weights_root}{hint}")
        try:
            config = json.loads(self.config_path.read_text())
        except FileNotFoundError:
            raise RunError(f"{self.config_path} is missing: the run never started or was deleted") from None
        except (ValueError, RecursionError, OSError) as error:  # bad JSON or UTF-8, a folder, unreadable
            raise RunError(f"{self.config_path} is corrupt: {str(error)[:200]}") from None
        if not isinstance(config, dict) or not isinstance(config.get("model_type"), str):
            raise RunError(f"{self.config_path} is corrupt: not a run config (no model_type)")
        if not isinstance(config.get("args", {}), dict):
            raise RunError(f"{self.config_path} is corrupt: its args must be a JSON object")
        return config

    def model_file(self, which: str = "best") -> Path:
        """The model to sample from: 'best' (lowest val_loss, else final), 'last' checkpoint, or 'final'."""
        candidates = {
            "best": [self.checkpoints / "best.keras", self.model_path, self.checkpoints / "last.keras"],
            "last": [self.checkpoints / "last.keras"],
            "final": [self.model_path],
        }[which]
        for path in candidates:
            if path.exists():  # a folder here (a SavedModel put in its place) is refused by the loader, by name
                return path
        raise RunError(f"run '{self.name}' has no {which} model yet ({', '.join(str(p) for p in candidates)} missing)")


def _inside(path: Path, folder: Path) -> bool:
    """Whether `path` is `folder` or below it, compared as absolute paths (not following links)."""
    try:
        Path(os.path.abspath(path)).relative_to(os.path.abspath(folder))
    except ValueError:
        return False
    return True
