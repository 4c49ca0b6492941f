"""lstmprovisor (D. D. Johnson, 2016): LSTM jazz melodies over chord changes, for Impro-Visor.

Model types (specs/lstmprovisor.md §4):
    simple  one LSTM stack with the abs, cot or rel (interval) encoding (--encoding)
    poex    product of an interval expert and a chord expert (+ a rhythm expert with
            --separate_rhythm): the generative model Impro-Visor plays; exports a .ctome connectome
Each expert: features [B, T, F] -> LSTM x num_layers (trainable initial state, dropout 0.5 with one
mask per sequence after each) -> Dense(raw) -> its decoder to [rest, sustain, MIDI 48..84]; the
experts' distributions are multiplied and normalised; the loss is the summed NLL (zoo/families/leadsheet/experts.py).

Training is `Model.fit` on batches of `--batch_size` random segments (`--segment_len`, starting on a
multiple of `--segment_step`, the last start included), each from a uniformly drawn file of a
uniformly drawn `--dataset` folder; the interval expert's start offset is redrawn every batch.
`--iterations N` is N Adam steps = `-e` epochs x `--steps_per_epoch` (default 50 x 1000 = 50,000,
the seed's default); N must be a multiple of the steps per epoch (min(N, --steps_per_epoch)).
Validation: non-overlapping segments of every validation piece, fixed offsets, so val_loss is
comparable between epochs; `nll_per_step` is the mean NLL per 1/48-bar step.
"""
from __future__ import annotations

import argparse
import hashlib
import math
import sys
import zipfile
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from zoo.atomic import atomic_path
from zoo.data.dataset import EncodedSplit, TrainingData, load_split, split_off_validation, split_paths
from zoo.encodings import get_encoding_class
from zoo.families.leadsheet import leadsheet_encoding as ls
from zoo.errors import DataError, EncodingError, RunError, ScoreReadError, UsageError
from zoo.families.leadsheet.experts import SummedNLL, nll_per_step
from zoo.families.leadsheet.leadsheet_network import FEATURE_WIDTH, PER_NOTE_WINDOW, LeadSheetGenerator, build_experts
from zoo.core.model_type import ModelType
from zoo.core.registry import register_model_type
from zoo.music.score import Score

ENCODING_EXPERT = {"abs": "abs", "cot": "cot", "rel": "interval"}
CACHE_ROOT = Path("data") / "leadsheet_cache"
DEFAULT_DATA = "music21:leadSheet"  # music21's own lead sheets: works offline
DEFAULT_CHART = ("Dm7", "G7", "CM7", "CM7")  # sample_scores' chords, one per bar
CONNECTOME_CONFIG = {False: "generative_product_interval_chords", True: "generative_product_interval_chords_rhythm"}
GATES = ("input", "forget", "activate", "out")  # theano_lstm's gate order = Keras's i, f, c, o


def parse_time(text: str, flag: str) -> int:
    """'4bar' -> 192 steps, '1bar' -> 48, '96' -> 96; UsageError otherwise."""
    text = str(text).strip().lower()
    try:
        steps = int(text[:-3]) * ls.STEPS_PER_BAR if text.endswith("bar") else int(text)
    except ValueError:
        raise UsageError(f"{flag} must be 'Nbar' or a number of steps (got '{text}')") from None
    if steps < 1:
        raise UsageError(f"{flag} must be at least one step (got '{text}')")
    return steps


# ---------------------------------------------------------------- data
def _folder_key(folder: Path, encoding_name: str) -> str:
    """Cache key of a folder's lead sheets: path, names, sizes and modification times."""
    digest = hashlib.sha256(f"{folder.resolve()}|{encoding_name}".encode())
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.relative_to(folder)}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def prepare_folder(folder: str, encoding_name: str = "poex") -> EncodedSplit:
    """Encodes every score under `folder` once (cached in data/leadsheet_cache/); skipped files are printed."""
    from zoo.data.prepare import prepare

    if folder.startswith("music21:"):
        key = hashlib.sha256(f"{folder}|{encoding_name}".encode()).hexdigest()[:16]
    else:
        path = Path(folder)
        if not path.is_dir():
            raise DataError(f"--dataset/--validation: no such folder: {folder}")
        key = _folder_key(path, encoding_name)
    cache = CACHE_ROOT / key
    if not (cache / "manifest.json").is_file():
        manifest = prepare([folder], encoding_name, cache, valid_fraction=0.0, test_fraction=0.0, progress=False)
        for item in manifest["skipped"]:
            print(f"skipped {item['file']}: {item['reason']}", file=sys.stderr)
    return load_split(cache / "train.pkl")


