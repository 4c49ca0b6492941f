"""The one training loop: every model type trains here through `Model.fit`.

`train(args)` takes the flat flag dict of training.py, resolves the data, builds the model type
from the registry under the chosen precision and distribution strategy, and fits it with the
shared callbacks. It never names a model type.
"""
from __future__ import annotations

import csv
import math
import platform
import sys
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from zoo.atomic import atomic_path, remove_temporaries
from zoo.core.checkpoints import load_weights_into, save_model
from zoo.core.model_type import ModelType, TrainingContext
from zoo.core.registry import get_model_type
from zoo.core.run_folder import RESUMABLE_FLAGS, RunConfig, RunFolder
from zoo.encodings import encoding_from_config
from zoo.engine.callbacks import (
    Checkpointer,
    NaNGuard,
    SampleWriter,
    StepLimit,
    early_stopping,
    lr_plateau,
    read_backup_state,
    resume_best_val_loss,
)
from zoo.engine.tensorboard_log import drop_events_after
from zoo.engine.threads import configure_threads
from zoo.engine.warm_start import check_compatible, resolve_init_from, warm_start
from zoo.errors import UsageError, WriteError, ZooError

DEFAULT_EPOCHS = 10


class TrainingDiverged(ZooError):
    """The loss became NaN or infinite under --check_nan."""


def make_strategy(name: str) -> tf.distribute.Strategy:
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def versions() -> dict[str, str]:
    import music21

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "music21": str(music21.__version__),
    }


def build_compiled(model_type, config: dict[str, Any], encoding) -> keras.Model:
    """Builds and compiles a new model under the current strategy scope (call inside it)."""
    model = model_type.build(config, encoding)
    model_type.compile(model, config)
    return model


def trim_log(path: Path, initial_epoch: int) -> None:
    """Keeps the CSV log's rows of epochs before `initial_epoch`: a resumed run redoes the later ones."""
    if not path.is_file():
        return
    with open(path, newline="") as file:
        rows = list(csv.reader(file))
    if not rows or "epoch" not in rows[0]:
        return
    column = rows[0].index("epoch")

    def kept(row: list[str]) -> bool:
        try:
            return int(row[column]) < initial_epoch
        except (IndexError, ValueError):  # a row cut short by a kill
            return False

    body = [row for row in rows[1:] if kept(row)]
    if len(body) == len(rows) - 1:
        return
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as file:
        csv.writer(file).writerows([rows[0], *body])


def apply_flag_aliases(model_type: type[ModelType], args: dict[str, Any]) -> dict[str, Any]:
    """Moves the values of the type's own spellings of general flags onto the general names (`flag_aliases`)."""
    args = dict(args)
    for own, general in model_type.flag_aliases.items():
        if own not in args:
            continue
        value = args.pop(own)
        if args.get(general) is not None and value is not None and args[general] != value:
            raise UsageError(f"--{own} is another name for --{general}: give one of them")
        if args.get(general) is None:
            args[general] = value
    return args


def check_loss_function(model_type: type[ModelType], args: dict[str, Any]) -> None:
    """-l must be one of the type's `loss_functions`: said before any data is prepared."""
    loss = args.get("loss_function")
    if loss is not None and loss not in model_type.loss_functions:
        raise UsageError(f"-l {loss} does not apply to model type '{model_type.name}' "
                         f"(it takes: {', '.join(model_type.loss_functions)})")


def train(args: dict[str, Any]) -> RunFolder:
    """Trains a run as training.py's flags say; returns its folder. Raises ZooError on bad input.

    The process holds the run's lock from before it looks at the folder until it ends, so a second start
    under the same name is refused (RunBusy) instead of racing this one through data preparation.
    """
    model_type = get_model_type(args["model_type"])
    run = RunFolder(Path(args["weights_path"]), args["name"], Path(args["tensorboard_dir"]))  # checks the name first
    try:
        with run.writing():
            return _train(model_type, run, args)
    except (OSError, tf.errors.OpError) as error:  # writers of Keras (CSV log) and TensorFlow (TensorBoard)
        failure = WriteError.from_os_error(error, None, unnamed=f"into {run.path}")
        if failure is None:
            raise
        raise WriteError(f"{failure}; {_what_is_kept(run)}") from None
    except WriteError as error:
        raise WriteError(f"{error}; {_what_is_kept(run)}") from None


