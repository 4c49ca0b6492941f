"""`python -m zoo export`: a SavedModel with the model type's endpoints, or one of its own formats.

The exported folder needs TensorFlow alone: no zoo import, no Python model code. A next-token
model (lstm, transformer) exports `serve` (logits) and `generate` (the compiled sampling loop):

    m = tf.saved_model.load("weights/exp1/export")
    logits = m.serve(tokens)                                  # int32 [B, T] -> float32 [B, T, V]
    ids = m.generate(primer, num_steps, temperature, top_k, top_p, seed)   # int32 [B, num_steps]

`encoding.json` beside it holds the encoding config needed to turn ids back into notes.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import keras

from zoo.atomic import write_json
from zoo.core.run_folder import RunConfig, RunFolder
from zoo.engine.generate import load_run
from zoo.errors import UsageError


def export(args: dict[str, Any]) -> Path:
    """Writes the run's SavedModel to `--output` (default weights/NAME/export/, outputs/NAME/export/ for a preset);
    returns the folder."""
    run = RunFolder(Path(args["weights_path"]), args["name"])
    run.load_config()  # a run that is not there is said so before anything is locked
    if args.get("output"):  # a folder of the user's, replaced whole: nothing of the run is written
        return _export(args)
    with run.writing():
        return _export(args)


def _export(args: dict[str, Any]) -> Path:
    run, config, model_type, encoding, model = load_run(args["weights_path"], args["name"],
                                                        checkpoint=args["checkpoint"])
    export_format = args.get("format", "savedmodel")
    if export_format != "savedmodel":
        if export_format not in model_type.export_formats:  # before the name goes into a path
            known = ", ".join(("savedmodel", *model_type.export_formats))
            raise UsageError(f"model type '{model_type.name}' has no export format '{export_format}' (known: {known})")
        output = Path(args["output"]) if args.get("output") else run.export.with_name(f"export-{export_format}")
        run.check_no_links(output)
        output.parent.mkdir(parents=True, exist_ok=True)  # outputs/NAME/ of a preset may not exist yet
        return model_type.write_export(export_format, model, RunConfig.from_dict(config), encoding, output)
    endpoints = model_type.export_endpoints(model, RunConfig.from_dict(config))
    if not endpoints:
        raise UsageError(f"model type '{model_type.name}' has no SavedModel endpoints to export")
    archive = keras.export.ExportArchive()
    archive.track(model)
    for endpoint_name, function in endpoints.items():
        archive.add_endpoint(endpoint_name, function)

    output = Path(args["output"]) if args.get("output") else run.export
    run.check_no_links(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=output.parent, prefix=f".{output.name}.tmp-"))
    try:
        archive.write_out(str(staging / "model"), verbose=False)
        write_json({"encoding": config["encoding"], "vocab_size": config["vocab_size"],
                    "model_type": config["model_type"]}, staging / "model" / "encoding.json")
        if output.exists():
            shutil.rmtree(output)
        (staging / "model").rename(output)  # the old export is replaced only by a complete new one
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return output