def _leadsheet_split(path: Path) -> EncodedSplit:
    split = load_split(path)
    if split.encoding.get("name") not in ls.LEADSHEET_ENCODINGS:
        raise UsageError(f"{path} holds the '{split.encoding.get('name')}' encoding; the lead-sheet models take "
                         f"data prepared with --encoding {'|'.join(ls.LEADSHEET_ENCODINGS)}")
    return split


def long_enough(split: EncodedSplit, segment_len: int) -> EncodedSplit:
    """Drops pieces shorter than one segment."""
    keep = [i for i, piece in enumerate(split.pieces) if len(piece["pitch"]) >= segment_len]
    return EncodedSplit([split.pieces[i] for i in keep], [split.sources[i] for i in keep] if split.sources else [],
                        split.encoding, split.path)


def segment_starts(length: int, segment_len: int, segment_step: int) -> np.ndarray:
    """Every allowed window start: multiples of `segment_step` in [0, length - segment_len] (inclusive)."""
    return np.arange(0, length - segment_len + 1, segment_step)


# ---------------------------------------------------------------- the model types
class LeadSheetModelType(ModelType):
    """Hooks shared by `simple` and `poex`."""

    default_encoding = "poex"
    encodings = ls.LEADSHEET_ENCODINGS
    loss_functions = ("summed_nll",)
    flag_defaults = {"batch_size": 10, "learning_rate": 2e-4, "epochs": 50, "steps_per_epoch": 1000,
                     "loss_function": "summed_nll"}

    @classmethod
    def experts(cls, config: dict[str, Any]) -> tuple[str, ...]:
        raise NotImplementedError

    @classmethod
    def input_encoding(cls, config: dict[str, Any]) -> ls.LeadSheetEncoding:
        raise NotImplementedError

    # ------------------------------------------------------------ flags
    @classmethod
    def add_common_arguments(cls, parser: argparse._ArgumentGroup) -> None:
        parser.add_argument("--dataset", nargs="+", default=None, metavar="DIR",
                            help="folder(s) of .ls files (or any scores with chord symbols); with several, each "
                                 "batch item draws a folder uniformly (default: -p, else music21's lead sheets)")
        parser.add_argument("--validation", dest="validation", default=None, metavar="DIR",
                            help="folder of validation lead sheets (default: --validation_split of the pieces)")
        parser.add_argument("--iterations", type=int, default=None,
                            help="Adam steps in all (= -e x --steps_per_epoch; default 50 x 1000)")
        parser.add_argument("--segment_len", default="4bar", help="training segment: Nbar or steps (48 a bar)")
        parser.add_argument("--segment_step", default="1bar", help="segments start on multiples of this")
        parser.add_argument("--resume", dest="resume", nargs=2, default=None, metavar=("TIMESTEP", "PARAMFILE"),
                            help="start from the weights in PARAMFILE (.keras or .weights.h5 of a run of the "
                                 "same shape); Adam's step counter starts at TIMESTEP")
        parser.add_argument("--layer_size", type=int, nargs="+", default=None,
                            help="LSTM units: one value, or one per expert (default 300; 200 independent "
                                 "units with --per_note)")
        parser.add_argument("--num_layers", type=int, nargs="+", default=[2],
                            help="LSTM layers: one value, or one per expert")
        parser.add_argument("--per_note", type=int, nargs="?", const=10, default=0, metavar="CELLS",
                            help="note memory cells: CELLS (default 10) per note of the expert's window, moving "
                                 "with the melody (interval) or the chord root (chord); rel and poex only")

    @classmethod
    def check_args(cls, args: dict[str, Any]) -> dict[str, Any]:
        args = dict(args)
        args["segment_len_steps"] = parse_time(args["segment_len"], "--segment_len")
        args["segment_step_steps"] = parse_time(args["segment_step"], "--segment_step")
        if args["loss_function"] != "summed_nll":
            raise UsageError(f"loss '{args['loss_function']}' does not apply to model type '{cls.name}' "
                             "(it trains on the summed NLL of its product distribution: -l summed_nll)")
        experts = cls.experts(args)
        if args.get("per_note"):
            if args["per_note"] < 0 or any(kind not in PER_NOTE_WINDOW for kind in experts):
                raise UsageError("--per_note applies to the interval and chord experts (simple --encoding rel, "
                                 "poex without --separate_rhythm), with a positive number of cells")
        if args.get("layer_size") is None:
            args["layer_size"] = [200 if args.get("per_note") else 300]
        for flag in ("layer_size", "num_layers"):
            values = args[flag]
            if len(values) not in (1, len(experts)):
                raise UsageError(f"--{flag} takes one value or one per expert ({len(experts)}: "
                                 f"{', '.join(experts)}); got {len(values)}")
            if min(values) < 1:
                raise UsageError(f"--{flag} values must be at least 1 (got {values})")
        if args.get("iterations") is not None:
            if args["iterations"] < 1:
                raise UsageError(f"--iterations must be at least 1 (got {args['iterations']})")
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
            from zoo.core.checkpoints import check_weights_file

            if not Path(path).exists():
                raise RunError(f"--resume: no parameter file at {path}")
            try:  # before the run folder exists: no SavedModel, no hostile .keras, no other format
                check_weights_file(path)
            except RunError as error:
                raise RunError(f"--resume: {error}") from None
        return args

    @classmethod
    def initial_epoch(cls, config: dict[str, Any]) -> int:
        """`--resume TIMESTEP`: iterations are numbered on from TIMESTEP (whole epochs of --steps_per_epoch)."""
        return int(config["resume"][0]) // config["steps_per_epoch"] if config.get("resume") else 0

    # ------------------------------------------------------------ data
    @classmethod
    def resolve_data(cls, args: dict[str, Any]) -> TrainingData:
        name = "poex"  # every lead-sheet encoding stores the same grid: one cache serves all model types
        if args.get("dataset"):
            splits = [prepare_folder(folder, name) for folder in args["dataset"]]
            train = EncodedSplit([p for s in splits for p in s.pieces], [x for s in splits for x in s.sources],
                                 splits[0].encoding, ";".join(s.path for s in splits))
            paths = {"train": train.path}
        elif args.get("data_path"):
            paths = split_paths(args["data_path"])
            if not paths["train"].is_file():
                raise DataError(f"no training data at {args['data_path']}")
            train = _leadsheet_split(paths["train"])
            paths = {k: str(v) for k, v in paths.items()}
        else:
            train = prepare_folder(DEFAULT_DATA, name)
            paths = {"train": train.path}
        if not train.pieces:
            raise DataError("no usable lead sheets in the training data (see the skipped files above)")
        if args.get("validation"):
            valid = prepare_folder(args["validation"], name)
            paths["valid"] = valid.path
        elif "valid" in paths and args.get("validation_split") is None:
            valid = _leadsheet_split(Path(paths["valid"]))
        else:
            fraction = 0.1 if args.get("validation_split") is None else args["validation_split"]
            train, valid = split_off_validation(train, fraction, args["seed"])
        return TrainingData(train, valid, paths, train.encoding)

    @classmethod
    def datasets(cls, data: TrainingData, encoding, config: dict[str, Any]):
        seg_len, seg_step = config["segment_len_steps"], config["segment_step_steps"]
        train, valid = long_enough(data.train, seg_len), long_enough(data.valid, seg_len)
        for split, label in ((train, "training"), (valid, "validation")):
            if not split.pieces:
                raise DataError(f"no {label} piece is as long as --segment_len ({seg_len} steps)")
        model_encoding = cls.input_encoding(config)
        experts = cls.experts(config)
        groups = cls._groups(train, config.get("dataset"))
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
                inputs, target = cls._encode_batch(model_encoding, windows, rng.integers(-12, 13, batch_size), experts)
                yield cls._model_inputs(inputs, experts), target

        signature = (cls._input_signature(experts, seg_len), tf.TensorSpec((None, seg_len), tf.int32))
        train_ds = tf.data.Dataset.from_generator(batches, output_signature=signature).prefetch(2)
        valid_inputs, valid_target = cls.fixed_windows(valid, model_encoding, experts, seg_len)
        valid_ds = tf.data.Dataset.from_tensor_slices((valid_inputs, valid_target)).batch(batch_size)
        description = (f"random {seg_len}-step segments every {seg_step} steps of {len(train.pieces)} pieces in "
                       f"{len(groups)} folder(s); {len(valid_target)} validation segments")
        return train_ds, valid_ds, description

    @staticmethod
    def _groups(split: EncodedSplit, folders: list[str] | None) -> list[list[int]]:
        """Piece indices per --dataset folder (one group without --dataset)."""
        if not folders or len(folders) < 2:
            return [list(range(len(split.pieces)))]
        roots = [str(Path(f).resolve()) for f in folders]
        groups: list[list[int]] = [[] for _ in roots]
        for i, source in enumerate(split.sources):
            resolved = str(Path(source).resolve())
            owner = max(range(len(roots)), key=lambda g: len(roots[g]) if resolved.startswith(roots[g]) else -1)
            groups[owner].append(i)
        return [g for g in groups if g]

    @classmethod
    def _input_signature(cls, experts: tuple[str, ...], seg_len: int | None) -> dict[str, tf.TensorSpec]:
        """The model's input dict: features [B, T, F] per expert, positions [B, T] of the interval and chord experts."""
        return {**{f"{k}_features": tf.TensorSpec((None, seg_len, FEATURE_WIDTH[k]), tf.float32) for k in experts},
                **{f"{k}_pos": tf.TensorSpec((None, seg_len), tf.int32) for k in experts if k in ("interval", "chord")}}

    @classmethod
    def _encode_batch(cls, model_encoding, windows, offsets, experts):
        """(inputs, target) of some windows; a type whose model needs more inputs asks the encoding for them here."""
        return model_encoding.batch(windows, offsets, experts)

    @classmethod
    def _model_inputs(cls, inputs: dict[str, np.ndarray], experts: tuple[str, ...]) -> dict[str, np.ndarray]:
        keep = set(cls._input_signature(experts, None))
        return {k: v for k, v in inputs.items() if k in keep}

    @classmethod
    def fixed_windows(cls, split: EncodedSplit, model_encoding, experts, seg_len: int):
        """Non-overlapping segments of every piece, with fixed interval offsets: a stable evaluation set."""
        windows = [ls.window(piece, int(start), seg_len) for piece in split.pieces
                   for start in segment_starts(len(piece["pitch"]), seg_len, seg_len)]
        offsets = np.random.default_rng(0).integers(-12, 13, len(windows))
        inputs, target = cls._encode_batch(model_encoding, windows, offsets, experts)
        return cls._model_inputs(inputs, experts), target

    # ------------------------------------------------------------ model
    @classmethod
    def build(cls, config: dict[str, Any], encoding) -> keras.Model:
        experts = cls.experts(config)
        sizes = list(config["layer_size"]) * (len(experts) if len(config["layer_size"]) == 1 else 1)
        depths = list(config["num_layers"]) * (len(experts) if len(config["num_layers"]) == 1 else 1)
        model = build_experts(experts, sizes, depths, bool(config.get("separate_rhythm")), name=cls.name,
                              per_note=int(config.get("per_note") or 0))
        if config.get("resume"):
            cls._load_resume_weights(model, Path(config["resume"][1]))
        return model

    @staticmethod
    def _load_resume_weights(model: keras.Model, path: Path) -> None:
        from zoo.core.checkpoints import load_weights_into

        try:  # arrays only: nothing the file names is rebuilt
            load_weights_into(model, path)
        except RunError as error:
            raise RunError(f"--resume: {error}") from None

    @staticmethod
    def make_optimizer(config: dict[str, Any]) -> keras.optimizers.Optimizer:
        """-o: for adam the original's (epsilon 1e-8; Keras's default is 1e-7), lr 2e-4 unless --learning_rate."""
        if config.get("optimizer", "adam") == "adam":
            return keras.optimizers.Adam(learning_rate=config.get("learning_rate") or 2e-4, epsilon=1e-8)
        from zoo.core.optimizers import make_optimizer

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
    def add_generate_arguments(cls, parser: argparse._ArgumentGroup) -> None:
        parser.add_argument("--generate", action="store_true",
                            help="sample over the chords of random segments of the run's validation data "
                                 "(default: over a ii-V-I chart)")
        parser.add_argument("--generate_over", nargs=2, default=None, metavar=("SOURCE", "DIV_WIDTH"),
                            help="sample over the chord changes of SOURCE (.ls or any score with chords) in "
                                 "independent chunks of DIV_WIDTH (Nbar, steps, or 'full')")
        parser.add_argument("--bars", type=int, default=4, help="length of the default ii-V-I chart in bars")

    @classmethod
    def _run(cls, model, config, roots, chords, seed, start_pos=None):
        experts = cls.experts(config)
        generator = LeadSheetGenerator(model, experts, ls.LOW)
        start = np.full(len(roots), ls.DEFAULT_START_POSITION, np.int32) if start_pos is None else start_pos
        chosen, probs, expert_probs = generator.generate(
            tf.constant(roots, tf.int32), tf.constant(chords, tf.float32), tf.constant(start, tf.int32),
            tf.constant([seed, 0], tf.int32))
        return chosen.numpy(), probs.numpy(), expert_probs.numpy()

    @staticmethod
    def chart_grid(chart: tuple[str, ...], bars: int) -> dict[str, np.ndarray]:
        from zoo.music.chords import chord_root_and_type, parse_chord

        roots, chords = [], []
        for bar in range(bars):
            root, vector = chord_root_and_type(*parse_chord(chart[bar % len(chart)]))
            roots += [root] * ls.STEPS_PER_BAR
            chords += [vector] * ls.STEPS_PER_BAR
        return {"root": np.array(roots, np.int32), "chord": np.array(chords, np.float32)}

    @classmethod
    def _score(cls, config, chosen, roots, chords, title="") -> Score:
        from zoo.music.leadsheet import chord_track

        low = ls.LOW
        score = ls.grid_to_score(chosen, roots, chords, low=low, title=title)
        score.tracks.append(chord_track(score))
        return score

    @classmethod
    def sample_scores(cls, model, config, encoding, num_outputs, seed, length=None) -> list[Score]:
        """Melodies over the ii-V-I chart Dm7 | G7 | CM7 | CM7; `length` in steps (48 a bar), rounded up to bars."""
        bars = max(1, min(16, math.ceil((length or 4 * ls.STEPS_PER_BAR) / ls.STEPS_PER_BAR)))
        grid = cls.chart_grid(DEFAULT_CHART, bars)
        roots = np.repeat(grid["root"][None], num_outputs, 0)
        chords = np.repeat(grid["chord"][None], num_outputs, 0)
        chosen, _, _ = cls._run(model, config, roots, chords, seed)
        return [cls._score(config, c, r, h) for c, r, h in zip(chosen, roots, chords)]

    @classmethod
    def _chunks(cls, args, config):
        """(grid, real lengths, source lines) for the chosen source: grid = {"root" [B, T], "chord" [B, T, 12]}
        plus, where the source has a melody, {"pitch" [B, T], "onset" [B, T]} (the stored-piece layout)."""
        if args.get("generate_over"):
            source, width = args["generate_over"]
            from zoo.music.io import load_score

            try:
                score = load_score(source)
            except ScoreReadError as error:
                raise ScoreReadError(f"--generate_over: {error}") from None
            try:
                grid = ls.score_to_grid(score)
            except EncodingError as error:  # no chords, not 4/4
                raise UsageError(f"--generate_over {source}: {error}") from None
            total = len(grid["root"])
            step = total if width == "full" else parse_time(width, "--generate_over DIV_WIDTH")
            if step > total:
                raise UsageError(f"--generate_over DIV_WIDTH {width} ({step} steps) is longer than {source} "
                                 f"({total} steps = {total // ls.STEPS_PER_BAR} bars)")
            starts = list(range(0, total, step))
            chunks, lengths = [], []
            for s in starts:
                idx = np.minimum(np.arange(s, s + step), total - 1)  # the last chunk's extra steps are cut off
                chunks.append(ls.window({k: v[idx] for k, v in grid.items()}, 0, step))
                lengths.append(min(step, total - s))
            lines = [f"{source}: starting at {s} = bar {s / ls.STEPS_PER_BAR:g}" for s in starts]
            return _stack_grids(chunks), lengths, lines
        if args.get("generate"):
            data = cls.resolve_data({**config, "validation_split": config.get("validation_split")})
            seg_len = config["segment_len_steps"]
            split = long_enough(data.valid, seg_len)
            if not split.pieces:
                raise DataError(f"the run's validation data has no piece of {seg_len} steps")
            rng = np.random.default_rng(args["seed"])
            chunks, lines = [], []
            for _ in range(args["num_outputs"]):
                i = int(rng.integers(len(split.pieces)))
                starts = segment_starts(len(split.pieces[i]["pitch"]), seg_len, config["segment_step_steps"])
                s = int(starts[rng.integers(len(starts))])
                chunks.append(ls.window(split.pieces[i], s, seg_len))
                source = split.sources[i] if split.sources else f"piece {i}"
                lines.append(f"{source}: starting at {s} = bar {s / ls.STEPS_PER_BAR:g}")
            return _stack_grids(chunks), [seg_len] * len(chunks), lines
        if args["bars"] < 1:
            raise UsageError(f"--bars must be at least 1 (got {args['bars']})")
        grid = cls.default_grid(args["bars"])
        n = args["num_outputs"]
        lines = [f"{' | '.join(DEFAULT_CHART)} |: starting at 0 = bar 0"] * n
        return {k: np.repeat(v[None], n, 0) for k, v in grid.items()}, [len(grid["root"])] * n, lines

    @classmethod
    def default_grid(cls, bars: int) -> dict[str, np.ndarray]:
        """What generation runs over without --generate/--generate_over: the ii-V-I chart of `bars` bars."""
        return cls.chart_grid(DEFAULT_CHART, bars)

    @classmethod
    def _sample(cls, model, config, grid: dict[str, np.ndarray], seed: int):
        """(chosen [B, T], probs [B, T, V], {file name: diagnostic array}) sampled over `grid`'s chords."""
        chosen, probs, expert_probs = cls._run(model, config, grid["root"], grid["chord"], seed)
        info = {}
        if len(cls.experts(config)) > 1:
            info = {f"generated_info_{i}.npy": expert_probs[i] for i in range(expert_probs.shape[0])}
        return chosen, probs, info

    @classmethod
    def generate(cls, args, run, config, encoding, model) -> list[Path]:
        """Writes generated_{k}.ls/.mid/.wav/.png, generated_sources.txt, generated_chosen.npy,
        generated_probs.npy and (poex) generated_info_{i}.npy per expert to --output_dir."""
        from zoo.music.io import write_piece
        from zoo.music.leadsheet import write_leadsheet

        if args.get("generate") and args.get("generate_over"):
            raise UsageError("--generate and --generate_over exclude each other")
        grid, lengths, lines = cls._chunks(args, config)
        chosen, probs, info = cls._sample(model, config, grid, args["seed"])
        roots, chords = grid["root"], grid["chord"].astype(np.float32)
        out = Path(args["output_dir"])
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for k, length in enumerate(lengths):
            score = cls._score(config, chosen[k, :length], roots[k, :length], chords[k, :length],
                               title=f"{run.name} {k}")
            write_leadsheet(score, out / f"generated_{k}.ls")
            paths, _ = write_piece(score, out / f"generated_{k}")
            written += [out / f"generated_{k}.ls", *paths.values()]
        arrays = {"generated_chosen.npy": chosen, "generated_probs.npy": probs, **info}
        for name, array in arrays.items():
            with atomic_path(out / name) as tmp:
                np.save(tmp, array)
            written.append(out / name)
        with atomic_path(out / "generated_sources.txt") as tmp:
            tmp.write_text("\n".join(lines) + "\n")
        written.append(out / "generated_sources.txt")
        print(f"wrote {len(lengths)} lead sheet(s) with MIDI/WAV/PNG and the .npy diagnostics to {out}",
              file=sys.stderr)
        return written

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
        generator = LeadSheetGenerator(model, experts)
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