def _what_is_kept(run: RunFolder) -> str:
    """After a failed write: what the run still has, and how to go on once the disk has room."""
    try:
        state = read_backup_state(run.backup)
    except ZooError:
        state = None
    if state is None:
        return "no epoch was committed yet: make room, then start again (with --resume_auto)"
    return f"the run keeps epoch {state['epoch']}, its last committed: make room, then continue with --resume_auto"


def _train(model_type: type[ModelType], run: RunFolder, args: dict[str, Any]) -> RunFolder:
    resuming = bool(args.get("resume_auto")) and run.exists()
    args = apply_flag_aliases(model_type, args)
    given = {key: args[key] for key in RESUMABLE_FLAGS if args.get(key) is not None}
    check_loss_function(model_type, args)
    if args.get("lr_plateau_patience") and model_type.own_lr_schedule:
        raise UsageError(f"--lr_plateau_patience does not apply to model type '{model_type.name}': it schedules "
                         f"its learning rate itself ({model_type.own_lr_schedule})")
    args = model_type.check_args(args)
    backup_state = read_backup_state(run.backup)
    if resuming:
        saved = run.load_config()
        if saved["model_type"] != model_type.name:
            raise UsageError(f"run '{run.name}' is a '{saved['model_type']}' run, not '{model_type.name}'")
        # The model and data of a resumed run are the saved ones; only the length of training may change,
        # and only where the command line says so. Where it writes comes from the command line, never from
        # the (editable) config.json.
        args = {**apply_flag_aliases(model_type, saved["args"]), **given, "name": run.name,
                "weights_path": args["weights_path"], "tensorboard_dir": args["tensorboard_dir"], "resume_auto": True}
        # What a killed run was writing when it died (hidden temporary files of zoo.atomic) goes.
        # Not samples/: generate.py may be writing there now (it takes no lock), and a sample is no resume state.
        for folder in (run.path, run.checkpoints, run.backup):
            remove_temporaries(folder)
    elif run.exists():
        raise UsageError(
            f"run '{run.name}' already exists in {run.path} (continue it with --resume_auto, or pick another -n)"
        )
    else:
        backup_state = None
    if args.get("epochs") is None:
        args["epochs"] = DEFAULT_EPOCHS
    # A resume from the run's own backup needs no source (which may be gone by now).
    init_source = (resolve_init_from(args["init_from"], args["weights_path"], model_type)
                   if args.get("init_from") and backup_state is None else None)

    configure_threads(args.get("intra_op_threads"), args.get("inter_op_threads"))
    keras.utils.set_random_seed(args["seed"])
    keras.mixed_precision.set_global_policy(args["precision"])
    data = model_type.resolve_data(args)
    if init_source is not None:
        check_compatible(init_source, data.encoding_config)
    encoding = encoding_from_config(data.encoding_config)
    args = {**args, "data_mode": encoding.name}
    train_ds, valid_ds, data_description = model_type.datasets(data, encoding, args)
    if args.get("steps_per_epoch"):
        train_ds = train_ds.repeat()

    config = {
        "model_type": model_type.name,
        "name": run.name,
        "args": args,
        "encoding": data.encoding_config,
        "vocab_size": getattr(encoding, "vocab_size", None),
        "data": data.paths,
        "log_dir": str(run.log_dir),
        "versions": versions(),
    }
    context = TrainingContext(run=run, config=RunConfig.from_dict(config), data=data, encoding=encoding)

    strategy = make_strategy(args["strategy"])
    with strategy.scope():
        model = model_type.build(args, encoding)
        if backup_state is None:
            # Weights before compiling: the optimizer of a warm start is a fresh one.
            if init_source is not None:
                warm_start(model, model_type, init_source)
                print(f"starting from the weights of {init_source.path}", file=sys.stderr)
            else:
                model_type.initialize_from_data(model, context)
        model_type.compile(model, args)
        initial_epoch, best_val_loss = model_type.initial_epoch(args), math.inf
        if backup_state is not None:
            model_type.build_optimizer_state(model)
            load_weights_into(model, backup_state["weights"])  # a truncated backup is a RunError, not a traceback
            initial_epoch = backup_state["epoch"]
            best_val_loss = resume_best_val_loss(backup_state, run.checkpoints)
            print(f"resuming '{run.name}' from its backup after epoch {initial_epoch}", file=sys.stderr)
    # Written once the model is built and its starting weights are in: a source that does not fit leaves no run.
    run.path.mkdir(parents=True, exist_ok=True)
    run.save_config(config)

    log_path = run.path / "training_log.csv"
    if backup_state is not None:
        trim_log(log_path, initial_epoch)
        drop_events_after(run.log_dir, backup_state["committed_at"])
    nan_guard = NaNGuard()
    # The type's callbacks come first: what they add to the epoch's logs (e.g. the learning rate)
    # reaches TensorBoard and the CSV log, and the Checkpointer saves their state after their update.
    stateful = model_type.callbacks(context) + [
        callback for callback in (lr_plateau(args.get("lr_plateau_patience"), args.get("lr_plateau_factor", 0.5)),
                                  early_stopping(args.get("patience"), args.get("min_delta") or 0.0),
                                  StepLimit(args["max_steps"]) if args.get("max_steps") else None)
        if callback is not None]
    restored = (backup_state or {}).get("callbacks") or {}
    step_limit = next((cb for cb in stateful if isinstance(cb, StepLimit)), None)
    if step_limit is not None:
        # Steps done so far: the saved count, else (a run that had no limit before) the optimizer's own.
        saved_steps = [state.get("steps") for key, state in restored.items() if key.endswith("-StepLimit")]
        optimizer_steps = int(model.optimizer.iterations.numpy()) if getattr(model, "optimizer", None) else 0
        step_limit.steps = int(saved_steps[0]) if saved_steps else optimizer_steps
    # Everything an epoch logs (CSV row, TensorBoard, sample) is written before the Checkpointer commits the
    # epoch, so a kill in between leaves only what the resume trims (`trim_log`, `drop_events_after`) and redoes,
    # never a committed epoch without its logs.
    callbacks = ([nan_guard] if args["check_nan"] else []) + stateful + [
        keras.callbacks.CSVLogger(str(log_path), append=initial_epoch > 0),
        keras.callbacks.TensorBoard(log_dir=str(run.log_dir), write_graph=False),
        SampleWriter(
            lambda m, seed: model_type.sample_scores(m, args, encoding, 1, seed, args["sample_length"])[0],
            run.samples, run.log_dir, every=args["sample_every"], seed=args["seed"],
        ),
        Checkpointer(run.checkpoints, run.backup, best_val_loss, stateful=stateful, restored=restored),
    ]
    print(
        f"training '{run.name}': {model_type.name} on {len(data.train.pieces)} pieces "
        f"({data_description}), validating on {len(data.valid.pieces)}, "
        f"{strategy.num_replicas_in_sync} replica(s)",
        file=sys.stderr,
    )
    if step_limit is not None and step_limit.reached:
        print(f"'{run.name}' has trained its --max_steps {args['max_steps']} steps already", file=sys.stderr)
        if not run.model_path.is_file():
            save_model(model, run.model_path)
        return run
    history = model.fit(
        train_ds,
        validation_data=valid_ds,
        epochs=args["epochs"],
        initial_epoch=initial_epoch,
        steps_per_epoch=args.get("steps_per_epoch"),
        callbacks=callbacks,
        shuffle=False,  # the dataset reshuffles itself every epoch
        verbose=args.get("verbose", 1),
    )
    if nan_guard.stopped_at is not None:
        epoch, step = nan_guard.stopped_at
        last = run.checkpoints / "last.keras"
        kept = (f"the last good checkpoint is {last}" if last.is_file()
                else "no epoch finished, so no checkpoint was written")
        raise TrainingDiverged(f"loss became NaN at epoch {epoch}, step {step}; stopped ({kept})")
    final_loss = history.history["loss"][-1] if history.history.get("loss") else None
    if final_loss is not None and not math.isfinite(final_loss):
        raise TrainingDiverged(
            f"loss is {final_loss} after epoch {args['epochs']}: model.keras not written; the last good checkpoint "
            f"(if any) is in {run.checkpoints} (use --check_nan to stop at the first NaN)"
        )
    save_model(model, run.model_path)
    return run
