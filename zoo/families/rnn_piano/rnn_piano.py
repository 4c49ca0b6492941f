"""RNN-NADE (`-m rnn_nade`) and RNN-RBM (`-m rnn_rbm`) on 88-key piano-rolls: the polyphonic benchmarks.

Data: `--dataset FILE.json` in the Boulanger-Lewandowski format (zoo/families/rnn_piano/polyphonic.py; default the
bundled JSB Chorales), keeping the file's own train/valid/test splits; the rolls are stored once as zoo data
pickles in the data cache (zoo/data/corpus.py), whose absolute paths config.json keeps for `python -m zoo evaluate`
and generate.py's intros. Runs made before kept them in weights/NAME/data/, as their config.json says.
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

The Keras model is in piano_roll_estimator_model.py, the data in roll_data.py, generation in
roll_sampler.py and the test likelihoods in roll_likelihood.py (all in zoo/families/rnn_piano/).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from zoo.core.flags import positive_int
from zoo.core.model_type import ModelType
from zoo.core.optimizers import make_optimizer
from zoo.core.registry import register_model_type
from zoo.data.dataset import EncodedSplit, TrainingData, load_split, resolve_training_data
from zoo.errors import DataError, UsageError
from zoo.families.rnn_piano.piano_roll_estimator_model import PianoRollEstimatorModel
from zoo.families.rnn_piano.polyphonic import BUNDLED_JSB, LOWEST_PITCH, NUM_KEYS, cached_rolls
from zoo.families.rnn_piano.rnn_piano_flags import RnnNadeFlags, RnnRbmFlags
from zoo.families.rnn_piano.roll_data import chunk_rolls, intro_rolls, roll_dataset
from zoo.families.rnn_piano.roll_likelihood import ais_log_z, nade_nll_sum
from zoo.families.rnn_piano.roll_sampler import compiled_sampler, sample_rolls
from zoo.layers.rbm import AIS_BASES
from zoo.layers.rnn_estimators import RnnNade, RnnRbm
from zoo.music.io import write_pieces
from zoo.music.score import Score


class _RnnPianoType(ModelType):
    """The hooks rnn_nade and rnn_rbm share."""

    default_encoding = "pianoroll"
    encodings = ("pianoroll",)

    @classmethod
    def check_args(cls, args: dict[str, Any]) -> dict[str, Any]:
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
        paths = cached_rolls(args.get("dataset") or BUNDLED_JSB, args["frames_per_beat"] or 1)
        train, valid = load_split(paths["train"]), load_split(paths["valid"])
        return TrainingData(train, valid, {k: str(v) for k, v in paths.items()}, train.encoding)

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
        epsilon = (config.get("adam_epsilon") or 1e-4) if config["optimizer"].lower() == "adam" else None
        optimizer = make_optimizer(config["optimizer"], config.get("learning_rate"), epsilon=epsilon,
                                   global_clipnorm=config["clip_norm"])
        model.compile(optimizer=optimizer, jit_compile=config.get("jit_compile", "auto"))

    # ------------------------------------------------------------ generation
    @classmethod
    def sample_scores(cls, model, config, encoding, num_outputs, seed, length=None) -> list[Score]:
        length = length or config.get("sample_length") or 128
        primer = np.zeros((num_outputs, 0, NUM_KEYS), np.float32)
        rolls = sample_rolls(model, primer, length, seed)
        return [encoding.decode(roll) for roll in rolls]

    @classmethod
    def generate(cls, args, run, config, encoding, model) -> list[Path]:
        primer = intro_rolls(args, run, config, args["num_outputs"])
        rolls = sample_rolls(model, primer, args["length"], args["seed"], args["temperature"])
        scores = (encoding.decode(np.concatenate([primer[i], roll]) if primer.shape[1] else roll)
                  for i, roll in enumerate(rolls))
        return write_pieces(scores, args["output_dir"], run.name, "sample", args["seed"])

    # ------------------------------------------------------------ export
    @classmethod
    def export_endpoints(cls, model, config) -> dict[str, Any]:
        serve = tf.function(lambda rolls: model(rolls, training=False),
                            input_signature=[tf.TensorSpec([None, None, NUM_KEYS], tf.float32, name="rolls")])
        sampler = compiled_sampler(model)
        generate = tf.function(lambda *args: sampler(*args), input_signature=sampler.input_signature)
        return {"serve": serve, "generate": generate}


@register_model_type
class RnnNadeType(RnnNadeFlags, _RnnPianoType):
    """RNN-NADE; defaults from MultINN (specs/multinn.md §4.1, §6): LSTM 512,256, NADE 256, Adam 1e-2 eps 1e-4."""

    loss_functions = ("nade_nll",)

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
class RnnRbmType(RnnRbmFlags, _RnnPianoType):
    """RNN-RBM; defaults from the Theano tutorial (specs/multinn.md §4.4): 150 hidden, RNN 100, CD-15, SGD 1e-3."""

    loss_functions = ("cd",)

    @classmethod
    def _estimator(cls, config):
        return RnnRbm(NUM_KEYS, config["num_hidden"], rnn_units=config["rnn_units"], dropout=config["dropout"],
                      gibbs_k=config["gibbs_k"], sample_k=config["sample_k"], rnn_type=config["rnn_type"],
                      seed=config["seed"], name="rnn_rbm")

    @classmethod
    def add_evaluate_arguments(cls, parser) -> None:
        # Defaults checked on a trained JSB model: 300 vs 1000 vs 3000 temperatures moved the mean NLL by < 0.005.
        parser.add_argument("--ais_chains", type=positive_int, default=50, help="AIS chains per frame")
        parser.add_argument("--ais_betas", type=positive_int, default=300,
                            help="AIS intermediate temperatures (linear in [0, 1])")
        parser.add_argument("--ais_frames", type=positive_int, default=256, help="frames per AIS batch (memory)")
        parser.add_argument("--ais_base", choices=AIS_BASES, default="mean_field",
                            help="AIS base model: mean_field (a factorised fit of each frame's RBM) or visible "
                                 "(its visible biases alone)")

    @classmethod
    def evaluate(cls, model, config, encoding, split: EncodedSplit, args, run) -> dict[str, Any]:
        """NLL per frame = mean_t F_t(v_t) + log Z_t, log Z_t by AIS for every test frame's own RBM."""
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