@register_model_type
class SimpleModel(LeadSheetModelType):
    """`simple`: one LSTM stack with the abs, cot or rel encoding (not used by Impro-Visor)."""

    name = "simple"

    @classmethod
    def add_arguments(cls, parser: argparse._ArgumentGroup) -> None:
        parser.add_argument("--encoding", choices=("abs", "cot", "rel"), default="abs",
                            help="abs: absolute pitch; cot: circles of thirds; rel: interval from the last note")
        cls.add_common_arguments(parser)

    @classmethod
    def experts(cls, config):
        return (ENCODING_EXPERT[config.get("encoding") or "abs"],)

    @classmethod
    def input_encoding(cls, config):
        return get_encoding_class(config.get("encoding") or "abs")()


@register_model_type
class ProductOfExpertsModel(LeadSheetModelType):
    """`poex`: interval expert x chord expert [x rhythm expert]: Impro-Visor's generative model."""

    name = "poex"
    export_formats = ("connectome",)

    @classmethod
    def add_arguments(cls, parser: argparse._ArgumentGroup) -> None:
        parser.add_argument("--separate_rhythm", action="store_true",
                            help="a third expert decides rest / sustain / play; the others only the pitch")
        cls.add_common_arguments(parser)

    @classmethod
    def experts(cls, config):
        return ("interval", "chord") + (("rhythm",) if config.get("separate_rhythm") else ())

    @classmethod
    def input_encoding(cls, config):
        return get_encoding_class("poex")()

    @classmethod
    def write_export(cls, export_format, model, config, encoding, output: Path) -> Path:
        """`.ctome`: a zip of param_<key>.csv (spec §7 layout) plus config.txt, for Impro-Visor's LSTM player."""
        if export_format != "connectome":
            return super().write_export(export_format, model, config, encoding, output)
        if config.get("per_note"):
            raise UsageError("a --per_note poex run cannot be exported as a connectome: Impro-Visor has no note "
                             "memory cells")
        return write_connectome(Path(output), connectome_tensors(model, cls.experts(config)),
                                CONNECTOME_CONFIG[bool(config.get("separate_rhythm"))])


