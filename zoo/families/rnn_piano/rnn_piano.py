"""RNN-NADE (`-m rnn_nade`) and RNN-RBM (`-m rnn_rbm`) on 88-key piano-rolls: the polyphonic benchmarks.

Data: `--dataset FILE.json` in the Boulanger-Lewandowski format (zoo/families/rnn_piano/polyphonic.py; default the
bundled JSB Chorales), keeping the file's own train/valid/test splits; the rolls are stored as zoo data
pickles in weights/NAME/data/ so `python -m zoo evaluate` and generate.py need only the run folder.
`-p DIR/train.pkl` trains on 88-key (21..108) `pianoroll` pickles made by `python -m zoo prepare` instead.

Training: every sequence is cut into chunks of at most `-s` frames (the RNN restarts at each chunk, as
the Theano tutorial's 100-frame sub-sequences); the RNN reads [0, x_1..x_{T-1}] and the estimator
scores x_t. `rnn_nade` minimises the exact NLL per frame (nats, summed over the 88 keys); `rnn_rbm` the
CD-k free-energy difference, and reports the mean-field reconstruction cross-entropy per frame
(`recon`), which is also its `val_loss` (the CD cost is not comparable between epochs).
`--patience N` stops after N epochs without a better val_loss.

Evaluation (`python -m zoo evaluate`): frame-level NLL on the whole test sequences (no chunking), every
frame counted, the first predicted from the zero input (Boulanger-Lewandowski's convention): exact for
NADE; for the RBM, NLL_t = F_t(v_t) + log Z_t with log Z_t from AIS per frame (`--ais_chains`,
`--ais_betas`, `--ais_base`; reported: `ais_spread`, the standard error of the mean NLL from the chains'
weights, and `ais_spread_per_frame`, the mean standard deviation of one frame's log Z).
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from zoo.data.dataset import EncodedSplit, TrainingData, load_split, resolve_training_data
from zoo.families.rnn_piano.polyphonic import BUNDLED_JSB, LOWEST_PITCH, NUM_KEYS, encoding_config, read_polyphonic_json
from zoo.families.rnn_piano.polyphonic import write_split_pickles
from zoo.errors import DataError, UsageError
from zoo.layers.rbm import AIS_BASES
from zoo.layers.rnn_estimators import RNN_TYPES, RnnNade, RnnRbm
from zoo.core.model_type import ModelType
from zoo.core.registry import register_model_type
from zoo.music.io import write_pieces
from zoo.music.score import Score
from zoo.core.optimizers import make_optimizer
from zoo.core.run_folder import RunFolder

EVAL_FRAMES_PER_CHUNK = 4096  # frames per NADE log-likelihood call in evaluation (N*D*H memory)


def _units(text: str) -> list[int]:
    try:
        units = [int(u) for u in str(text).split(",") if u.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated layer sizes such as 512,256, got {text!r}")
    if not units or min(units) < 1:
        raise argparse.ArgumentTypeError(f"layer sizes must be positive, got {text!r}")
    return units


@keras.saving.register_keras_serializable(package="zoo")
class PianoRollEstimatorModel(keras.Model):
    """A `RnnNade` or `RnnRbm` over 88-key rolls with its own train/test steps.

    Batches: (rolls [B, T, D] float 0/1, mask [B, T] bool). `call(rolls)` returns the per-frame NLL [B, T]
    (NADE) or the per-frame free energy F_t(v_t) [B, T] (RBM: NLL_t = F_t + log Z_t).
    """

    def __init__(self, estimator: dict, **kwargs):
        super().__init__(**kwargs)
        self.estimator_config = estimator
        self.estimator = keras.saving.deserialize_keras_object(estimator)
        self.is_rbm = isinstance(self.estimator, RnnRbm)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.extra_tracker = keras.metrics.Mean(name="recon" if self.is_rbm else "nll")

    def build(self, input_shape=None):
        self.estimator.build()
        self.built = True

    @staticmethod
    def shifted(rolls):
        """The RNN's inputs: [0, x_1 .. x_{T-1}]."""
        return tf.pad(rolls[:, :-1], [[0, 0], [1, 0], [0, 0]])

    def call(self, rolls, training=None):
        rolls = tf.cast(rolls, self.compute_dtype)
        if self.is_rbm:
            return self.estimator.free_energy(self.shifted(rolls), rolls, training=training)
        return self.estimator(self.shifted(rolls), rolls, training=training)

    def reconstruction_xent(self, rolls, training=None):
        """Mean-field one-step reconstruction cross-entropy [B, T] of each frame (RBM monitor)."""
        bv_offset, bh_offset = self.estimator.conditioned_offsets(self.shifted(rolls), training=training)
        rbm = self.estimator.rbm
        h = rbm.hidden_probs(rolls, bh_offset)
        probs = tf.clip_by_value(rbm.visible_probs(h, bv_offset), 1e-6, 1 - 1e-6)
        return -tf.reduce_sum(rolls * tf.math.log(probs) + (1 - rolls) * tf.math.log(1 - probs), -1)

    def _per_frame(self, rolls, mask, training):
        """(mean over unmasked frames of the estimator's per-step output: NLL or CD cost, frame count)."""
        frames = tf.reduce_sum(mask)
        per_step = self.estimator(self.shifted(rolls), rolls, mask=mask, training=training)
        return tf.reduce_sum(per_step) / frames, frames

    def train_step(self, data):
        rolls, mask = data
        rolls, mask = tf.cast(rolls, self.compute_dtype), tf.cast(mask, self.compute_dtype)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            loss, frames = self._per_frame(rolls, mask, training=True)
            scaled = self.optimizer.scale_loss(loss / replicas)
        grads = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        return self._track(rolls, mask, loss, frames, training=False)

    def test_step(self, data):
        rolls, mask = data
        rolls, mask = tf.cast(rolls, self.compute_dtype), tf.cast(mask, self.compute_dtype)
        if self.is_rbm:  # val_loss = reconstruction cross-entropy (see the module docstring)
            frames = tf.reduce_sum(mask)
            recon = tf.reduce_sum(self.reconstruction_xent(rolls) * mask) / frames
            self.loss_tracker.update_state(recon, sample_weight=frames)
            self.extra_tracker.update_state(recon, sample_weight=frames)
            return self._results()
        loss, frames = self._per_frame(rolls, mask, training=False)
        return self._track(rolls, mask, loss, frames, training=False)

    def _track(self, rolls, mask, loss, frames, training):
        self.loss_tracker.update_state(loss, sample_weight=frames)
        if self.is_rbm:
            recon = tf.reduce_sum(self.reconstruction_xent(rolls, training) * mask) / frames
            self.extra_tracker.update_state(recon, sample_weight=frames)
        else:
            self.extra_tracker.update_state(loss, sample_weight=frames)
        return self._results()

    def _results(self):
        return {m.name: m.result() for m in self.metrics}

    @property
    def metrics(self):
        return [self.loss_tracker, self.extra_tracker]

    def get_config(self):
        return {**super().get_config(), "estimator": self.estimator_config}


