"""The one training loop: every model type trains here through `Model.fit`.

`train(args)` takes the flat flag dict of training.py, resolves the data, builds the model type
from the registry under the chosen precision and distribution strategy, and fits it with the
shared callbacks. It never names a model type.
"""
from __future__ import annotations

import dataclasses
import math
import platform
import sys
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from zoo.callbacks import Checkpointer, NaNGuard, SampleWriter, read_backup_state
from zoo.checkpoints import save_model
from zoo.data.corpus import ensure_default_dataset
from zoo.data.dataset import EncodedSplit, load_split, split_off_validation, split_paths, token_windows, window_dataset
from zoo.encodings import PAD_ID, encoding_from_config
from zoo.errors import DataError, UsageError, ZooError
from zoo.models import get_model_type
from zoo.run import RunFolder

SEED_DEFAULT_DATA_PATH = Path("data/train.pkl")  # MechanicalBach's -p default


class TrainingDiverged(ZooError):
    """The loss became NaN or infinite under --check_nan."""


@dataclasses.dataclass
class TrainingData:
    train: EncodedSplit
    valid: EncodedSplit
    paths: dict[str, str]
    encoding_config: dict


def resolve_data(args: dict[str, Any], model_type) -> TrainingData:
    """Finds the training pickle (-p, the seed's ./data/train.pkl, or the embedded default) and its splits."""
    data_path = args.get("data_path")
    if data_path is None:
        if SEED_DEFAULT_DATA_PATH.is_file():
            data_path = SEED_DEFAULT_DATA_PATH
        else:
            data_path = ensure_default_dataset(args["data_mode"] or model_type.default_encoding)
    paths = split_paths(data_path)
    if not paths["train"].is_file():
        raise DataError(f"no training data at {data_path} (prepare some with: python -m zoo prepare --input DIR -o data/NAME)")
    train = load_split(paths["train"])
    if not train.pieces or train.num_tokens == 0:
        raise DataError(f"{paths['train']} holds no pieces")
    encoding_name = train.encoding.get("name")
    if args["data_mode"] and args["data_mode"] != encoding_name:
        raise UsageError(
            f"-d/--data_mode {args['data_mode']} does not match {paths['train']}, which holds the "
            f"'{encoding_name}' encoding (drop -d, or prepare the data with --encoding {args['data_mode']})"
        )
    if encoding_name not in model_type.encodings:
        raise UsageError(
            f"model type '{model_type.name}' does not train on the '{encoding_name}' encoding "
            f"(it takes: {', '.join(model_type.encodings)})"
        )
    if args.get("validation_split") is not None or "valid" not in paths:
        fraction = 0.1 if args.get("validation_split") is None else args["validation_split"]
        train, valid = split_off_validation(train, fraction, args["seed"])
    else:
        valid = load_split(paths["valid"])
        if valid.encoding != train.encoding:
            raise DataError(f"{paths['valid']} was encoded differently from {paths['train']}: prepare them together")
    return TrainingData(train, valid, {k: str(v) for k, v in paths.items()}, train.encoding)


def make_optimizer(name: str, learning_rate: float | None) -> keras.optimizers.Optimizer:
    config = {} if learning_rate is None else {"learning_rate": learning_rate}
    try:
        return keras.optimizers.get({"class_name": name, "config": config})
    except (ValueError, TypeError):
        raise UsageError(
            f"unknown optimizer '{name}' (try adam, adamw, rmsprop, sgd, nadam, adagrad)"
        ) from None


def make_loss(name: str, model_type) -> keras.losses.Loss:
    if name not in model_type.loss_functions:
        raise UsageError(
            f"loss '{name}' does not apply to model type '{model_type.name}' "
            f"(it takes: {', '.join(model_type.loss_functions)})"
        )
    # The models emit logits (float32); PAD is never a target.
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=PAD_ID)


def make_strategy(name: str) -> tf.distribute.Strategy:
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def configure_threads(intra_op: int | None, inter_op: int | None) -> None:
    """Sets TensorFlow's CPU thread pools; must run before TensorFlow executes its first op.

    On a 2-core CPU, one thread per op and two ops at a time trains the LSTM about 1.4x faster
    than TensorFlow's default (bench/lstm_throughput.py).
    """
    try:
        if intra_op:
            tf.config.threading.set_intra_op_parallelism_threads(intra_op)
        if inter_op:
            tf.config.threading.set_inter_op_parallelism_threads(inter_op)
    except RuntimeError:  # TensorFlow already ran an op in this process (e.g. under pytest)
        current = (tf.config.threading.get_intra_op_parallelism_threads(),
                   tf.config.threading.get_inter_op_parallelism_threads())
        if (intra_op or current[0], inter_op or current[1]) != current:
            print("warning: --intra_op_threads/--inter_op_threads ignored: TensorFlow had already started "
                  "in this process", file=sys.stderr)


