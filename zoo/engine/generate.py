"""generate.py's library side: rebuild a run from its folder and let its model type write music.

`from_preset` (also `zoo.from_preset`) is the same from Python: a preset or any run, loaded once, that samples
scores in memory or writes files as generate.py does.
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.core.checkpoints import load_model
from zoo.core.flags import positive_int
from zoo.core.presets import PresetInfo, read_preset
from zoo.core.registry import get_model_type
from zoo.core.run_folder import RunConfig, RunFolder
from zoo.encodings import encoding_from_config
from zoo.errors import RunError, UsageError, ZooError

if TYPE_CHECKING:
    import keras

    from zoo.core.model_type import ModelType
    from zoo.encodings.base import Encoding
    from zoo.music.score import Score


def load_run(weights_path: str, name: str, model_type_name: str | None = None, checkpoint: str = "best"):
    """Rebuilds (run, config, model type, encoding, model) from `weights/<name>/` alone."""
    run = RunFolder(Path(weights_path), name)
    config = run.load_config()
    model_type = get_model_type(config["model_type"])
    if model_type_name is not None and get_model_type(model_type_name) is not model_type:
        raise UsageError(f"run '{name}' is a '{model_type.name}' run, not '{model_type_name}' "
                         f"(use -m {model_type.name})")
    encoding = _encoding_of(run, config)
    # Only the run's own model files, through the checked loader: config.json names no model path.
    model = load_model(run.model_file(checkpoint))
    return run, config, model_type, encoding, model


def generate(args: dict[str, Any]) -> list[Path]:
    """generate.py: the run's model type writes `--num_outputs` pieces (MIDI, WAV, PNG, ...) to `--output_dir`."""
    run, config, model_type, encoding, model = load_run(
        args["weights_path"], args["name"], args["model_type"], args["checkpoint"]
    )
    return write_outputs(args, run, RunConfig.from_dict(config), model_type, encoding, model)


def write_outputs(args: dict[str, Any], run: RunFolder, config: RunConfig, model_type, encoding, model) -> list[Path]:
    """The model type writes what `args` asks to `--output_dir` (default: the run's samples/, which for a preset
    is outputs/NAME/samples/: a preset's folder is never written)."""
    args = {**args, "output_dir": str(args.get("output_dir") or run.samples)}
    run.check_no_links(Path(args["output_dir"]))
    return model_type.generate(args, run, config, encoding, model)


@dataclasses.dataclass(frozen=True)
class LoadedModel:
    """A run (a preset or any other) loaded once, for use from Python (`from_preset`).

    `model` is the keras.Model, `encoding` the run's encoding, `model_type` its model type, `config` its
    `RunConfig` (the flags, read like a dict, plus the encoding config and data paths), `info` the preset's
    `PresetInfo` (None for an ordinary run), `run` its `RunFolder`, `checkpoint` the model file it loaded.
    """

    model: "keras.Model"
    encoding: "Encoding"
    model_type: "type[ModelType]"
    config: RunConfig
    info: PresetInfo | None
    run: RunFolder
    checkpoint: str = "best"

    def sample(self, num: int = 1, seed: int = 0, length: int | None = None) -> list["Score"]:
        """`num` pieces drawn with `seed` (same seed, same music) and the type's default sampling settings;
        `length` in the type's unit (events, bars, steps), None for its default."""
        if isinstance(num, bool) or not isinstance(num, int) or num < 1:
            raise UsageError(f"num must be a whole number of pieces, at least 1 (got {num!r})")
        return self.model_type.sample_scores(self.model, self.config, self.encoding, num, int(seed), length)

    def generate(self, output_dir: str | Path | None = None, **flags: Any) -> list[Path]:
        """Writes files as generate.py does (default: the run's samples/, outputs/NAME/samples/ for a preset);
        returns their paths. `flags` are generate.py's by their names (`num_outputs=3, seed=0`, and the model
        type's own, e.g. `temperature=0.8, length=256`), checked as on the command line; None keeps a default."""
        args = self.generate_args(**flags)
        args.update(name=self.run.name, weights_path=str(self.run.weights_root), model_type=self.model_type.name,
                    checkpoint=self.checkpoint, output_dir=None if output_dir is None else str(output_dir),
                    intra_op_threads=None, inter_op_threads=None)
        return write_outputs(args, self.run, self.config, self.model_type, self.encoding, self.model)

    def generate_args(self, **flags: Any) -> dict[str, Any]:
        """generate.py's flags for this run's type: the defaults, with `flags` parsed over them as their text.

        UsageError for a flag the type does not take or a value out of its range."""
        parser = _FlagParser(prog=f"{self.model_type.name}.generate", add_help=False)
        parser.add_argument("--num_outputs", type=positive_int, default=3)
        parser.add_argument("--seed", type=int, default=0)
        self.model_type.add_generate_arguments(parser.add_argument_group(self.model_type.name))
        actions = {action.dest: action for action in parser._actions}
        argv = []
        for key, value in flags.items():
            if key not in actions:
                known = ", ".join(sorted(actions))
                raise UsageError(f"'{key}' is not a generate flag of model type '{self.model_type.name}' "
                                 f"(known: {known})")
            if value is None:
                continue
            option = actions[key].option_strings[-1]
            if actions[key].nargs == 0:  # store_true / store_false
                argv += [option] if bool(value) != bool(actions[key].default) else []
            elif isinstance(value, (list, tuple)):
                argv += [option, *map(str, value)]
            else:
                argv.append(f"{option}={value}")
        return vars(parser.parse_args(argv))


class _FlagParser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of printing usage and exiting (for flags given from Python)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        raise UsageError(message)


def from_preset(name: str, weights_root: str | Path = "weights", checkpoint: str = "best") -> LoadedModel:
    """Loads preset (or run) `name` from `weights_root/name/`, as generate.py does; see `LoadedModel`.

    RunError for a missing run or a corrupt preset.json, config.json or model file.
    """
    if checkpoint not in ("best", "last", "final"):
        raise UsageError(f"checkpoint must be best, last or final (got {checkpoint!r})")
    run, config, model_type, encoding, model = load_run(str(weights_root), name, checkpoint=checkpoint)
    return LoadedModel(model=model, encoding=encoding, model_type=model_type, config=RunConfig.from_dict(config),
                       info=read_preset(run.path), run=run, checkpoint=checkpoint)


def _encoding_of(run: RunFolder, config: dict[str, Any]):
    """The run's encoding; RunError naming config.json when an edit left it unusable."""
    encoding_config, args = config.get("encoding"), config.get("args")
    if not isinstance(encoding_config, dict) or not isinstance(args, dict):
        raise RunError(f"{run.config_path} is corrupt: 'encoding' and 'args' must be JSON objects")
    try:
        return encoding_from_config(encoding_config)
    except ZooError:
        raise
    except Exception as error:  # unknown or mistyped options of an edited config: many error types
        raise RunError(f"{run.config_path} is corrupt: its encoding config does not build "
                       f"({type(error).__name__}: {str(error)[:160]})") from None
