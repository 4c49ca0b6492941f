"""Cross-modal VAEs (latent-transcription): instrument audio <-> note labels, trained jointly.

`-m crossmodal` trains `zoo.families.crossmodal.crossmodal_vae.CrossModalVAE` on the `notes` data set
(rendered once into the data cache with `zoo.music.soundfont`'s pip renderer and SoundFont, or made with
`python -m zoo prepare --encoding notes -o DIR` and given with -p DIR). The original `lt_train.py` options keep
their names and meanings; four of them are general training.py flags here: `--epochs` is `-e`,
`--name` is `-n`, `--savedir` is `-w`, and `--dbroot` is the same as `-p` (a prepared folder).
Differences from the original (specs/crossmodal.md §10): the split is by note, mixtures are
summed in the linear domain and then normalised with the training split's statistics, variances
are used consistently, symbolic losses are real log-likelihoods, `l2` really replaces the KL cross
terms, one joint step updates both VAEs (Adam 1e-3, ReduceLROnPlateau on val_loss), and the
discriminator learns from detached reconstructions. Training notes are transposed by up to
`--pitch_shift` (2) semitones, so that held-out notes have neighbours (the original, splitting by
frame, trained on every note it tested). One epoch is one pass over the largest
instrument's frames (the original stopped at the smallest). Several `--dims` values build the
hierarchy of latent layers described in `crossmodal_vae` (per-layer hidden sizes: one value or one
per layer). This module is the family's top: the training examples are made in `mixtures`, the
callbacks are in `callbacks`, generation (lt_play modes) in `play`, the analysis (lt_analyze) in
`analysis`; none of them imports this one.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import keras
import numpy as np

from zoo.core.checkpoints import load_model
from zoo.core.model_cache import per_model
from zoo.core.model_type import ModelType
from zoo.core.optimizers import make_optimizer
from zoo.core.registry import register_model_type
from zoo.core.run_folder import RunFolder
from zoo.data.corpus import DEFAULT_SPLIT, cached_dataset, content_key
from zoo.data.dataset import TrainingData, resolve_training_data
from zoo.errors import DataError, RunError, UsageError
from zoo.families.crossmodal.analysis import add_analysis_arguments, analyse
from zoo.families.crossmodal.callbacks import EpochSaver, ReconstructionPlotter
from zoo.families.crossmodal.crossmodal_flags import CrossModalFlags
from zoo.families.crossmodal.crossmodal_vae import CrossModalVAE
from zoo.families.crossmodal.label_vectors import labels_from_logits
from zoo.families.crossmodal.mixtures import fixed_mixtures, instrument_sources, mixing_arguments, mixture_dataset
from zoo.families.crossmodal.note_labels import INSTRUMENTS, LABELS, check_instruments
from zoo.families.crossmodal.notes_dataset import find_soundfonts
from zoo.families.crossmodal.notes_encoding import NotesEncoding
from zoo.families.crossmodal.play import latent_path, play
from zoo.music import cqt, soundfont
from zoo.music.score import Score


def default_notes_data() -> Path:
    """Every instrument's notes at the default options, rendered once into the data cache with the pip renderer
    and SoundFont (the key names the options, the renderer's version and recipe and the SoundFont's sha256);
    DataError saying what to do without them."""
    try:
        font = find_soundfonts(None)[0]
    except DataError as error:
        raise DataError(f"no notes data: {error}; or make it elsewhere with `python -m zoo prepare --encoding notes "
                        "-o DIR` and train with -p DIR (or --dbroot)") from None
    encoding = NotesEncoding(soundfont=[str(font)])
    key = content_key("notes", encoding.to_config(), DEFAULT_SPLIT, soundfont.renderer_info(),
                      soundfont.soundfont_info(font))
    return cached_dataset(key, lambda folder: encoding.build_dataset(folder, **DEFAULT_SPLIT),
                          f"the notes data set (every instrument, rendered with {font.name})")


@register_model_type
class CrossModal(CrossModalFlags, ModelType):
    default_encoding = "notes"
    encodings = ("notes",)
    loss_functions = ("sparse_categorical_crossentropy",)  # the general default; the joint loss is fixed
    own_lr_schedule = "the original's: x0.2 after 100 epochs without a lower val_loss"

    # ------------------------------------------------------------ command line
    @classmethod
    def check_args(cls, args: dict[str, Any]) -> dict[str, Any]:
        args = dict(args)
        layers = len(args["dims"])
        for name in ("dims", "hidden_dims_1", "hidden_num_1", "hidden_dims_2", "hidden_num_2"):
            if len(args[name]) not in (1, layers):
                raise UsageError(f"--{name} takes one value or one per --dims value ({layers}), got {len(args[name])}")
        unknown = [label for label in args["labels"] if label not in LABELS]
        if unknown or len(set(args["labels"])) != len(args["labels"]):
            raise UsageError(f"--labels takes distinct names among {' '.join(LABELS)} (got {' '.join(args['labels'])})")
        args["instruments"] = check_instruments(args["instruments"])
        if args["random_mode"] == "bernoulli" and args["label_type"] == "categorical" and not args["zero_extra_class"]:
            raise UsageError("--random_mode bernoulli silences instruments: categorical labels need --zero_extra_class 1")
        frames = args["frames"]
        if len(frames) > 2 or (len(frames) == 2 and not frames[0] < frames[1]):
            raise UsageError(f"--frames takes START END with 0 <= START < END, one index, or nothing (got {frames})")
        if args["dbroot"]:
            if args.get("data_path") and Path(args["data_path"]) != Path(args["dbroot"]):
                raise UsageError("--dbroot and -p name different data: give one")
            args["data_path"] = args["dbroot"]
        if args.get("load_epoch") is not None and not args["load"]:
            raise UsageError("--load_epoch N picks a checkpoint of the run that --load RUN names: give --load")
        if args["load"]:
            start = load_source(Path(args["weights_path"]), args["load"], args.get("load_epoch"))
            if args.get("init_from") not in (None, start):
                raise UsageError(f"--load {args['load']} and --init_from {args['init_from']} name different "
                                 "starting weights: give one")
            args["init_from"] = start
        select_device(args["cuda"])
        return args

    # ------------------------------------------------------------ data
    @classmethod
    def resolve_data(cls, args: dict[str, Any]) -> TrainingData:
        if args.get("data_path") is None:
            args = {**args, "data_path": str(default_notes_data())}
        return resolve_training_data(args, cls)

    @classmethod
    def datasets(cls, data: TrainingData, encoding: NotesEncoding, config: dict[str, Any]):
        import tensorflow as tf

        mixing = mixing_arguments(config, encoding)
        train = instrument_sources(data.train.pieces, config, encoding)
        valid = instrument_sources(data.valid.pieces, config, encoding)
        ranges = [INSTRUMENTS[name][1:] for name in config["instruments"]]
        train_ds = mixture_dataset(train, config["batch_size"], config["random_mode"], config["seed"], mixing,
                                   pitch_shift=config.get("pitch_shift", 0), ranges=ranges)
        x, y, _, _ = fixed_mixtures(valid, config["random_mode"], config["seed"], mixing)
        valid_ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(config["batch_size"])
        counts = ", ".join(f"{name} {len(m)}" for name, (m, _) in zip(config["instruments"], train))
        return train_ds, valid_ds, f"frames: {counts}; {config['random_mode']} mixtures"

    # ------------------------------------------------------------ model
    @classmethod
    def build(cls, config: dict[str, Any], encoding: NotesEncoding) -> keras.Model:
        head_sizes = mixing_arguments(config, encoding)["head_sizes"] * len(config["instruments"])
        model = CrossModalVAE(
            signal_dim=cqt.NUM_BINS, head_sizes=head_sizes, label_type=config["label_type"],
            latent_dim=list(config["dims"]), hidden_1=list(config["hidden_dims_1"]), num_1=list(config["hidden_num_1"]),
            hidden_2=list(config["hidden_dims_2"]), num_2=list(config["hidden_num_2"]), beta_1=config["beta_1"],
            beta_2=config["beta_2"], cross_1=config["cross_1"], cross_2=config["cross_2"],
            regularization=config["regularization_type"], adversarial=bool(config["adversarial"]),
            adv_dim=config["adv_dim"], adv_num=config["adv_num"], adv_lr=config["adv_lr"],
            adv_weight=config["adv_weight"], seed=config["seed"], name="crossmodal_vae")
        model.build()
        return model

    @classmethod
    def warm_start(cls, model: CrossModalVAE, path: Path) -> None:
        """The seed's `--load`: copies the two VAEs, and the discriminator when both runs have one (a
        discriminator that only one of them has starts afresh)."""
        if not path.name.endswith(".keras"):
            super().warm_start(model, path)  # a weights file holds bare arrays: they must fit the whole model
            return
        source = load_model(path)
        mismatch = RunError("its VAEs do not have this run's sizes, latent layers, labels and instruments")
        if not isinstance(source, CrossModalVAE):
            raise mismatch
        parts, source_parts = model.vae_layers(), source.vae_layers()
        if model.adversarial and getattr(source, "adversarial", False):
            parts["discriminator"], source_parts["discriminator"] = model.discriminator, source.discriminator
        if set(parts) != set(source_parts) or any(
                [w.shape for w in source_parts[p].weights] != [w.shape for w in parts[p].weights] for p in parts):
            raise mismatch
        for name, part in parts.items():
            part.set_weights(source_parts[name].get_weights())

    @classmethod
    def compile(cls, model: keras.Model, config: dict[str, Any]) -> None:
        learning_rate = config.get("learning_rate") or 1e-3  # the original's intended rate
        model.compile(optimizer=make_optimizer(config["optimizer"], learning_rate),
                      jit_compile=config.get("jit_compile", "auto"))

    @classmethod
    def build_optimizer_state(cls, model: keras.Model) -> None:
        model.optimizer.build(model.vae_variables())  # the discriminator's optimizer is built with the model

    @classmethod
    def callbacks(cls, context) -> list[keras.callbacks.Callback]:
        config, run = context.config, context.run
        callbacks = [keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.2, patience=100, min_delta=1e-10)]
        if config["save_epochs"]:
            callbacks.append(EpochSaver(run.checkpoints, config["save_epochs"]))
        if config["plot_epochs"]:
            callbacks.append(ReconstructionPlotter(run.samples, config["plot_epochs"], context.data.valid.pieces,
                                                   config, context.encoding))
        return callbacks

    # ------------------------------------------------------------ generation and analysis
    @classmethod
    def sample_scores(cls, model, config, encoding, num_outputs, seed, length=None) -> list[Score]:
        """Labels decoded along random straight lines in the (top) latent space (`length` frames, default 64)."""
        decode = symbol_decoder(model)
        scores = []
        for i in range(num_outputs):
            z = latent_path("line", min(length or 64, 2048), config["dims"][-1], np.random.default_rng(seed + i))
            logits = decode(z.astype(np.float32)).numpy()
            scores.append(encoding.decode(labels_from_logits(logits, config), config["instruments"]))
        return scores

    @classmethod
    def generate(cls, args, run, config, encoding, model) -> list[Path]:
        return play(args, run, config, encoding, model)

    @classmethod
    def export_endpoints(cls, model, config) -> dict[str, Any]:
        """`transcribe`: normalised frames [B, 410] -> symbol logits [B, S] (signal encoder mean -> symbol
        decoder); `synthesise`: one-hot labels [B, S] -> normalised log-magnitude means [B, 410]. Both cross
        through the top latent layer (with a hierarchy: posterior means up, conditional-prior means down)."""
        import tensorflow as tf

        transcribe = tf.function(lambda frames: model.decode_symbol(model.encode_signal(frames)[0]),
                                 input_signature=[tf.TensorSpec([None, model.signal_dim], tf.float32, name="frames")])
        synthesise = tf.function(lambda labels: model.decode_signal(model.encode_symbol(labels)[0])[0],
                                 input_signature=[tf.TensorSpec([None, model.symbol_dim], tf.float32, name="labels")])
        return {"transcribe": transcribe, "synthesise": synthesise}

    @classmethod
    def add_evaluate_arguments(cls, parser) -> None:
        add_analysis_arguments(parser)

    @classmethod
    def evaluate(cls, model, config, encoding, split, args, run) -> dict[str, float]:
        return analyse(model, config, encoding, split, args, run)


def select_device(cuda: int) -> None:
    """`--cuda`: -1 hides the GPUs from TensorFlow; an index keeps only that GPU visible."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if cuda >= len(gpus):
        raise UsageError(f"--cuda {cuda}: this machine has {len(gpus)} GPU(s) (use -1 for the CPU)")
    try:
        tf.config.set_visible_devices([] if cuda < 0 else [gpus[cuda]], "GPU")
    except RuntimeError:  # TensorFlow already placed ops (e.g. under pytest): devices are fixed by now
        if gpus:
            print("warning: --cuda ignored: TensorFlow had already started on its devices", file=sys.stderr)


def load_source(weights_root: Path, name: str, epoch: int | None) -> str:
    """`--load RUN [--load_epoch N]` as an `--init_from` value: the run (its best model), or the path of its
    checkpoints/epoch-N.keras. RunError naming what exists when either is missing."""
    if epoch is None:
        return name  # the engine resolves the run, and says which runs exist
    other = RunFolder(weights_root, name)
    other.load_config()  # says which runs exist
    path = other.checkpoints / f"epoch-{epoch:04d}.keras"
    if not path.is_file():
        kept = sorted(p.name for p in other.checkpoints.glob("epoch-*.keras"))
        raise RunError(f"run '{name}' has no checkpoint of epoch {epoch} (it has: {', '.join(kept) or 'none'})")
    return str(path)


def symbol_decoder(model: CrossModalVAE):
    """latent [N, dims] -> label logits, compiled once per loaded model (training samples, generate)."""
    import tensorflow as tf

    return per_model(model, "decode_symbol", lambda: tf.function(
        lambda z: model.decode_symbol(z), input_signature=[tf.TensorSpec([None, model.latent_dim], tf.float32)]))