def versions() -> dict[str, str]:
    import music21

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "music21": str(music21.__version__),
    }


def build_compiled(model_type, config: dict[str, Any], vocab_size: int) -> keras.Model:
    """Builds and compiles the model under the current strategy scope (call inside it)."""
    model = model_type.build(config, vocab_size)
    model.compile(
        optimizer=make_optimizer(config["optimizer"], config.get("learning_rate")),
        loss=make_loss(config["loss_function"], model_type),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=config.get("jit_compile", "auto"),
    )
    return model


def train(args: dict[str, Any]) -> RunFolder:
    """Trains a run as training.py's flags say; returns its folder. Raises ZooError on bad input."""
    model_type = get_model_type(args["model_type"])
    run = RunFolder(Path(args["weights_path"]), args["name"], Path(args["tensorboard_dir"]))
    backup_state = read_backup_state(run.backup)
    if args.get("resume_auto") and run.exists():
        saved = run.load_config()
        if saved["model_type"] != model_type.name:
            raise UsageError(f"run '{run.name}' is a '{saved['model_type']}' run, not '{model_type.name}'")
        # The model and data of a resumed run are the saved ones; only the length of training may change.
        args = {**saved["args"], "epochs": args["epochs"], "resume_auto": True}
    elif run.exists():
        raise UsageError(
            f"run '{run.name}' already exists in {run.path} (continue it with --resume_auto, or pick another -n)"
        )
    else:
        backup_state = None

    configure_threads(args.get("intra_op_threads"), args.get("inter_op_threads"))
    keras.utils.set_random_seed(args["seed"])
    keras.mixed_precision.set_global_policy(args["precision"])
    data = resolve_data(args, model_type)
    encoding = encoding_from_config(data.encoding_config)
    args = {**args, "data_mode": encoding.name}
    train_windows = token_windows(data.train.pieces, args["seq_len"])
    valid_windows = token_windows(data.valid.pieces, args["seq_len"])
    train_ds = window_dataset(train_windows, args["batch_size"], shuffle=True, seed=args["seed"])
    valid_ds = window_dataset(valid_windows, args["batch_size"], shuffle=False)
    if args.get("steps_per_epoch"):
        train_ds = train_ds.repeat()

    config = {
        "model_type": model_type.name,
        "name": run.name,
        "args": args,
        "encoding": data.encoding_config,
        "vocab_size": encoding.vocab_size,
        "data": data.paths,
        "log_dir": str(run.log_dir),
        "versions": versions(),
    }
    run.path.mkdir(parents=True, exist_ok=True)
    run.save_config(config)

    strategy = make_strategy(args["strategy"])
    with strategy.scope():
        model = build_compiled(model_type, args, encoding.vocab_size)
        initial_epoch, best_val_loss = 0, math.inf
        if backup_state is not None:
            model.optimizer.build(model.trainable_variables)
            model.load_weights(backup_state["weights"])
            initial_epoch, best_val_loss = backup_state["epoch"], backup_state["best_val_loss"]
            print(f"resuming '{run.name}' from its backup after epoch {initial_epoch}", file=sys.stderr)

    nan_guard = NaNGuard()
    callbacks = ([nan_guard] if args["check_nan"] else []) + [
        Checkpointer(run.checkpoints, run.backup, best_val_loss),
        keras.callbacks.TensorBoard(log_dir=str(run.log_dir), write_graph=False),
        keras.callbacks.CSVLogger(str(run.path / "training_log.csv"), append=initial_epoch > 0),
        SampleWriter(
            lambda m: model_type.token_generator(m, args), encoding, run.samples, run.log_dir,
            every=args["sample_every"], length=args["sample_length"], seed=args["seed"],
        ),
    ]
    print(
        f"training '{run.name}': {model_type.name} on {len(data.train.pieces)} pieces "
        f"({len(train_windows)} windows of {args['seq_len']}), validating on {len(data.valid.pieces)}, "
        f"{strategy.num_replicas_in_sync} replica(s)",
        file=sys.stderr,
    )
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
        kept = f"the last good checkpoint is {last}" if last.is_file() else "no epoch finished, so no checkpoint was written"
        raise TrainingDiverged(f"loss became NaN at epoch {epoch}, step {step}; stopped ({kept})")
    final_loss = history.history["loss"][-1] if history.history.get("loss") else None
    if final_loss is not None and not math.isfinite(final_loss):
        raise TrainingDiverged(
            f"loss is {final_loss} after epoch {args['epochs']}: model.keras not written; the last good checkpoint "
            f"(if any) is in {run.checkpoints} (use --check_nan to stop at the first NaN)"
        )
    save_model(model, run.model_path)
    return run