class _RnnPianoType(ModelType):
    """The hooks rnn_nade and rnn_rbm share."""

    default_encoding = "pianoroll"
    encodings = ("pianoroll",)

    @classmethod
    def _add_common_arguments(cls, parser, hidden: int, units: str, rnn_type: str, dropout: float) -> None:
        parser.add_argument("--dataset", default=None,
                            help="polyphonic benchmark JSON {train,valid,test} of MIDI pitch frames "
                                 f"(default: the bundled JSB Chorales, {BUNDLED_JSB.name}); or use -p PICKLE")
        parser.add_argument("--frames_per_beat", type=int, default=None,
                            help="frames per quarter note of --dataset, for writing MIDI (default 1, as JSB's)")
        parser.add_argument("--num_hidden", type=int, default=hidden, help="hidden units of the estimator (default %(default)s)")
        parser.add_argument("--rnn_units", type=_units, default=_units(units), help="RNN layer sizes, comma-separated (default %(default)s)")
        parser.add_argument("--rnn_type", choices=RNN_TYPES, default=rnn_type,
                            help="lstm (MultINN's core) or simple (Boulanger-Lewandowski's tanh RNN; default %(default)s)")
        parser.add_argument("--dropout", type=float, default=dropout, help="output dropout after each RNN layer (default %(default)s)")
        parser.add_argument("--clip_norm", type=float, default=5.0, help="global gradient-norm clip (0: off; default %(default)s)")
        parser.add_argument("--adam_epsilon", type=float, default=None, help="Adam's epsilon (-o adam only; default 1e-4)")
        parser.add_argument("--patience", type=int, default=5,
                            help="stop after this many epochs without a better val_loss (0: never; default %(default)s)")

    @classmethod
    def check_args(cls, args: dict[str, Any]) -> dict[str, Any]:
        if args["loss_function"] not in cls.loss_functions:
            raise UsageError(f"-l {args['loss_function']} does not apply to '{cls.name}' "
                             f"(its loss is fixed: {', '.join(cls.loss_functions)})")
        if args["num_hidden"] < 1 or (args["frames_per_beat"] is not None and args["frames_per_beat"] < 1):
            raise UsageError("--num_hidden and --frames_per_beat must be at least 1")
        if not 0 <= args["dropout"] < 1:
            raise UsageError(f"--dropout must be in [0, 1) (got {args['dropout']})")
        if args["patience"] < 0 or args["clip_norm"] < 0:
            raise UsageError("--patience and --clip_norm must be 0 or more")
        if args["adam_epsilon"] is not None and args["optimizer"].lower() != "adam":
            raise UsageError(f"--adam_epsilon applies to -o adam, not to -o {args['optimizer']}")
        if not args.get("data_path") and args.get("validation_split") is not None:
            raise UsageError("--validation_split does not apply to a benchmark JSON file: it has its own 'valid' split")
        if args.get("data_path") and (args.get("dataset") or args["frames_per_beat"] is not None):
            raise UsageError("--dataset and --frames_per_beat describe a JSON benchmark file; -p PICKLE brings "
                             "its own splits and encoding (give one or the other)")
        return args

    # ------------------------------------------------------------ data
    @classmethod
    def resolve_data(cls, args: dict[str, Any]) -> TrainingData:
        if args.get("data_mode") not in (None, "pianoroll"):
            raise UsageError(f"'{cls.name}' trains on 88-key piano-rolls (-d pianoroll), not '{args['data_mode']}'")
        if args.get("data_path"):
            data = resolve_training_data({**args, "data_mode": "pianoroll"}, cls)
            enc = data.encoding_config
            if (enc.get("lowest_pitch"), enc.get("num_pitches")) != (LOWEST_PITCH, NUM_KEYS):
                raise DataError(f"{data.paths['train']}: '{cls.name}' needs an 88-key roll from MIDI 21 "
                                "(prepare with --encoding pianoroll --lowest_pitch 21 --num_pitches 88)")
            return data
        source = Path(args.get("dataset") or BUNDLED_JSB)
        splits = read_polyphonic_json(source)
        config = encoding_config(args["frames_per_beat"] or 1)
        # RunFolder checks the name again: on --resume_auto it comes from the run's (editable) config.json
        folder = RunFolder(Path(args["weights_path"]), args["name"]).path / "data"
        paths = write_split_pickles(splits, folder, str(source), config)
        train, valid = load_split(paths["train"]), load_split(paths["valid"])
        return TrainingData(train, valid, {k: str(v) for k, v in paths.items()}, config)

    @classmethod
    def datasets(cls, data: TrainingData, encoding, config: dict[str, Any]):
        length = config["seq_len"]
        train_chunks = chunk_rolls(data.train.pieces, length)
        valid_chunks = chunk_rolls(data.valid.pieces, length)
        return (roll_dataset(train_chunks, config["batch_size"], shuffle=True, seed=config["seed"]),
                roll_dataset(valid_chunks, config["batch_size"], shuffle=False),
                f"{len(train_chunks)} chunks of at most {length} frames")

    # ------------------------------------------------------------ model
    @classmethod
    def _estimator(cls, config: dict[str, Any]) -> keras.layers.Layer:
        raise NotImplementedError

    @classmethod
    def build(cls, config: dict[str, Any], encoding) -> keras.Model:
        estimator = cls._estimator(config)
        model = PianoRollEstimatorModel(keras.saving.serialize_keras_object(estimator), name=cls.name)
        model(tf.zeros((1, 2, NUM_KEYS)))
        return model

    @classmethod
    def compile(cls, model: keras.Model, config: dict[str, Any]) -> None:
        optimizer = make_optimizer(config["optimizer"], config.get("learning_rate"))  # validates the name
        settings = optimizer.get_config()
        if config["clip_norm"] > 0:
            settings["global_clipnorm"] = config["clip_norm"]
        if config["optimizer"].lower() == "adam":
            settings["epsilon"] = config.get("adam_epsilon") or 1e-4
        optimizer = optimizer.__class__.from_config(settings)
        model.compile(optimizer=optimizer, jit_compile=config.get("jit_compile", "auto"))

    @classmethod
    def callbacks(cls, config: dict[str, Any], run) -> list[keras.callbacks.Callback]:
        if config["patience"] <= 0:
            return []
        return [keras.callbacks.EarlyStopping(monitor="val_loss", patience=config["patience"])]

    # ------------------------------------------------------------ generation
    @classmethod
    def sample_scores(cls, model, config, encoding, num_outputs, seed, length=None) -> list[Score]:
        length = length or config.get("sample_length") or 128
        primer = np.zeros((num_outputs, 0, NUM_KEYS), np.float32)
        rolls = sample_rolls(model, primer, length, seed)
        return [encoding.decode(roll) for roll in rolls]

    @classmethod
    def add_generate_arguments(cls, parser) -> None:
        parser.add_argument("--length", type=int, default=128, help="frames to sample after the intro")
        parser.add_argument("--temperature", type=float, default=1.0,
                            help="sampling temperature (NADE: logits / T; RBM: energies / T)")
        parser.add_argument("--intro_frames", type=int, default=0,
                            help="start each piece with this many frames of a test sequence (0: from nothing)")
        parser.add_argument("--intro_index", type=int, default=0,
                            help="test sequence of the first piece's intro (piece i takes index + i)")

    @classmethod
    def generate(cls, args, run, config, encoding, model) -> list[Path]:
        if args["length"] < 1:
            raise UsageError(f"--length must be at least 1 (got {args['length']})")
        if args["temperature"] <= 0:
            raise UsageError(f"--temperature must be positive (got {args['temperature']})")
        primer = intro_rolls(args, run, config, args["num_outputs"])
        rolls = sample_rolls(model, primer, args["length"], args["seed"], args["temperature"])
        scores = (encoding.decode(np.concatenate([primer[i], roll]) if primer.shape[1] else roll)
                  for i, roll in enumerate(rolls))
        return write_pieces(scores, args["output_dir"], f"{run.name}-{args['seed']}")

    # ------------------------------------------------------------ export
    @classmethod
    def export_endpoints(cls, model, config) -> dict[str, Any]:
        serve = tf.function(lambda rolls: model(rolls, training=False),
                            input_signature=[tf.TensorSpec([None, None, NUM_KEYS], tf.float32, name="rolls")])
        sampler = compiled_sampler(model)
        generate = tf.function(lambda *args: sampler(*args), input_signature=sampler.input_signature)
        return {"serve": serve, "generate": generate}


