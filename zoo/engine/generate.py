"""generate.py's library side: rebuild a run from its folder and let its model type write music."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.core.checkpoints import load_model
from zoo.core.registry import get_model_type
from zoo.core.run_folder import RunConfig, RunFolder
from zoo.encodings import encoding_from_config
from zoo.errors import RunError, UsageError, ZooError


def load_run(weights_path: str, name: str, model_type_name: str | None = None, checkpoint: str = "best"):
    """Rebuilds (run, config, model type, encoding, model) from `weights/<name>/` alone."""
    run = RunFolder(Path(weights_path), name)
    config = run.load_config()
    model_type = get_model_type(config["model_type"])
    if model_type_name is not None and get_model_type(model_type_name) is not model_type:
        raise UsageError(f"run '{name}' is a '{model_type.name}' run, not '{model_type_name}' (use -m {model_type.name})")
    encoding = _encoding_of(run, config)
    # Only the run's own model files, through the checked loader: config.json names no model path.
    model = load_model(run.model_file(checkpoint))
    return run, config, model_type, encoding, model


def generate(args: dict[str, Any]) -> list[Path]:
    """generate.py: the run's model type writes `--num_outputs` pieces (MIDI, WAV, PNG, ...) to `--output_dir`."""
    run, config, model_type, encoding, model = load_run(
        args["weights_path"], args["name"], args["model_type"], args["checkpoint"]
    )
    args = {**args, "output_dir": str(args.get("output_dir") or run.samples)}
    run.check_no_links(Path(args["output_dir"]))
    return model_type.generate(args, run, RunConfig.from_dict(config), encoding, model)


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
