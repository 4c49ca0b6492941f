"""`LeadSheetModelType`: what the lead-sheet model types `simple`, `poex` and `compae` share.

The checks of their flags (`--dataset`, `--validation`, `--iterations`, `--segment_len`,
`--segment_step`, `--resume`, `--layer_size`, `--num_layers`, `--per_note`; declared in
leadsheet_flags.py); training batches of `--batch_size` random segments, each from a uniformly
drawn file of a uniformly drawn `--dataset` folder, the interval expert's start offset redrawn
every batch; validation on non-overlapping segments of every piece with fixed offsets, so val_loss
compares between epochs; the product-of-experts network, the original's Adam and the summed NLL;
generation over a chord chart, a score's changes or validation segments (leadsheet_generation.py);
the SavedModel endpoints; evaluation as NLL per 1/48-bar step.
A subclass names its experts and its input encoding.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from zoo.core.checkpoints import check_weights_file
from zoo.core.model_type import ModelType
from zoo.core.optimizers import make_optimizer
from zoo.data.dataset import EncodedSplit, TrainingData, split_paths
from zoo.errors import DataError, RunError, UsageError
from zoo.families.leadsheet import leadsheet_encoding as ls
from zoo.families.leadsheet.experts import SummedNLL, nll_per_step
from zoo.families.leadsheet.leadsheet_data import (
    folder_groups,
    long_enough,
    parse_time,
    resolve_leadsheet_data,
    segment_starts,
)
from zoo.families.leadsheet.leadsheet_flags import LeadSheetFlags
from zoo.families.leadsheet.leadsheet_generation import (
    DEFAULT_BARS,
    DEFAULT_CHART,
    PRIMER_FILE,
    chart_grid,
    generator_of,
    grid_score,
    primer_chunks,
    sample_over,
    source_chunks,
    split_chunks,
    write_generated,
)
from zoo.families.leadsheet.leadsheet_network import FEATURE_WIDTH, PER_NOTE_WINDOW, build_experts
from zoo.music.score import Score

ENCODING_EXPERT = {"abs": "abs", "cot": "cot", "rel": "interval"}  # one-expert encodings -> their expert


class LeadSheetModelType(LeadSheetFlags, ModelType):
    """Hooks shared by `simple`, `poex` and `compae`; subclasses fill in `experts` and `input_encoding`."""

    default_encoding = "poex"
    encodings = ls.LEADSHEET_ENCODINGS
    loss_functions = ("summed_nll",)

    @classmethod
    def experts(cls, config: dict[str, Any]) -> tuple[str, ...]:
        raise NotImplementedError

    @classmethod
    def input_encoding(cls, config: dict[str, Any]) -> ls.LeadSheetEncoding:
        raise NotImplementedError

    # ------------------------------------------------------------ flags
    @classmethod
    def check_args(cls, args: dict[str, Any]) -> dict[str, Any]:
        args = dict(args)
        args["segment_len_steps"] = parse_time(args["segment_len"], "--segment_len")
        args["segment_step_steps"] = parse_time(args["segment_step"], "--segment_step")
        experts = cls.experts(args)
        if args.get("per_note") and any(kind not in PER_NOTE_WINDOW for kind in experts):
            raise UsageError("--per_note applies to the interval and chord experts (simple --encoding rel, "
                             "poex without --separate_rhythm)")
        if args.get("layer_size") is None:
            args["layer_size"] = [200 if args.get("per_note") else 300]
        for flag in ("layer_size", "num_layers"):
            values = args[flag]
            if len(values) not in (1, len(experts)):
                raise UsageError(f"--{flag} takes one value or one per expert ({len(experts)}: "
                                 f"{', '.join(experts)}); got {len(values)}")
        if args.get("iterations") is not None:
            per_epoch = min(args["iterations"], args["steps_per_epoch"] or 1000)
            if args["iterations"] % per_epoch:
                raise UsageError(f"--iterations {args['iterations']} is not a multiple of --steps_per_epoch "
                                 f"{per_epoch} (one epoch = --steps_per_epoch iterations)")
            args["steps_per_epoch"], args["epochs"] = per_epoch, args["iterations"] // per_epoch
        for folder in (args.get("dataset") or []) + ([args["validation"]] if args.get("validation") else []):
            if not Path(folder).is_dir():
                raise DataError(f"no such dataset folder: {folder}")
        if args.get("resume"):
            step, path = args["resume"]
            try:
                args["resume"] = [int(step), path]
            except ValueError:
                raise UsageError(f"--resume TIMESTEP must be an integer (got '{step}')") from None

            if not Path(path).exists():
                raise RunError(f"--resume: no parameter file at {path}")
            try:  # before the run folder exists: no SavedModel, no hostile .keras, no other format
                check_weights_file(path)
            except RunError as error:
                raise RunError(f"--resume: {error}") from None
            if args.get("init_from") not in (None, path):
                raise UsageError(f"--resume {step} {path} and --init_from {args['init_from']} name different starting "
                                 "weights: give one")
            args["init_from"] = path  # the engine loads PARAMFILE; TIMESTEP goes on in initial_epoch and compile
        return args

    @classmethod
    def initial_epoch(cls, config: dict[str, Any]) -> int:
        """`--resume TIMESTEP`: iterations are numbered on from TIMESTEP (whole epochs of --steps_per_epoch)."""
        return int(config["resume"][0]) // config["steps_per_epoch"] if config.get("resume") else 0

    # ------------------------------------------------------------ data
    @classmethod
    def resolve_data(cls, args: dict[str, Any]) -> TrainingData:
        return resolve_leadsheet_data(args)

    @classmethod
    def datasets(cls, data: TrainingData, encoding, config: dict[str, Any]):
        seg_len, seg_step = config["segment_len_steps"], config["segment_step_steps"]
        train, valid = long_enough(data.train, seg_len), long_enough(data.valid, seg_len)
        for split, label in ((train, "training"), (valid, "validation")):
            if not split.pieces:
                raise DataError(f"no {label} piece is as long as --segment_len ({seg_len} steps)")
        model_encoding = cls.input_encoding(config)
        experts = cls.experts(config)
        groups = folder_groups(train, config.get("dataset"))
        rng = np.random.default_rng(config["seed"])  # outside the generator: every epoch draws new batches
        batch_size = config["batch_size"]

        def batches():
            while True:
                windows = []
                for _ in range(batch_size):
                    group = groups[rng.integers(len(groups))]
                    piece = train.pieces[group[rng.integers(len(group))]]
                    starts = segment_starts(len(piece["pitch"]), seg_len, seg_step)
                    windows.append(ls.window(piece, int(starts[rng.integers(len(starts))]), seg_len))
                inputs, target = cls.encode_batch(model_encoding, windows, rng.integers(-12, 13, batch_size), experts)
                yield cls.model_inputs(inputs, experts), target

        signature = (cls.input_signature(experts, seg_len), tf.TensorSpec((None, seg_len), tf.int32))
        train_ds = tf.data.Dataset.from_generator(batches, output_signature=signature).prefetch(2)
        valid_inputs, valid_target = cls.fixed_windows(valid, model_encoding, experts, seg_len)
        valid_ds = tf.data.Dataset.from_tensor_slices((valid_inputs, valid_target)).batch(batch_size)
        description = (f"random {seg_len}-step segments every {seg_step} steps of {len(train.pieces)} pieces in "
                       f"{len(groups)} folder(s); {len(valid_target)} validation segments")
        return train_ds, valid_ds, description

    @classmethod
    def input_signature(cls, experts: tuple[str, ...], seg_len: int | None) -> dict[str, tf.TensorSpec]:
        """The model's input dict: features [B, T, F] per expert, positions [B, T] of the interval and chord experts."""
        return {**{f"{k}_features": tf.TensorSpec((None, seg_len, FEATURE_WIDTH[k]), tf.float32) for k in experts},
                **{f"{k}_pos": tf.TensorSpec((None, seg_len), tf.int32) for k in experts if k in ("interval", "chord")}}

    @classmethod
    def encode_batch(cls, model_encoding, windows, offsets, experts):
        """(inputs, target) of some windows; a type whose model needs more inputs asks the encoding for them here."""
        return model_encoding.batch(windows, offsets, experts)

    @classmethod
    def model_inputs(cls, inputs: dict[str, np.ndarray], experts: tuple[str, ...]) -> dict[str, np.ndarray]:
        """The entries of an encoded batch the model takes (`input_signature`'s keys)."""
        keep = set(cls.input_signature(experts, None))
        return {k: v for k, v in inputs.items() if k in keep}

    @classmethod
    def fixed_windows(cls, split: EncodedSplit, model_encoding, experts, seg_len: int):
        """Non-overlapping segments of every piece, with fixed interval offsets: a stable evaluation set."""
        windows = [ls.window(piece, int(start), seg_len) for piece in split.pieces
                   for start in segment_starts(len(piece["pitch"]), seg_len, seg_len)]
        offsets = np.random.default_rng(0).integers(-12, 13, len(windows))
        inputs, target = cls.encode_batch(model_encoding, windows, offsets, experts)
        return cls.model_inputs(inputs, experts), target

    # ------------------------------------------------------------ model
    @classmethod
    def build(cls, config: dict[str, Any], encoding) -> keras.Model:
        experts = cls.experts(config)
        sizes = list(config["layer_size"]) * (len(experts) if len(config["layer_size"]) == 1 else 1)
        depths = list(config["num_layers"]) * (len(experts) if len(config["num_layers"]) == 1 else 1)
        model = build_experts(experts, sizes, depths, bool(config.get("separate_rhythm")), name=cls.name,
                              per_note=int(config.get("per_note") or 0))
        return model

    @staticmethod
    def make_optimizer(config: dict[str, Any]) -> keras.optimizers.Optimizer:
        """-o: for adam the original's (epsilon 1e-8; Keras's default is 1e-7), lr 2e-4 unless --learning_rate."""
        if config.get("optimizer", "adam") == "adam":
            return make_optimizer("adam", config.get("learning_rate") or 2e-4, epsilon=1e-8)
        return make_optimizer(config["optimizer"], config.get("learning_rate"))

    @staticmethod
    def resume_step(model: keras.Model, config: dict[str, Any]) -> None:
        """--resume TIMESTEP: Adam's step counter goes on from TIMESTEP."""
        if config.get("resume"):
            model.optimizer.build(model.trainable_variables)
            model.optimizer.iterations.assign(int(config["resume"][0]))

    @classmethod
    def compile(cls, model: keras.Model, config: dict[str, Any]) -> None:
        model.compile(optimizer=cls.make_optimizer(config), loss=SummedNLL(),
                      metrics=[keras.metrics.MeanMetricWrapper(nll_per_step, name="nll_per_step")],
                      jit_compile=config.get("jit_compile", "auto"))
        cls.resume_step(model, config)

    # ------------------------------------------------------------ generation
    @classmethod
    def sample_scores(cls, model, config, encoding, num_outputs, seed, length=None) -> list[Score]:
        """Melodies over the ii-V-I chart Dm7 | G7 | CM7 | CM7; `length` in steps (48 a bar), rounded up to bars."""
        bars = max(1, min(16, math.ceil((length or 4 * ls.STEPS_PER_BAR) / ls.STEPS_PER_BAR)))
        grid = chart_grid(DEFAULT_CHART, bars)
        roots = np.repeat(grid["root"][None], num_outputs, 0)
        chords = np.repeat(grid["chord"][None], num_outputs, 0)
        chosen, _, _ = sample_over(model, cls.experts(config), roots, chords, seed)
        return [grid_score(c, r, h) for c, r, h in zip(chosen, roots, chords)]

    @classmethod
    def metric_pieces(cls, model, config, encoding, split, num_outputs, seed, length=None):
        """Melodies played over the chords of `num_outputs` test windows of `length` steps (default 4 bars, the
        length of most licks; taken round-robin over the pieces, each from its start on), against the melodies the
        test pieces hold over the same chords: a chord-conditioned model is compared on the test's own changes."""
        windows = test_windows(split.pieces, length or 4 * ls.STEPS_PER_BAR, num_outputs)
        if not windows:
            return None
        grid = {key: np.stack([window[key] for window in windows]) for key in ("pitch", "onset", "root", "chord")}
        chosen = cls.play(model, config, grid, seed)
        generated = [ls.grid_to_score(c, r, h, low=ls.LOW) for c, r, h in zip(chosen, grid["root"], grid["chord"])]
        return generated, [encoding.decode(window) for window in windows]

    @classmethod
    def play(cls, model, config, grid: dict[str, np.ndarray], seed: int) -> np.ndarray:
        """Output indices [B, T] sampled over `grid`'s chords ("root", "chord"; an autoencoder also reads its
        melody)."""
        return sample_over(model, cls.experts(config), grid["root"], grid["chord"], seed)[0]

    @classmethod
    def _chunks(cls, args, config, run):
        """(grid, real lengths, source lines) for the chosen source: grid = {"root" [B, T], "chord" [B, T, 12]}
        plus, where the source has a melody, {"pitch" [B, T], "onset" [B, T]} (the stored-piece layout).

        Without --generate/--generate_over: the run folder's `primer.ls` when it has one (a preset's chart), else
        `default_grid`; neither reads the run's data, which a preset does not ship."""
        if args.get("generate_over"):
            return source_chunks(*args["generate_over"])
        if args.get("generate"):
            cls._check_generate_data(config)
            data = cls.resolve_data({**config, "validation_split": config.get("validation_split")})
            return split_chunks(data.valid, config["segment_len_steps"], config["segment_step_steps"],
                                args["num_outputs"], args["seed"])
        n, primer = args["num_outputs"], run.path / PRIMER_FILE
        if primer.is_file():
            return primer_chunks(primer, args.get("bars"), n)
        grid = cls.default_grid(args.get("bars") or DEFAULT_BARS)
        lines = [f"{' | '.join(DEFAULT_CHART)} |: starting at 0 = bar 0"] * n
        return {k: np.repeat(v[None], n, 0) for k, v in grid.items()}, [len(grid["root"])] * n, lines

    @staticmethod
    def _check_generate_data(config) -> None:
        """--generate draws segments of the data the run's flags name: DataError naming the first that is not here
        (a preset's config.json names the folders and pickles of the machine that trained it)."""
        named = [*(config.get("dataset") or []), *([config["validation"]] if config.get("validation") else [])]
        if config.get("data_path"):
            named.append(split_paths(config["data_path"])["train"])
        missing = next((str(path) for path in named if not Path(path).exists()), None)
        if missing:
            raise DataError(f"--generate draws segments of the run's data, which is not here ({missing}); use "
                            "--generate_over FILE DIV_WIDTH, or no flag for the run's default chords")

    @classmethod
    def default_grid(cls, bars: int) -> dict[str, np.ndarray]:
        """What generation runs over without --generate/--generate_over: the ii-V-I chart of `bars` bars."""
        return chart_grid(DEFAULT_CHART, bars)

    @classmethod
    def _sample(cls, model, config, grid: dict[str, np.ndarray], seed: int):
        """(chosen [B, T], probs [B, T, V], {file part: diagnostic array [B, T, ...]}) sampled over `grid`'s chords."""
        chosen, probs, expert_probs = sample_over(model, cls.experts(config), grid["root"], grid["chord"], seed)
        info = {}
        if len(cls.experts(config)) > 1:
            info = {f"info-{i}": expert_probs[i] for i in range(expert_probs.shape[0])}
        return chosen, probs, info

    @classmethod
    def generate(cls, args, run, config, encoding, model) -> list[Path]:
        """Writes per chunk STEM.ls/.mid/.wav/.png, STEM-source.txt, STEM-chosen.npy, STEM-probs.npy and the
        `_sample` diagnostics (poex: STEM-info-{i}.npy per expert) to --output_dir, STEM = `output_stem(run,
        "sample", seed, index)`."""
        if args.get("generate") and args.get("generate_over"):
            raise UsageError("--generate and --generate_over exclude each other")
        grid, lengths, lines = cls._chunks(args, config, run)
        chosen, probs, info = cls._sample(model, config, grid, args["seed"])
        return write_generated(Path(args["output_dir"]), run.name, args["seed"], grid, lengths, lines, chosen, probs,
                               info)

    @classmethod
    def export_endpoints(cls, model: keras.Model, config: dict[str, Any]) -> dict[str, Any]:
        """`serve`: features dict -> probs [B, T, V]; `generate`: (roots, chords, start_pos, seed) -> (chosen,
        probs, expert probs), the compiled sampling loop of `LeadSheetGenerator`."""
        experts = cls.experts(config)
        spec = {f"{k}_features": tf.TensorSpec([None, None, FEATURE_WIDTH[k]], tf.float32, name=f"{k}_features")
                for k in experts}
        spec.update({f"{k}_pos": tf.TensorSpec([None, None], tf.int32, name=f"{k}_pos")
                     for k in experts if k in ("interval", "chord")})
        serve = tf.function(lambda inputs: model(inputs, training=False), input_signature=[spec])
        generator = generator_of(model, experts)
        # A closure, so the endpoint holds the generator (a bound tf.function keeps only a weak reference).
        generate = tf.function(lambda *args: generator.generate(*args),
                               input_signature=generator.generate.input_signature)
        return {"serve": serve, "generate": generate}

    # ------------------------------------------------------------ evaluation
    @classmethod
    def evaluate(cls, model, config, encoding, split: EncodedSplit, args, run) -> dict[str, float]:
        """Mean NLL per step (nats) over non-overlapping segments of the split, and its exp(-x) 'accuracy'."""
        seg_len = config["segment_len_steps"]
        split = long_enough(split, seg_len)
        if not split.pieces:
            raise DataError(f"no test piece is as long as one segment ({seg_len} steps)")
        inputs, target = cls.fixed_windows(split, cls.input_encoding(config), cls.experts(config), seg_len)
        total, count = 0.0, 0
        for start in range(0, len(target), 64):
            probs = model({k: v[start:start + 64] for k, v in inputs.items()}, training=False)
            total += ls.nll(np.asarray(probs, np.float64), target[start:start + 64])
            count += target[start:start + 64].size
        return {"segments": len(target), "steps": count, "nll_per_step": total / count,
                "accuracy_per_step": math.exp(-total / count)}


def test_windows(pieces: list[dict[str, np.ndarray]], steps: int, count: int) -> list[dict[str, np.ndarray]]:
    """Up to `count` windows of `steps` steps of the stored pieces: the first window of every piece long enough,
    then the second of each, and so on (so short licks and long solos both count)."""
    windows, offset = [], 0
    while len(windows) < count:
        row = [{key: value[offset:offset + steps] for key, value in piece.items()}
               for piece in pieces if len(piece["root"]) >= offset + steps]
        if not row:
            break
        windows.extend(row[:count - len(windows)])
        offset += steps
    return windows