@register_model_type
class RnnNadeType(_RnnPianoType):
    """RNN-NADE; defaults from MultINN (specs/multinn.md §4.1, §6): LSTM 512,256, NADE 256, Adam 1e-2 eps 1e-4."""

    name = "rnn_nade"
    loss_functions = ("nade_nll",)
    flag_defaults = {"loss_function": "nade_nll", "batch_size": 32, "seq_len": 64, "learning_rate": 1e-2,
                     "epochs": 20, "sample_length": 128}

    @classmethod
    def add_arguments(cls, parser) -> None:
        cls._add_common_arguments(parser, hidden=256, units="512,256", rnn_type="lstm", dropout=0.1)
        parser.add_argument("--internal_bias", action="store_true", help="the NADE also learns static biases")

    @classmethod
    def _estimator(cls, config):
        return RnnNade(NUM_KEYS, config["num_hidden"], rnn_units=config["rnn_units"], dropout=config["dropout"],
                       internal_bias=config["internal_bias"], rnn_type=config["rnn_type"], name="rnn_nade")

    @classmethod
    def evaluate(cls, model, config, encoding, split: EncodedSplit, args, run) -> dict[str, Any]:
        """Exact frame-level NLL (nats per frame, summed over 88 keys) of the whole test sequences."""
        total, frames = 0.0, 0
        for rolls, mask in roll_dataset(split.pieces, args["batch_size"], shuffle=False):
            total += float(nade_nll_sum(model, rolls, mask))
            frames += int(tf.reduce_sum(tf.cast(mask, tf.int32)))
        nll = total / frames
        return {"frames": frames, "nll_per_frame": nll, "bits_per_frame": nll / math.log(2),
                "protocol": "exact NADE; whole sequences; every frame counted, the first from a zero input"}


