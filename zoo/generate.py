"""generate.py's library side: rebuild a run from its folder and let its model type write music."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.checkpoints import load_model
from zoo.encodings import encoding_from_config
from zoo.errors import UsageError
from zoo.models import get_model_type
from zoo.run import RunFolder


def load_run(weights_path: str, name: str, model_type_name: str | None = None, checkpoint: str = "best"):
    """Rebuilds (run, config, model type, encoding, model) from `weights/<name>/` alone."""
    run = RunFolder(Path(weights_path), name)
    config = run.load_config()
    model_type = get_model_type(config["model_type"])
    if model_type_name is not None and get_model_type(model_type_name) is not model_type:
        raise UsageError(f"run '{name}' is a '{model_type.name}' run, not '{model_type_name}' (use -m {model_type.name})")
    encoding = encoding_from_config(config["encoding"])
    model = load_model(run.model_file(checkpoint))
    return run, config, model_type, encoding, model


def generate(args: dict[str, Any]) -> list[Path]:
    """generate.py: the run's model type writes `--num_outputs` pieces (MIDI, WAV, PNG, ...) to `--output_dir`."""
    run, config, model_type, encoding, model = load_run(
        args["weights_path"], args["name"], args["model_type"], args["checkpoint"]
    )
    args = {**args, "output_dir": str(args.get("output_dir") or run.samples)}
    return model_type.generate(args, run, config["args"], encoding, model)
