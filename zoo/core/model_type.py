"""The contract every model type fills in: a bundle of class methods (hooks) that the shared
trainer, generator, evaluator and exporter call, so the engine never names a family.

`zoo.core.token_model_type.TokenModelType` fills in the data, training, sampling, evaluation and
export hooks for next-token models (LSTM, transformer), so such a family writes only
`add_arguments`, `build` and `token_generator`. A family with its own objective (GAN, VAE,
RBM/NADE, ...) returns a `keras.Model` subclass with its own `train_step`/`test_step` from `build`
and fills in the hooks that differ. Types are registered with `zoo.core.registry.register_model_type`.
"""
from __future__ import annotations

import abc
import argparse
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import keras

from zoo.core.checkpoints import load_weights_into
from zoo.core.model_flags import ModelFlags
from zoo.data.dataset import resolve_training_data
from zoo.errors import UsageError

if TYPE_CHECKING:
    import tensorflow as tf

    from zoo.core.run_folder import RunConfig, RunFolder
    from zoo.data.dataset import EncodedSplit, TrainingData
    from zoo.encodings.base import Encoding
    from zoo.music.score import Score


@dataclasses.dataclass(frozen=True)
class TrainingContext:
    """What the trainer hands to a model type's training hooks, so none re-reads config.json or the data.

    `config` is the run's `RunConfig` (its flags, read like a dict, and its data paths and encoding config);
    `data` the splits it trains and validates on; `encoding` the data's encoding object.
    """

    run: "RunFolder"
    config: "RunConfig"
    data: "TrainingData"
    encoding: "Encoding"