@register_model_type
class RnnRbmType(_RnnPianoType):
    """RNN-RBM; defaults from the Theano tutorial (specs/multinn.md §4.4): 150 hidden, RNN 100, CD-15, SGD 1e-3."""

    name = "rnn_rbm"
    loss_functions = ("cd",)
    flag_defaults = {"loss_function": "cd", "batch_size": 10, "seq_len": 100, "optimizer": "sgd",
                     "learning_rate": 1e-3, "epochs": 200, "sample_length": 128}

    @classmethod
    def add_arguments(cls, parser) -> None:
        cls._add_common_arguments(parser, hidden=150, units="100", rnn_type="simple", dropout=0.0)
        parser.add_argument("--gibbs_k", type=int, default=15, help="Gibbs steps of CD-k in training (default %(default)s)")
        parser.add_argument("--sample_k", type=int, default=25, help="Gibbs steps per generated frame (default %(default)s)")

    @classmethod
    def check_args(cls, args):
        args = super().check_args(args)
        if args["gibbs_k"] < 1 or args["sample_k"] < 1:
            raise UsageError("--gibbs_k and --sample_k must be at least 1")
        return args

    @classmethod
    def _estimator(cls, config):
        return RnnRbm(NUM_KEYS, config["num_hidden"], rnn_units=config["rnn_units"], dropout=config["dropout"],
                      gibbs_k=config["gibbs_k"], sample_k=config["sample_k"], rnn_type=config["rnn_type"],
                      seed=config["seed"], name="rnn_rbm")

    @classmethod
    def add_evaluate_arguments(cls, parser) -> None:
        # Defaults checked on a trained JSB model: 300 vs 1000 vs 3000 temperatures moved the mean NLL by < 0.005.
        parser.add_argument("--ais_chains", type=int, default=50, help="AIS chains per frame")
        parser.add_argument("--ais_betas", type=int, default=300, help="AIS intermediate temperatures (linear in [0, 1])")
        parser.add_argument("--ais_frames", type=int, default=256, help="frames per AIS batch (memory)")
        parser.add_argument("--ais_base", choices=AIS_BASES, default="mean_field",
                            help="AIS base model: mean_field (a factorised fit of each frame's RBM) or visible "
                                 "(its visible biases alone)")

    @classmethod
    def evaluate(cls, model, config, encoding, split: EncodedSplit, args, run) -> dict[str, Any]:
        """NLL per frame = mean_t F_t(v_t) + log Z_t, log Z_t by AIS for every test frame's own RBM."""
        for key in ("ais_chains", "ais_betas", "ais_frames"):
            if args[key] < 1:
                raise UsageError(f"--{key} must be at least 1 (got {args[key]})")
        energies, offsets_v, offsets_h = [], [], []
        for rolls, mask in roll_dataset(split.pieces, args["batch_size"], shuffle=False):
            keep = tf.cast(mask, tf.bool)
            bv, bh = model.estimator.conditioned_offsets(model.shifted(tf.cast(rolls, tf.float32)))
            energies.append(tf.boolean_mask(model(rolls), keep).numpy())
            offsets_v.append(tf.boolean_mask(bv, keep).numpy())
            offsets_h.append(tf.boolean_mask(bh, keep).numpy())
        energy, bv, bh = (np.concatenate(a) for a in (energies, offsets_v, offsets_h))
        log_z, spread = ais_log_z(model.estimator.rbm, bv, bh, args["ais_chains"], args["ais_betas"],
                                  args["ais_frames"], args.get("seed") or 0, args["ais_base"])
        frames = len(energy)
        nll = float(np.mean(energy + log_z))
        return {"frames": frames, "nll_per_frame": nll, "bits_per_frame": nll / math.log(2),
                "ais_spread": float(np.sqrt(np.sum(spread ** 2)) / frames),  # std error of the mean NLL
                "ais_spread_per_frame": float(np.mean(spread)),  # mean std of one frame's log Z
                "free_energy_per_frame": float(np.mean(energy)), "log_z_per_frame": float(np.mean(log_z)),
                "ais_chains": args["ais_chains"], "ais_betas": args["ais_betas"], "ais_base": args["ais_base"],
                "protocol": "AIS per frame; whole sequences; every frame counted, the first from a zero input"}


