"""MultINN (`-m multinn`): multi-track piano-roll generators, per specs/multinn.md.

Data: the `multitrack` encoding (zoo/families/multinn/multitrack_encoding.py): per piece uint8 [T, D, K] model steps.
Training sequences are the encoding's `sample_beats` long, cut one after another from each piece (the
last one padded and masked), reshuffled every epoch. The model (zoo/families/multinn/multinn_model.py) has
encoders (`pass`, `dbn`) and generators (`rnn_nade`, `rnn_multinade`, `rnn_rbm`) in one of five
modes (`joint`, `composer`, `jamming`, `feedback`, `feedback_rnn`).

Two stages, as MultINN's train_encoders.py / train.py:
    python training.py -m multinn -n enc --stage encoders --encoder dbn --encoder_hidden 168 84
    python training.py -m multinn -n gen --encoder dbn --encoder_hidden 168 84 --encoders_from enc
The first pre-trains the DBNs with CD-k (logged `loss`: one-pass reconstruction log-loss; `cd_i`: layer
i's free-energy gap); the second trains the generators with the DBNs frozen. With `--encoder pass`
(default) only the second is needed.

MultINN's defaults (spec §6): Adam lr 1e-2, epsilon 1e-4, global-norm clip 5, batch 32, 20 epochs, early
stopping after 5 epochs without a better val_loss, dropout 0.1, NADE hidden 256, LSTMs [512, 256]
(feedback modes: [256, 256] with feedback 128 / [256, 128]). Logged `loss` (and `nll` for NADE
generators): the NLL per model step in nats, averaged over tracks; for rnn_rbm `loss` is the CD-k
free-energy gap, not a likelihood (`python -m zoo evaluate` estimates its NLL with AIS). Sample
lengths (`--sample_length`, generate's `--sample_beats`) are in beats.
"""
from __future__ import annotations

import itertools
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from zoo.core.checkpoints import load_model
from zoo.core.flags import positive_int
from zoo.core.model_cache import per_model
from zoo.core.model_type import ModelType
from zoo.core.optimizers import make_optimizer, takes_epsilon
from zoo.core.registry import register_model_type
from zoo.core.run_folder import RunConfig, RunFolder
from zoo.data.corpus import ensure_default_dataset
from zoo.data.dataset import SEED_DEFAULT_DATA_PATH, TrainingData, load_split, resolve_training_data
from zoo.encodings.base import Encoding
from zoo.errors import DataError, UsageError
from zoo.families.multinn.multinn_flags import MultINNFlags
from zoo.families.multinn.multinn_model import MultiNN, MultiNNSampler
from zoo.families.multinn.multitrack_encoding import MultitrackEncoding
from zoo.metrics import musegan
from zoo.music.io import write_pieces
from zoo.music.score import Score

DEFAULT_RNN = {"feedback": [256, 256], "feedback_rnn": [256, 256]}
DEFAULT_FEEDBACK = {"feedback": [128], "feedback_rnn": [256, 128]}
HINTON_INIT_STEPS = 1600 * 64  # MultINN estimates the on-rates from X_train[:1600] (1600 sequences of 64 steps)
EVAL_BATCH = 16
AIS_CHAINS, AIS_BETAS = 100, 1000  # Salakhutdinov & Murray's scale; state them beside the NLL