class ModelType(ModelFlags):
    """What every model type provides to the shared trainer, generator, evaluator and exporter.

    Its name and its training.py and generate.py flags come from its `ModelFlags` (zoo/core/model_flags.py),
    declared apart from the model so the command line parses them without importing TensorFlow.

    `config` below is the run's flags (`config.json`'s "args"): the general flags of training.py plus the
    type's own. The training hooks get them as a plain dict while the run is being set up; generate,
    evaluate and export get the run's `RunConfig`, which reads the same way and also carries the run's
    data paths and encoding config (`config.data["test"]`), so no hook reads config.json itself.
    """

    default_encoding: ClassVar[str]
    encodings: ClassVar[tuple[str, ...]]
    loss_functions: ClassVar[tuple[str, ...]] = ("sparse_categorical_crossentropy",)
    # Export formats besides "savedmodel" (see `write_export`).
    export_formats: ClassVar[tuple[str, ...]] = ()
    # The seeds' own spellings of general flags: {own flag's dest: general dest}, e.g. MultINN's
    # {"early_stopping": "patience"}. The trainer moves the value over, from the command line and from
    # the config.json of older runs alike, so the general flag is the one the engine reads.
    flag_aliases: ClassVar[dict[str, str]] = {}
    # A type that schedules its learning rate itself says how (its flags), and the general
    # --lr_plateau_patience is refused for it rather than stacked on top.
    own_lr_schedule: ClassVar[str | None] = None

    # ------------------------------------------------------------ command line
    @classmethod
    def check_args(cls, args: dict[str, Any]) -> dict[str, Any]:
        """Validates (and may complete) the parsed training flags; raises UsageError. Runs before any work."""
        return args

    # ------------------------------------------------------------ training
    @classmethod
    def resolve_data(cls, args: dict[str, Any]) -> "TrainingData":
        """Finds the training and validation splits the flags name (default: -p, or the embedded corpus)."""
        return resolve_training_data(args, cls)

    @classmethod
    @abc.abstractmethod
    def datasets(cls, data: "TrainingData", encoding: "Encoding", config: dict[str, Any]
                 ) -> tuple["tf.data.Dataset", "tf.data.Dataset", str]:
        """(train, validation) `tf.data` pipelines for `Model.fit`, and a one-line description of them."""

    @classmethod
    @abc.abstractmethod
    def build(cls, config: dict[str, Any], encoding: "Encoding") -> keras.Model:
        """Builds the (uncompiled) model from the run's config and the data's encoding."""

    @classmethod
    @abc.abstractmethod
    def compile(cls, model: keras.Model, config: dict[str, Any]) -> None:
        """Compiles `model` (optimizers, losses, metrics) as the flags say; called inside the strategy scope."""

    @classmethod
    def callbacks(cls, context: TrainingContext) -> list[keras.callbacks.Callback]:
        """Extra Keras callbacks of this type (e.g. a learning-rate schedule on plateau).

        Early stopping, the step limit, checkpoints, logs and samples are the trainer's: a type adds none.
        """
        return []

    @classmethod
    def initialize_from_data(cls, model: keras.Model, context: TrainingContext) -> None:
        """Sets what a new model takes from its training data (e.g. visible biases from note rates).

        Called for a run that starts from scratch only: not on --init_from, nor on a resume.
        """

    @classmethod
    def warm_start(cls, model: keras.Model, path: Path) -> None:
        """Loads `--init_from`'s weights (a checked `.keras` or `.weights.h5` file) into the new, built model.

        The default copies every weight; a type whose seed copies a part (a discriminator that only one side
        has, say) overrides it. Raises RunError naming what does not fit.
        """
        load_weights_into(model, path)

    @classmethod
    def initial_epoch(cls, config: dict[str, Any]) -> int:
        """The epoch a new run starts counting from (not 0 when it continues other weights, e.g. lstmprovisor's
        `--resume TIMESTEP PARAMFILE`). A resume from the run's own backup ignores this."""
        return 0

    @classmethod
    def build_optimizer_state(cls, model: keras.Model) -> None:
        """Creates the optimizer variables so a resume backup (weights + optimizer state) can load into them."""
        model.optimizer.build(model.trainable_variables)

    # ------------------------------------------------------------ generation
    @classmethod
    @abc.abstractmethod
    def sample_scores(cls, model: keras.Model, config: dict[str, Any], encoding: "Encoding", num_outputs: int,
                      seed: int, length: int | None = None) -> list["Score"]:
        """Draws `num_outputs` pieces from the model with default sampling settings (training samples,
        evaluation metrics). `length`: the type's own unit (events, bars, ...); None for its default."""

    @classmethod
    def metric_pieces(cls, model: keras.Model, config: dict[str, Any], encoding: "Encoding", split: "EncodedSplit",
                      num_outputs: int, seed: int, length: int | None = None
                      ) -> tuple[list["Score"], list["Score"]] | None:
        """(generated, reference) pieces whose musical metrics `python -m zoo evaluate` compares. None (the
        default): samples from nothing (`sample_scores`) against the whole decoded test split. A model that plays
        over a condition overrides it to play the test pieces' own (a lead sheet's chords) and compare with what
        those pieces hold there."""
        return None

    @classmethod
    @abc.abstractmethod
    def generate(cls, args: dict[str, Any], run: "RunFolder", config: dict[str, Any], encoding: "Encoding",
                 model: keras.Model) -> list[Path]:
        """generate.py for this type: writes its outputs (MIDI, WAV, PNG, ...) and returns their paths. Every
        file is named by `zoo.music.io.output_stem`, numbered past earlier outputs (`write_pieces`, `output_stems`)."""

    # ------------------------------------------------------------ evaluation and export
    @classmethod
    def add_evaluate_arguments(cls, parser: argparse._ArgumentGroup) -> None:
        """Adds this type's own `python -m zoo evaluate` flags."""

    @classmethod
    def evaluate(cls, model: keras.Model, config: dict[str, Any], encoding: "Encoding", split: "EncodedSplit",
                 args: dict[str, Any], run: "RunFolder") -> dict[str, float]:
        """The model's own numbers on a test split (likelihood, reconstruction accuracy, ...); {} if none."""
        return {}

    @classmethod
    def export_endpoints(cls, model: keras.Model, config: dict[str, Any]) -> dict[str, Any]:
        """SavedModel endpoints: name -> `tf.function` with an input signature."""
        return {}

    @classmethod
    def write_export(cls, export_format: str, model: keras.Model, config: dict[str, Any], encoding: "Encoding",
                     output: Path) -> Path:
        """Writes one of `export_formats` to `output`; returns what it wrote."""
        raise UsageError(f"model type '{cls.name}' has no export format '{export_format}'")