def write_connectome(output: Path, tensors: list[tuple[str, np.ndarray]], config_text: str) -> Path:
    """Writes a `.ctome` zip (one param_<key>.csv per tensor, %.18e, plus config.txt) atomically; returns its path."""
    path = output if output.suffix == ".ctome" else output.with_suffix(".ctome")
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
            for key, array in tensors:
                archive.writestr(f"param_{key}.csv", _csv(array))
            archive.writestr("config.txt", config_text)
    return path


def _stack_grids(chunks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    grid = {k: np.stack([c[k] for c in chunks]) for k in chunks[0]}
    grid["chord"] = grid["chord"].astype(np.float32)
    return grid


def connectome_tensors(model: keras.Model, experts: tuple[str, ...], layer_prefix: str = "",
                       key_prefix: str = "") -> list[tuple[str, np.ndarray]]:
    """(key, array) in the original's parameter order: per expert, per LSTM layer the four gates' W (H, in+H)
    and b; then the output layer's W (out, H) and b; then every layer's initial state [c0, h0].

    Layers are named `{layer_prefix}{kind}_lstm{i}`...; keys `{key_prefix}{e}_lstm{i}_{gate}_w`... (compae:
    "enc_"/"dec_")."""
    tensors = []
    for e, kind in enumerate(experts):
        name, e = f"{layer_prefix}{kind}", f"{key_prefix}{e}"
        depth = sum(1 for layer in model.layers if layer.name.startswith(f"{name}_lstm")
                    and not layer.name.endswith("initialstate") and layer.name[len(name) + 5:].isdigit())
        for layer in range(1, depth + 1):
            kernel, recurrent, bias = (w.numpy() for w in model.get_layer(f"{name}_lstm{layer}").cell.weights)
            units = recurrent.shape[0]
            for g, gate in enumerate(GATES):
                cols = slice(g * units, (g + 1) * units)
                tensors.append((f"{e}_lstm{layer}_{gate}_w", np.concatenate([kernel[:, cols].T, recurrent[:, cols].T], 1)))
                tensors.append((f"{e}_lstm{layer}_{gate}_b", bias[cols]))
        full = model.get_layer(f"{name}_full")
        tensors.append((f"{e}_full_w", full.kernel.numpy().T))
        tensors.append((f"{e}_full_b", full.bias.numpy()))
        for layer in range(1, depth + 1):
            tensors.append((f"{e}_lstm{layer}_initialstate",
                            model.get_layer(f"{name}_lstm{layer}_initialstate").state.numpy()))
    return tensors


def _csv(array: np.ndarray) -> str:
    array = np.atleast_2d(np.asarray(array, np.float64))
    return "\n".join(",".join(f"{v:.18e}" for v in row) for row in array) + "\n"
