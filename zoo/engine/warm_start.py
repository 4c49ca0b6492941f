"""`--init_from`: a new run that starts from the weights of another run or of a model file.

The source is resolved and checked before any data is prepared (`resolve_init_from`), its model type
and encoding are compared with the new run's once the data is known (`check_compatible`), and its
weights go into the freshly built model before it is compiled (`warm_start`): the optimizer starts
afresh and the epochs count from 0. The seeds' own spellings map onto it in their model types
(MusicVAE's `ckpt_path`, the cross-modal `--load`/`--load_epoch`, the lead sheets' `--resume`).
"""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import keras

from zoo.core.checkpoints import check_weights_file
from zoo.core.model_type import ModelType
from zoo.core.run_folder import RunFolder
from zoo.encodings import get_encoding_class
from zoo.errors import RunError, UsageError

CHECKPOINTS = ("best", "last", "final")
MODEL_FILE_SUFFIXES = (".keras", ".weights.h5")


@dataclasses.dataclass(frozen=True)
class WarmStartSource:
    """The file `--init_from` names, and the config.json of its run when it names a run."""

    spec: str
    path: Path
    run_config: dict[str, Any] | None = None


def resolve_init_from(spec: str, weights_root: str | Path, model_type: type[ModelType]) -> WarmStartSource:
    """`RUN`, `RUN:best|last|final` (a run under `weights_root`, a preset included) or a model file path.

    RunError when the run or file is missing, UsageError for a checkpoint name that does not exist or a run of
    another model type than `model_type`: all said before any data is prepared.
    """
    if spec.endswith(MODEL_FILE_SUFFIXES) or Path(spec).is_file():
        path = Path(spec)
        try:
            check_weights_file(path)  # a SavedModel, a folder or a hostile .keras is named as such
        except RunError as error:
            raise RunError(f"--init_from: {error}") from None
        return WarmStartSource(spec, path)
    name, _, which = spec.partition(":")
    if which and which not in CHECKPOINTS:
        raise UsageError(f"--init_from {spec}: a run's checkpoint is one of {', '.join(CHECKPOINTS)} (got '{which}')")
    run = RunFolder(Path(weights_root), name)
    try:
        config = run.load_config()
        path = run.model_file(which or "best")
        check_weights_file(path)  # a hostile file is named as such first, like a file named directly
    except RunError as error:
        raise RunError(f"--init_from: {error}") from None
    if config["model_type"] != model_type.name:
        raise UsageError(f"--init_from {spec}: that run is a '{config['model_type']}' model, this run trains "
                         f"'{model_type.name}' (fine-tune a run of the same model type)")
    return WarmStartSource(spec, path, config)


def check_compatible(source: WarmStartSource, encoding_config: dict[str, Any]) -> None:
    """UsageError, in one line naming the settings that differ, when `source` is a run whose data was encoded otherwise.

    Only the two encoding configs are compared: the source's data (which a preset does not ship) is never read.
    Options the encoding class lists in `data_options` say which data was made and what was measured on it (the
    notes encoding's rendering and normalisation statistics), not how a piece is represented: differences there
    pass, with a note on stderr that the new run uses its own data's.
    """
    if source.run_config is None:
        return  # a bare file says nothing of it: its weight shapes are checked on loading
    theirs = dict(source.run_config.get("encoding") or {})
    ours = dict(encoding_config)
    if theirs.get("name") and ours.get("name") and theirs["name"] != ours["name"]:
        raise UsageError(f"--init_from {source.spec}: that run trained on '{theirs.get('name')}' data and this data "
                         f"holds the '{ours.get('name')}' encoding (prepare it with --encoding {theirs.get('name')})")
    keys = sorted(set(theirs) | set(ours))
    differing = [key for key in keys if theirs.get(key) != ours.get(key)]
    tolerated = [key for key in differing if key in _data_options(ours.get("name"))]
    differing = [key for key in differing if key not in tolerated]
    if differing:
        shown = "; ".join(_difference(key, theirs.get(key), ours.get(key)) for key in differing[:3])
        more = f" (and {len(differing) - 3} more)" if len(differing) > 3 else ""
        raise UsageError(f"--init_from {source.spec}: its data was encoded differently ({shown}{more}); prepare the "
                         f"new data with the same '{ours.get('name')}' settings (the source's are in its "
                         "config.json, 'encoding')")
    if tolerated:
        print(f"note: --init_from {source.spec}: its data differ in {', '.join(tolerated)} (what was rendered or "
              "measured, not the encoding); the new run uses its own data's", file=sys.stderr)


def _data_options(name: Any) -> tuple[str, ...]:
    """The encoding's `data_options` (see `check_compatible`); () for an encoding that names none or is unknown."""
    try:
        return tuple(getattr(get_encoding_class(str(name)), "data_options", ()))
    except UsageError:
        return ()


def _difference(key: str, theirs: Any, ours: Any) -> str:
    """'KEY: THEIRS there, OURS here', a list (a learnt vocabulary) said by its size and an entry that differs."""
    if isinstance(theirs, list) and isinstance(ours, list):
        known = {repr(value) for value in theirs}
        new = [value for value in ours if repr(value) not in known]
        mine = {repr(value) for value in ours}
        gone = [value for value in theirs if repr(value) not in mine]
        if new:
            detail = f", {len(new)} of them new (e.g. {_short(new[0])})"
        elif gone:
            detail = f", {len(gone)} of the source's absent (e.g. {_short(gone[0])})"
        else:
            detail = ", in another order"
        return f"{key}: {len(theirs)} entries there, {len(ours)} here{detail}"
    return f"{key}: {_short(theirs)} there, {_short(ours)} here"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def warm_start(model: keras.Model, model_type: type[ModelType], source: WarmStartSource) -> None:
    """Copies the source's weights into `model` through the type's `warm_start` hook; RunError when they don't fit."""
    try:
        model_type.warm_start(model, source.path)
    except RunError as error:
        raise RunError(f"--init_from {source.spec}: {error}") from None