def sequence_windows(pieces: list[np.ndarray], steps: int, num_dims: int, num_tracks: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(rolls uint8 [N, steps, D, K], mask float32 [N, steps]): each piece cut into consecutive windows,
    the last one padded with silence and masked. Raises DataError for a piece of another shape."""
    rolls, masks = [], []
    for piece in pieces:
        piece = np.asarray(piece)
        if piece.ndim != 3 or piece.shape[1:] != (num_dims, num_tracks):
            raise DataError(f"a multitrack piece has shape {piece.shape}, expected [time, {num_dims}, {num_tracks}]")
        count = -(-len(piece) // steps)
        padded = np.zeros((count * steps, num_dims, num_tracks), np.uint8)
        padded[:len(piece)] = piece
        mask = np.zeros(count * steps, np.float32)
        mask[:len(piece)] = 1.0
        rolls.append(padded.reshape(count, steps, num_dims, num_tracks))
        masks.append(mask.reshape(count, steps))
    if not rolls:
        raise DataError("no multitrack pieces to train on")
    return np.concatenate(rolls), np.concatenate(masks)


def default_chorale_encoding():
    """The embedded default's encoding: Bach's four voices, C2..B5, sixteenth-note model steps, 4-bar sequences."""
    return MultitrackEncoding(track_map="parts:4", lowest_pitch=36, highest_pitch=84, steps_per_beat=4,
                              steps_per_model_step=1, sample_beats=16)


def sampler_of(model: MultiNN) -> MultiNNSampler:
    """The model's compiled sampler, created (and traced) once per model."""
    return per_model(model, "sampler", lambda: MultiNNSampler(model))


@register_model_type
class MultINN(MultINNFlags, ModelType):
    default_encoding = "multitrack"
    encodings = ("multitrack",)
    loss_functions = ("nll",)
    flag_aliases = {"early_stopping": "patience"}

    # ------------------------------------------------------------ command line
    @classmethod
    def check_args(cls, args: dict[str, Any]) -> dict[str, Any]:
        args = dict(args)
        mode = args["mode"]
        generator = args["generator"] or ("rnn_multinade" if mode == "composer" else "rnn_nade")
        if mode == "composer" and generator == "rnn_nade":
            generator = "rnn_multinade"  # composer's generator is the shared-LSTM NADE per track (spec §5)
        if mode == "composer" and generator == "rnn_rbm":
            raise UsageError("--generator rnn_rbm does not work in composer mode (no multi-RBM, as in MultINN); "
                             "use --mode joint, jamming, feedback or feedback_rnn")
        if generator == "rnn_multinade" and mode != "composer":
            raise UsageError(f"--generator rnn_multinade is composer mode's generator, not {mode}'s (use rnn_nade)")
        args["generator"] = generator
        args["num_hidden_rnn"] = args["num_hidden_rnn"] or DEFAULT_RNN.get(mode, [512, 256])
        args["feedback"] = args["feedback"] or DEFAULT_FEEDBACK.get(mode, [])
        if mode not in DEFAULT_FEEDBACK and args["feedback"]:
            raise UsageError(f"--feedback applies to the feedback modes, not {mode}")
        if args["stage"] == "encoders" and args["encoder"] != "dbn":
            raise UsageError("--stage encoders pre-trains DBN encoders: add --encoder dbn")
        if args["stage"] == "generators" and args["encoder"] == "dbn" and not args["encoders_from"]:
            raise UsageError("--encoder dbn needs pre-trained encoders: train them with --stage encoders -n ENC, "
                             "then pass --encoders_from ENC")
        if args["encoders_from"] and args["encoder"] != "dbn":
            raise UsageError("--encoders_from applies to --encoder dbn")
        if args["encoders_from"]:
            cls._encoder_source(args, load=False)  # fails early on a missing or mismatched run
        return args

    # ------------------------------------------------------------ training
    @classmethod
    def resolve_data(cls, args: dict[str, Any]) -> TrainingData:
        """-p's data; without it, the music21 Bach chorales as four voices (parts:4), prepared once."""
        if args.get("data_path") is None and not SEED_DEFAULT_DATA_PATH.is_file():
            args = {**args, "data_path": str(ensure_default_dataset(default_chorale_encoding()))}
        return resolve_training_data(args, cls)

    @classmethod
    def datasets(cls, data: TrainingData, encoding: Encoding, config: dict[str, Any]):
        steps, batch, seed = encoding.sample_steps, config["batch_size"], config["seed"]
        shape = (encoding.num_dims, encoding.num_tracks)
        train = sequence_windows(data.train.pieces, steps, *shape)
        valid = sequence_windows(data.valid.pieces, steps, *shape)

        def pipeline(windows, shuffle):
            dataset = tf.data.Dataset.from_tensor_slices(windows)
            if shuffle:
                dataset = dataset.shuffle(len(windows[0]), seed=seed, reshuffle_each_iteration=True)
            return dataset.batch(batch).map(lambda r, m: (tf.cast(r, tf.float32), m)).prefetch(tf.data.AUTOTUNE)

        description = (f"{len(train[0])} sequences of {steps} steps x {shape[0]} dims x {shape[1]} tracks, "
                       f"{config['mode']} mode, {config['generator']}, stage {config['stage']}")
        return pipeline(train, True), pipeline(valid, False), description

    @classmethod
    def build(cls, config: dict[str, Any], encoding: Encoding) -> MultiNN:
        model = MultiNN(encoding.num_dims, encoding.num_tracks, mode=config["mode"], generator=config["generator"],
                        num_hidden=config["num_hidden"], rnn_units=config["num_hidden_rnn"],
                        feedback_units=config["feedback"], dropout=config["dropout"], gibbs_k=config["gibbs_k"],
                        sample_gibbs_k=config["sample_gibbs_k"], encoder=config["encoder"],
                        encoder_hidden=config["encoder_hidden"], encoder_gibbs_k=config["encoder_gibbs_k"],
                        stage=config["stage"], seed=config["seed"], name="multinn")
        model.build()
        return model

    @classmethod
    def initialize_from_data(cls, model: MultiNN, context) -> None:
        """Stage encoders: Hinton's visible biases from the data; generators: --encoders_from's DBNs, frozen."""
        config = context.config
        if config["stage"] == "encoders":
            cls._init_visible_biases(model, context)
        elif config.get("encoders_from"):
            source = cls._encoder_source(config)
            if [d.num_visible for d in source.encoders] != [d.num_visible for d in model.encoders]:
                raise UsageError(f"run '{config['encoders_from']}' pre-trained its DBNs on {len(source.encoders)} "
                                 f"track(s) of {source.encoders[0].num_visible} dims; this data has "
                                 f"{len(model.encoders)} of {model.encoders[0].num_visible} (use the same data)")
            for mine, theirs in zip(model.encoders, source.encoders):
                mine.set_weights(theirs.get_weights())

    @classmethod
    def _encoder_source(cls, config: dict[str, Any], load: bool = True) -> MultiNN | None:
        """The pre-trained model of run `--encoders_from`, checked (from its config.json alone when
        `load` is False, so no TensorFlow op runs before the thread settings) to have this run's DBNs."""
        run = RunFolder(Path(config["weights_path"]), config["encoders_from"])
        source_config = run.load_config()
        theirs = source_config.get("args", {})
        same = (source_config.get("model_type") == cls.name and theirs.get("encoder") == "dbn"
                and list(theirs.get("encoder_hidden", [])) == list(config["encoder_hidden"])
                and (theirs.get("mode") == "joint") == (config["mode"] == "joint"))
        if not same:
            raise UsageError(f"run '{run.name}' has no DBN encoders like this run's (--encoder dbn --encoder_hidden "
                             f"{' '.join(map(str, config['encoder_hidden']))}, "
                             f"{'joint' if config['mode'] == 'joint' else 'per-track'})")
        path = run.model_file("best")
        if not load:
            return None

        return load_model(path)

    @classmethod
    def _init_visible_biases(cls, model: MultiNN, context) -> None:
        """Hinton's visible-bias init of each DBN's bottom RBM from the training data's on-rates."""
        frames = np.concatenate([np.asarray(p, np.float32) for p in context.data.train.pieces])
        frames = frames[:HINTON_INIT_STEPS]
        if model.mode == "joint":
            rates = [frames.reshape(len(frames), -1).mean(axis=0)]
        else:
            rates = [frames[..., k].mean(axis=0) for k in range(model.num_tracks)]
        for dbn, rate in zip(model.encoders, rates):
            dbn.init_visible_bias(rate)

    @classmethod
    def compile(cls, model: MultiNN, config: dict[str, Any]) -> None:
        epsilon = config["adam_epsilon"] if takes_epsilon(config["optimizer"]) else None  # e.g. not sgd's
        optimizer = make_optimizer(config["optimizer"], config.get("learning_rate"), epsilon=epsilon,
                                   global_clipnorm=config["clip_norm"])
        model.compile(optimizer=optimizer, jit_compile=False)

    # ------------------------------------------------------------ generation
    @classmethod
    def sample_rolls(cls, model: MultiNN, encoding: Encoding, intro: np.ndarray, beats: int, seed: int,
                     temperature: float = 1.0) -> np.ndarray:
        """0/1 float32 [B, Ti + steps, D, K]: the intro [B, Ti, D, K], then `beats` generated beats."""
        rolls = sampler_of(model).sample(tf.constant(intro, tf.float32), tf.constant(encoding.beats_to_steps(beats)),
                                         tf.constant(seed, tf.int32), tf.constant(temperature, tf.float32))
        return rolls.numpy()

    @classmethod
    def sample_scores(cls, model, config, encoding, num_outputs, seed, length=None) -> list[Score]:
        """`num_outputs` pieces of `length` beats (default 16) generated from nothing."""
        intro = np.zeros((num_outputs, 0, encoding.num_dims, encoding.num_tracks), np.float32)
        rolls = cls.sample_rolls(model, encoding, intro, length or 16, seed)
        return [encoding.decode(roll) for roll in rolls]

    @classmethod
    def intros(cls, config: RunConfig, encoding: Encoding, split: str | None, beats: int, count: int, seed: int
               ) -> np.ndarray:
        """float32 [count, steps, D, K]: the first `beats` beats of pieces of the run's `split`, drawn with `seed`.

        `split` None (generate.py's default): the test split when it is here, else no intro, with a note on stderr
        (a preset's config.json names the data of the machine that trained it). A split named by --intro_from
        that is not here is a DataError.
        """
        steps = encoding.beats_to_steps(beats)
        shape = (encoding.num_dims, encoding.num_tracks)
        none = np.zeros((count, 0, *shape), np.float32)
        if split == "none" or steps == 0:
            return none
        path = config.data.get(split or "test")
        if not path or not Path(path).is_file():
            where = f"({path})" if path else "(the run records none)"
            if split is None:
                print(f"note: test split not found {where}; sampling from scratch (no intro)", file=sys.stderr)
                return none
            raise DataError(f"--intro_from {split}: the run's {split} split is not here {where}; use --intro_from "
                            "none to start from nothing")
        pieces = [p for p in load_split(path).pieces if np.asarray(p).shape[1:] == shape and len(p) >= steps]
        if not pieces:
            raise DataError(f"no piece of the {split or 'test'} split is {beats} beats long: use fewer --intro_beats")
        order = np.random.default_rng(seed).permutation(len(pieces))
        return np.stack([np.asarray(pieces[order[i % len(order)]][:steps], np.float32) for i in range(count)])

    @classmethod
    def generate(cls, args, run, config, encoding, model) -> list[Path]:
        intro = cls.intros(config, encoding, args.get("intro_from"), args["intro_beats"],
                           args["num_outputs"], args["seed"])
        if intro.shape[1] and args["sample_beats"] < args["intro_beats"]:
            raise UsageError(f"--sample_beats {args['sample_beats']} is shorter than the --intro_beats "
                             f"{args['intro_beats']} intro: generate at least as many beats as the intro has")
        rolls = cls.sample_rolls(model, encoding, intro, args["sample_beats"], args["seed"], args["temperature"])
        return write_pieces((encoding.decode(roll) for roll in rolls), args["output_dir"], run.name, "sample",
                            args["seed"])

    @classmethod
    def export_endpoints(cls, model: MultiNN, config: dict[str, Any]) -> dict[str, Any]:
        """`serve`: rolls [B, T, D, K] -> per-step NLL (or CD cost) [B, T]; `generate`: `MultiNNSampler.sample`."""
        serve = tf.function(lambda rolls: model(rolls, training=False), input_signature=[
            tf.TensorSpec([None, None, model.num_dims, model.num_tracks], tf.float32, name="rolls")])
        sampler = MultiNNSampler(model)
        generate = tf.function(lambda *args: sampler.sample(*args), input_signature=sampler.sample.input_signature)
        return {"serve": serve, "generate": generate}

    # ------------------------------------------------------------ evaluation
    @classmethod
    def add_evaluate_arguments(cls, parser) -> None:
        parser.add_argument("--ais_chains", type=positive_int, default=None,
                            help=f"rnn_rbm runs: AIS chains per step's log Z (default {AIS_CHAINS})")
        parser.add_argument("--ais_betas", type=positive_int, default=None,
                            help=f"rnn_rbm runs: AIS inverse temperatures, linear in [0, 1] (default {AIS_BETAS})")

    @classmethod
    def evaluate(cls, model, config, encoding, split, args, run) -> dict[str, float]:
        """NLL per model step over every real step of the test split (sum / count, spec §8), and the MuseGAN
        metrics per track (EB, UPC, QN, DP) and track pair (TD) of `--num_samples` samples beside the test
        split's. rnn_rbm: NLL_t = F_t(v_t) + log Z_t with log Z_t by AIS (`--ais_chains`, `--ais_betas`), and the
        mean per-step std of the log Z estimates (`ais_log_z_std_per_step`) as its spread."""
        ais = {"ais_chains": args.get("ais_chains"), "ais_betas": args.get("ais_betas")}
        if model.generator_type != "rnn_rbm" and any(v is not None for v in ais.values()):
            raise UsageError("--ais_chains/--ais_betas apply to rnn_rbm runs (a NADE's likelihood is exact)")
        ais = {"ais_chains": ais["ais_chains"] or AIS_CHAINS, "ais_betas": ais["ais_betas"] or AIS_BETAS}
        rolls, mask = sequence_windows(split.pieces, encoding.sample_steps, encoding.num_dims, encoding.num_tracks)
        seed = tf.constant([config["seed"], 0])
        totals = {"nll": 0.0, "spread": 0.0}
        for start in range(0, len(rolls), EVAL_BATCH):
            codes = model.encode(tf.constant(rolls[start:start + EVAL_BATCH], tf.float32), seed)
            batch_mask = tf.constant(mask[start:start + EVAL_BATCH])
            if model.generator_type == "rnn_rbm":
                nll, spread = model.rbm_step_nll(codes, batch_mask, ais["ais_chains"], ais["ais_betas"], seed + start)
                totals["spread"] += float(tf.reduce_sum(spread))
            else:
                nll = model.step_costs(codes, batch_mask, training=False)
            totals["nll"] += float(tf.reduce_sum(nll))
        count = float(mask.sum())
        numbers: dict[str, float] = {"nll_per_step": totals["nll"] / max(count, 1.0), "steps": count}
        if model.generator_type == "rnn_rbm":
            numbers.update({"ais_log_z_std_per_step": totals["spread"] / max(count, 1.0),
                            **{key: float(value) for key, value in ais.items()}})
        num_samples = int(args.get("num_samples") or 0)
        if num_samples:
            samples = cls.sample_scores(model, config, encoding, num_samples, int(args.get("seed") or 0),
                                        args.get("sample_length"))
            data = [encoding.decode(piece) for piece in split.pieces]
            for source, scores in (("gen", samples), ("data", data)):
                numbers.update({f"{source}_{k}": v for k, v in track_metrics(scores).items()})
        return numbers


def track_metrics(scores: list[Score]) -> dict[str, float]:
    """Mean over `scores` of the MuseGAN metrics per track (eb, upc, qn; dp for drums) and per pair (td)."""
    table: dict[str, list[float]] = {}
    for score in scores:
        for track in score.tracks:
            single = Score(resolution=score.resolution, tracks=[track], time_signatures=score.time_signatures)
            rolls = musegan.bar_rolls(single)
            names = {"eb": musegan.empty_bar_rate}
            names.update({"dp": musegan.drum_pattern_rate} if track.is_drum else
                         {"upc": musegan.used_pitch_classes, "qn": musegan.qualified_note_rate})
            for metric, function in names.items():
                table.setdefault(f"{metric}_{track.name}", []).append(function(rolls))
        pitched = [t for t in score.tracks if not t.is_drum]
        for a, b in itertools.combinations(pitched, 2):
            pair = Score(resolution=score.resolution, tracks=[a, b], time_signatures=score.time_signatures)
            table.setdefault(f"td_{a.name}_{b.name}", []).append(musegan.tonal_distance(pair))
    result = {}
    for name, values in table.items():
        finite = [v for v in values if not math.isnan(v)]
        result[name.replace(" ", "")] = float(np.mean(finite)) if finite else math.nan
    return result