# ---------------------------------------------------------------- data helpers
def chunk_rolls(rolls: list[np.ndarray], length: int) -> list[np.ndarray]:
    """Every roll cut into consecutive chunks of at most `length` frames."""
    if length < 1:
        raise UsageError(f"-s/--seq_len must be at least 1 (got {length})")
    return [roll[start:start + length] for roll in rolls for start in range(0, len(roll), length)]


def roll_dataset(rolls: list[np.ndarray], batch_size: int, shuffle: bool, seed: int = 0) -> tf.data.Dataset:
    """(rolls [B, T, 88] float32, mask [B, T] bool) batches, padded to the longest roll of each batch."""
    if not rolls:
        raise DataError("no piano-roll frames to batch")
    lengths = np.array([len(r) for r in rolls])
    order = np.arange(len(rolls))

    def generator():
        for i in order:
            yield rolls[i].astype(np.float32), np.ones(lengths[i], bool)

    dataset = tf.data.Dataset.from_generator(generator, output_signature=(
        tf.TensorSpec([None, NUM_KEYS], tf.float32), tf.TensorSpec([None], tf.bool)))
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(len(rolls)))  # Keras knows the epoch length
    if shuffle:
        dataset = dataset.shuffle(len(rolls), seed=seed, reshuffle_each_iteration=True)
    return dataset.padded_batch(batch_size).prefetch(tf.data.AUTOTUNE)


def intro_rolls(args: dict[str, Any], run, config: dict[str, Any], count: int) -> np.ndarray:
    """[count, P, 88] intros from the run's test split (P = --intro_frames; P = 0: no intro)."""
    frames = args.get("intro_frames") or 0
    if frames < 0:
        raise UsageError(f"--intro_frames must be 0 or more (got {frames})")
    if frames == 0:
        return np.zeros((count, 0, NUM_KEYS), np.float32)
    test_path = run.load_config()["data"].get("test")
    if not test_path or not Path(test_path).is_file():
        raise DataError(f"run '{run.name}' has no test split to take an intro from")
    pieces = load_split(test_path).pieces
    intros = []
    for i in range(count):
        index = args["intro_index"] + i
        if not 0 <= index < len(pieces):
            raise UsageError(f"--intro_index {index} is outside the {len(pieces)} test sequences")
        if len(pieces[index]) < frames:
            raise UsageError(f"test sequence {index} has {len(pieces[index])} frames, fewer than --intro_frames {frames}")
        intros.append(pieces[index][:frames])
    return np.stack(intros).astype(np.float32)


# ---------------------------------------------------------------- compiled functions
def compiled_sampler(model: PianoRollEstimatorModel):
    """The model's generation loop, traced once: (primer [B, P, 88], steps, seed [2], temperature) -> [B, steps, 88]."""
    sampler = getattr(model, "_zoo_sampler", None)
    if sampler is None:
        estimator = model.estimator

        @tf.function(input_signature=[tf.TensorSpec([None, None, NUM_KEYS], tf.float32, name="primer"),
                                      tf.TensorSpec([], tf.int32, name="num_steps"),
                                      tf.TensorSpec([2], tf.int32, name="seed"),
                                      tf.TensorSpec([], tf.float32, name="temperature")])
        def sampler(primer, num_steps, seed, temperature):
            return estimator.sample_sequence(primer, num_steps, seed, temperature)

        object.__setattr__(model, "_zoo_sampler", sampler)  # not tracked by Keras
    return sampler


def sample_rolls(model, primer: np.ndarray, length: int, seed: int, temperature: float = 1.0) -> np.ndarray:
    """Sampled rolls [B, length, 88] (uint8) after `primer` [B, P, 88]."""
    out = compiled_sampler(model)(tf.constant(primer, tf.float32), tf.constant(length, tf.int32),
                                  tf.constant([seed, 0], tf.int32), tf.constant(temperature, tf.float32))
    return out.numpy().astype(np.uint8)


@tf.function(reduce_retracing=True)
def _nade_biases(estimator, inputs):
    return estimator.biases(inputs, training=False)


def nade_nll_sum(model: PianoRollEstimatorModel, rolls, mask) -> float:
    """Summed exact NLL of the unmasked frames of a batch (NADE in chunks of EVAL_FRAMES_PER_CHUNK frames)."""
    rolls = tf.cast(rolls, tf.float32)
    b_enc, b_dec = _nade_biases(model.estimator, model.shifted(rolls))
    keep = tf.cast(mask, tf.bool)
    x, b_enc, b_dec = (tf.boolean_mask(a, keep) for a in (rolls, b_enc, b_dec))
    total = 0.0
    for start in range(0, int(x.shape[0]), EVAL_FRAMES_PER_CHUNK):
        end = start + EVAL_FRAMES_PER_CHUNK
        total += float(-tf.reduce_sum(_nade_log_prob(model.estimator.nade, x[start:end], b_enc[start:end],
                                                     b_dec[start:end])))
    return total


@tf.function(reduce_retracing=True)
def _nade_log_prob(nade, x, b_enc, b_dec):
    return nade.log_prob(x, b_enc, b_dec)


def ais_log_z(rbm, bv: np.ndarray, bh: np.ndarray, chains: int, betas: int, frames_per_batch: int, seed: int,
              base: str = "mean_field"):
    """log Z_t and its spread for every frame's RBM, `frames_per_batch` frames at a time (one traced loop)."""

    @tf.function(input_signature=[tf.TensorSpec([None, bv.shape[1]]), tf.TensorSpec([None, bh.shape[1]]),
                                  tf.TensorSpec([2], tf.int32)])
    def batch(bv, bh, seed):
        return rbm.log_partition_ais(bv, bh, num_chains=chains, num_betas=betas, seed=seed, base=base)

    log_z, spread = [], []
    for index, start in enumerate(range(0, len(bv), frames_per_batch)):
        end = start + frames_per_batch
        z, s = batch(bv[start:end], bh[start:end], tf.constant([seed, index], tf.int32))
        log_z.append(z.numpy())
        spread.append(s.numpy())
    return np.concatenate(log_z), np.concatenate(spread)
