"""Command lines: training.py, generate.py and `python -m zoo {prepare,export,evaluate,presets,compare}`.

Thin on purpose: parse flags, check them against the registry, call the library. Library errors
(`ZooError`) become one line on stderr and exit code 2; nothing prints a traceback for bad input.
Heavy modules (TensorFlow, music21) are imported only once the flags are known to be good: the flags of
every model type come from its TensorFlow-free `ModelFlags` (`get_model_flags`), so --help and a bad flag
answer at once.
"""
from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from pathlib import Path
from typing import Callable, Sequence

from zoo.core.flags import (
    fraction,
    non_negative_float,
    non_negative_int,
    open_fraction,
    positive_float,
    positive_int,
)
from zoo.core.run_folder import RESUMABLE_FLAGS, RunFolder
from zoo.errors import DISK_ERRNO_REASONS, UsageError, ZooError, disk_errno

EXIT_BAD_INPUT = 2
# General training.py flags that shape the model (the transformer's attention span defaults to -s): a fine-tune
# from a run takes them from the run, with the type's own flags. (The encoding comes from the data, checked
# against the source's by the warm start.)
SHAPE_FLAGS = ("seq_len",)
# Type flags that say where the data or the starting weights come from, not what the model is: never taken
# from the source of a fine-tune.
NOT_INHERITED = frozenset({"dataset", "validation", "dbroot", "train_dir", "eval_dir", "load", "load_epoch", "resume",
                           "ckpt_path", "encoders_from"})


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag as one line (raising UsageError) instead of usage + exit.

    No abbreviations: with per-type flags parsed in a second pass, `--mode` must not be taken
    for `--model_type`.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        raise UsageError(f"{message} (see {self.prog} --help)")


def import_tensorflow_quietly() -> None:
    """Imports TensorFlow with stderr muted: its C++ start-up logs ignore TF_CPP_MIN_LOG_LEVEL.

    Errors then reach the user as the one line they are meant to be.
    """
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")  # the CUDA probe logs once, here
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _lower(text: str) -> str:
    return text.lower()


def run_cli(main: Callable[[Sequence[str] | None], object], argv: Sequence[str] | None = None) -> int:
    """Runs `main`, turning ZooError into `error: ...` on stderr and exit code 2.

    `main` may return an exit code (an int) when it has said what went wrong itself (`presets --check`).
    """
    try:
        result = main(argv)
    except ZooError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as error:  # a full or read-only disk, or permissions, where no zoo code named the file
        code = disk_errno(error)
        if code is None:
            raise
        print(f"error: {error.filename or 'a file'}: {DISK_ERRNO_REASONS[code]} ({errno.errorcode[code]})",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return result if isinstance(result, int) and not isinstance(result, bool) else 0


# ---------------------------------------------------------------- training.py
def _training_parser() -> _Parser:
    parser = _Parser(prog="training.py", description="Train a model of the zoo.")
    p = parser.add_argument_group("general (MechanicalBach's flags)")
    p.add_argument("-m", "--model_type", type=_lower, required=True, help="model type (case-insensitive)")
    p.add_argument("-n", "--name", required=True, help="experiment name: the run folder weights/NAME")
    p.add_argument("-l", "--loss_function", default="sparse_categorical_crossentropy", help="loss function")
    p.add_argument("-o", "--optimizer", default="adam", help="optimizer (adam, adamw, rmsprop, sgd, ...)")
    p.add_argument("-b", "--batch_size", type=positive_int, default=64, help="batch size (global, over all replicas)")
    p.add_argument("-e", "--epochs", type=positive_int, default=None,
                   help="number of epochs (default 10; on --resume_auto: the run's own count)")
    p.add_argument("-d", "--data_mode", type=_lower, default=None,
                   help="encoding of the data (default: the model type's; must match the pickle)")
    p.add_argument("-s", "--seq_len", type=positive_int, default=50, help="length of the training windows")
    p.add_argument("-p", "--data_path", default=None,
                   help="training pickle or prepared folder (default: ./data/train.pkl if present, "
                        "else the embedded Bach chorale corpus)")
    p.add_argument("-w", "--weights_path", default="weights", help="folder of run folders")
    p.add_argument("-t", "--tensorboard_dir", default="logs", help="TensorBoard log folder")
    z = parser.add_argument_group("zoo")
    z.add_argument("--learning_rate", type=positive_float, default=None,
                   help="learning rate (default: the optimizer's)")
    z.add_argument("--steps_per_epoch", type=positive_int, default=None, help="batches per epoch (default: one pass)")
    z.add_argument("--seed", type=int, default=0, help="random seed")
    z.add_argument("--resume_auto", action="store_true", help="continue run NAME from weights/NAME/backup/")
    z.add_argument("--init_from", default=None, metavar="RUN[:best|last|final]|FILE",
                   help="start from the weights of another run (under -w; its best model unless :last or :final) "
                        "or of a .keras / .weights.h5 file, with a fresh optimizer at epoch 0 (fine-tuning)")
    z.add_argument("--patience", type=non_negative_int, default=None,
                   help="stop after this many epochs without a val_loss lower by --min_delta (default: never)")
    z.add_argument("--min_delta", type=non_negative_float, default=0.0,
                   help="the smallest fall of val_loss that counts as better, for --patience (default 0)")
    z.add_argument("--lr_plateau_patience", type=positive_int, default=None,
                   help="multiply the learning rate by --lr_plateau_factor after more than N epochs without a "
                        "val_loss lower by 1e-4 relative (default: never)")
    z.add_argument("--lr_plateau_factor", type=open_fraction, default=0.5,
                   help="for --lr_plateau_patience (default 0.5)")
    z.add_argument("--max_steps", type=positive_int, default=None,
                   help="stop after this many training steps (batches) in all, counted across resumes")
    z.add_argument("--check_nan", action="store_true", help="stop at a NaN loss, keeping the last good checkpoint")
    z.add_argument("--validation_split", type=float, default=None,
                   help="fraction of training pieces to validate on (default: valid.pkl beside the data, else 0.1)")
    z.add_argument("--precision", choices=["float32", "mixed_float16", "mixed_bfloat16"], default="float32")
    z.add_argument("--strategy", choices=["default", "mirrored"], default="default",
                   help="mirrored: tf.distribute.MirroredStrategy over the visible GPUs")
    z.add_argument("--jit_compile", choices=["auto", "true", "false"], default="auto",
                   help="XLA compilation of the training step")
    _add_thread_flags(z)
    z.add_argument("--sample_every", type=non_negative_int, default=1, help="write a sample every N epochs (0: never)")
    z.add_argument("--sample_length", type=positive_int, default=256,
                   help="length of each training sample in the model type's unit (events; bars for gan)")
    z.add_argument("--verbose", type=int, choices=[0, 1, 2], default=1, help="Keras progress output")
    return parser


def _add_thread_flags(parser) -> None:
    parser.add_argument("--intra_op_threads", type=non_negative_int, default=None,
                        help="threads inside one CPU op (default: TensorFlow's, one per usable core; generate.py: "
                             "1 when sampling up to 8 pieces at once; 0: TensorFlow's)")
    parser.add_argument("--inter_op_threads", type=non_negative_int, default=None,
                        help="CPU ops run at once (default and 0: TensorFlow's, one per usable core)")


def _model_flags(model_type) -> _Parser:
    parser = _Parser(prog=f"training.py -m {model_type.name}", add_help=False, conflict_handler="resolve")
    model_type.add_arguments(parser.add_argument_group(f"{model_type.name} flags"))
    return parser


def parse_training_args(argv: Sequence[str] | None = None) -> dict:
    """Parses training.py flags; a flag of another model type is a UsageError naming its owner.

    Imports no TensorFlow."""
    from zoo.core.registry import get_model_flags, model_type_names

    argv = list(sys.argv[1:] if argv is None else argv)
    general = _training_parser()
    if "-h" in argv or "--help" in argv:
        _print_help(general, _model_flags, argv)
        sys.exit(0)
    args, rest = general.parse_known_args(argv)
    model_type = get_model_flags(args.model_type)
    if model_type.flag_defaults:  # e.g. lstmprovisor's batch of 10: re-parse with the type's defaults
        general.set_defaults(**model_type.flag_defaults)
        args, rest = general.parse_known_args(argv)
    own, rest = _model_flags(model_type).parse_known_args(rest)
    if rest:
        flag = rest[0].split("=")[0]
        for other in model_type_names():
            other_type = get_model_flags(other)
            if other_type is not model_type and flag in _model_flags(other_type)._option_string_actions:
                raise UsageError(f"{flag} is a flag of model type '{other}', not of '{model_type.name}'")
        raise UsageError(f"unrecognized argument {rest[0]} (see training.py -m {model_type.name} --help)")
    merged = {**vars(args), **vars(own)}
    merged["jit_compile"] = {"auto": "auto", "true": True, "false": False}[merged["jit_compile"]]
    if merged["init_from"] and not merged["resume_auto"]:
        given = _given_flags(general, argv) | _given_flags(_model_flags(model_type), argv)
        merged.update(_source_model_flags(merged, [*vars(own), *SHAPE_FLAGS], given))
    if merged["resume_auto"]:
        # A resume keeps the run's own length of training unless the command line changes it: a default
        # (10 epochs, or the type's) must not replace the count the run was started with.
        given = _given_flags(general, argv)
        for name in RESUMABLE_FLAGS:
            if name not in given:
                merged[name] = None
    return merged


def _source_model_flags(args: dict, names: list[str], given: set[str]) -> dict:
    """The flags `names` of the run that `--init_from RUN` names, where the command line does not give them.

    A fine-tuned model is the source's model: `--init_from bach-transformer -p mine/` needs no size flags (the new
    run's config.json records what it took).
    Nothing for a model file or a run of another type (the warm start names that mismatch).
    """
    spec = args["init_from"]
    if spec.endswith((".keras", ".h5")) or Path(spec).is_file():
        return {}
    name = spec.partition(":")[0]
    try:
        source = RunFolder(Path(args["weights_path"]), name).load_config()
    except ZooError:
        return {}  # the warm start says what is wrong with it, before any data is prepared
    if source.get("model_type") != args["model_type"] or not isinstance(source.get("args"), dict):
        return {}
    return {flag: source["args"][flag] for flag in names
            if flag not in given and flag not in NOT_INHERITED and flag in source["args"]}


def _given_flags(parser: argparse.ArgumentParser, argv: list[str]) -> set[str]:
    """The dests of `parser`'s options that `argv` spells out (as `-e 5`, `-e5`, `--epochs=5`)."""
    given = set()
    for action in parser._actions:
        for option in action.option_strings:
            long_form = option.startswith("--")
            if any(token == option or token.startswith(option + "=") or (not long_form and token.startswith(option))
                   for token in argv):
                given.add(action.dest)
    return given


def _print_help(general: _Parser, model_flags, argv: list[str]) -> None:
    """Help lists the general flags plus those of -m's model type (of every type when -m is absent)."""
    from zoo.core.registry import get_model_flags, model_type_names

    names = model_type_names()
    for flag in ("-m", "--model_type"):
        if flag in argv[:-1]:
            names = [get_model_flags(argv[argv.index(flag) + 1]).name]
    parents = [general] + [model_flags(get_model_flags(name)) for name in names]
    _Parser(prog=general.prog, parents=parents, add_help=False, conflict_handler="resolve").print_help()


def training_main(argv: Sequence[str] | None = None) -> None:
    args = parse_training_args(argv)
    import_tensorflow_quietly()
    from zoo.engine.train import train

    run = train(args)
    print(f"done: {run.path} (generate with: python generate.py -m {args['model_type']} -n {run.name})",
          file=sys.stderr)


# ---------------------------------------------------------------- generate.py
def _generate_parser() -> _Parser:
    parser = _Parser(prog="generate.py", description="Generate music from a trained run.")
    parser.add_argument("-m", "--model_type", type=_lower, default=None, help="model type (checked against the run)")
    parser.add_argument("-n", "--name", required=True, help="run name (weights/NAME)")
    parser.add_argument("-w", "--weights_path", default="weights", help="folder of run folders")
    parser.add_argument("--num_outputs", type=positive_int, default=3, help="pieces to write")
    parser.add_argument("--output_dir", default=None,
                        help="default: weights/NAME/samples/ (outputs/NAME/samples/ for a preset)")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same output")
    parser.add_argument("--checkpoint", choices=["best", "last", "final"], default="best",
                        help="best: lowest validation loss (default); last: latest epoch; final: model.keras")
    _add_thread_flags(parser)
    return parser


def _generate_flags(model_type) -> _Parser:
    parser = _Parser(prog=f"generate.py -m {model_type.name}", add_help=False, conflict_handler="resolve")
    model_type.add_generate_arguments(parser.add_argument_group(f"{model_type.name} flags"))
    return parser


def parse_generate_args(argv: Sequence[str] | None = None) -> dict:
    """Parses generate.py flags: the general ones, then those of the run's model type. Imports no TensorFlow."""
    from zoo.core.registry import get_model_flags
    from zoo.core.run_folder import RunFolder

    argv = list(sys.argv[1:] if argv is None else argv)
    general = _generate_parser()
    if "-h" in argv or "--help" in argv:
        _print_help(general, _generate_flags, argv)
        sys.exit(0)
    args, rest = general.parse_known_args(argv)
    # The run says what it is; -m only double-checks it (load_run reports a mismatch).
    model_type = get_model_flags(RunFolder(Path(args.weights_path), args.name).load_config()["model_type"])
    own, rest = _generate_flags(model_type).parse_known_args(rest)
    if rest:
        raise UsageError(f"unrecognized argument {rest[0]} for a '{model_type.name}' run "
                         f"(see generate.py -m {model_type.name} --help)")
    merged = {**vars(args), **vars(own)}
    return merged


def generate_main(argv: Sequence[str] | None = None) -> None:
    args = parse_generate_args(argv)
    import_tensorflow_quietly()
    from zoo.engine.generate import generate
    from zoo.engine.threads import configure_threads, sampling_threads

    flags = args["intra_op_threads"], args["inter_op_threads"]
    configure_threads(*sampling_threads(*flags, args["num_outputs"]), warn=flags != (None, None))

    generate(args)


# ---------------------------------------------------------------- python -m zoo
def zoo_main(argv: Sequence[str] | None = None) -> int | None:
    parser = _Parser(prog="python -m zoo", description="Data preparation, export, evaluation, presets, comparison.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    prep = commands.add_parser("prepare", help="music files -> pickled encodings split by piece")
    prep.add_argument("--input", nargs="+", default=None,
                      help="files, folders, or music21:<corpus folder> (e.g. music21:bach)")
    prep.add_argument("--encoding", type=_lower, default="event", help="encoding name (event, numeric, ...)")
    prep.add_argument("-o", "--output", required=True, help="output folder, e.g. data/mine")
    prep.add_argument("--valid_fraction", type=fraction, default=0.1)
    prep.add_argument("--test_fraction", type=fraction, default=0.1)
    prep.add_argument("--seed", type=int, default=0, help="seed of the split by piece")
    usable_cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    prep.add_argument("--workers", type=positive_int, default=usable_cores,
                      help="reader processes that stream over the files (default: the usable cores; "
                           "1: read in this process)")
    from zoo.data.prepare import FILE_MEMORY_LIMIT, FILE_TIME_LIMIT, FILE_TIME_LIMIT_PER_KB

    prep.add_argument("--file_time_limit", type=positive_float, default=FILE_TIME_LIMIT, metavar="SECONDS",
                      help="CPU time that reading a file, or encoding one of its pieces, may take, plus "
                           f"{FILE_TIME_LIMIT_PER_KB:g} s per KB of the file; a file past it is skipped "
                           f"(default: {FILE_TIME_LIMIT:g})")
    prep.add_argument("--file_memory_limit", type=positive_float, default=FILE_MEMORY_LIMIT, metavar="MB",
                      help="memory that reading a file, or encoding one of its pieces, may add to its process "
                           f"(Linux); a file past it is skipped (default: {FILE_MEMORY_LIMIT:g})")

    for name, text in [("export", "SavedModel with the model's endpoints, or another format"),
                       ("evaluate", "a run's numbers on its test split")]:
        sub = commands.add_parser(name, help=text)
        sub.add_argument("-n", "--name", required=True, help="run name (weights/NAME)")
        sub.add_argument("-w", "--weights_path", default="weights")
        sub.add_argument("--checkpoint", choices=["best", "last", "final"], default="best")
        if name == "export":
            sub.add_argument("--output", default=None,
                             help="default: weights/NAME/export/ (outputs/NAME/export/ for a preset)")
            sub.add_argument("--format", type=_lower, default="savedmodel",
                             help="savedmodel (default), or a format of the run's model type")
        else:
            sub.add_argument("-p", "--data_path", default=None, help="test pickle (default: the run's test split)")
            sub.add_argument("-b", "--batch_size", type=positive_int, default=64)
            sub.add_argument("--pieces", type=positive_int, default=None,
                             help="only the first N pieces of the test split (a quick check; default: all)")
            sub.add_argument("--num_samples", type=non_negative_int, default=16,
                             help="pieces to sample for the musical metrics, compared with the test split (0: none)")
            sub.add_argument("--seed", type=int, default=0, help="sampling seed for the musical metrics")
            sub.add_argument("--sample_length", type=positive_int, default=None,
                             help="length of each sample in the model type's unit (default: the run's sample length)")

    reproduce = commands.add_parser("reproduce", help="the papers' figures beside the shipped presets' "
                                                      "(rows: zoo/core/papers.py)")
    reproduce.add_argument("rows", nargs="*", metavar="ROW", help="rows, e.g. rnn-nade-jsb (default: every row)")
    reproduce.add_argument("-w", "--weights_path", default="weights")
    reproduce.add_argument("--pieces", type=positive_int, default=8,
                           help="evaluate on the first N test pieces, minutes at most (default 8)")
    reproduce.add_argument("--full", action="store_true",
                           help="the whole test split, as the cards measure it (AIS over a whole split takes long)")
    presets = commands.add_parser("presets", help="list the presets under -w (trained runs with a preset.json)")
    presets.add_argument("-w", "--weights_path", default="weights")
    presets.add_argument("--check", action="store_true",
                         help="also verify each preset's files against the sha256 sums in its preset.json")
    compare = commands.add_parser("compare", help="evaluation.csv and metrics.csv of several runs side by side")
    compare.add_argument("runs", nargs="*", metavar="RUN",
                         help="run names (default: every run under -w with an evaluation.csv or metrics.csv)")
    compare.add_argument("-w", "--weights_path", default="weights")
    compare.add_argument("--output_dir", default=str(Path("outputs") / "compare"),
                         help="where compare.csv and compare.md go (default: outputs/compare/)")

    argv = list(sys.argv[1:] if argv is None else argv)
    args, rest = parser.parse_known_args(argv)
    args = vars(args)
    command = args.pop("command")
    if command == "prepare":
        _prepare(args, rest)
        return None
    if command in ("presets", "compare"):  # no TensorFlow: they read JSON and CSV files
        _refuse_extra(rest, f"python -m zoo {command}")
        return _presets(args) if command == "presets" else _compare(args)
    import_tensorflow_quietly()
    if command == "reproduce":
        _refuse_extra(rest, "python -m zoo reproduce")
        return _reproduce(args)
    if command == "export":
        _refuse_extra(rest, "python -m zoo export")
        from zoo.engine.export import export

        print(f"wrote {export(args)}")
    else:
        from zoo.core.registry import get_model_type
        from zoo.core.run_folder import RunFolder
        from zoo.engine.evaluate import evaluate

        model_type = get_model_type(RunFolder(Path(args["weights_path"]), args["name"]).load_config()["model_type"])
        own = _Parser(prog=f"python -m zoo evaluate ({model_type.name})", add_help=False)
        model_type.add_evaluate_arguments(own.add_argument_group(f"{model_type.name} flags"))
        extra, rest = own.parse_known_args(rest)
        _refuse_extra(rest, f"python -m zoo evaluate for a '{model_type.name}' run")
        evaluate({**args, **vars(extra)})


def _presets(args: dict) -> int:
    """`python -m zoo presets [--check]`: the table; with --check one line per bad file and exit code 2."""
    from zoo.core.presets import format_presets_table, list_presets, verify_checksums

    presets = list_presets(args["weights_path"])
    if not presets:
        print(f"no presets in {args['weights_path']} (a preset is a run folder with a preset.json)")
        return 0
    print(format_presets_table(presets))
    if not args["check"]:
        return 0
    bad = [info.folder / name for info in presets for name in verify_checksums(info.folder)]
    for path in bad:
        state = "is missing" if not path.is_file() else "differs from the sha256 in preset.json"
        print(f"error: {path} {state}", file=sys.stderr)
    if bad:
        return EXIT_BAD_INPUT
    print(f"checksums: all files of {len(presets)} preset(s) match", file=sys.stderr)
    return 0


def _compare(args: dict) -> int:
    """`python -m zoo compare [RUN ...]`: prints the table, writes compare.csv and compare.md."""
    from zoo.core.presets import compare_runs, format_comparison, write_comparison

    frame, missing = compare_runs(args["weights_path"], args["runs"] or None)
    if missing:
        print(f"note: no evaluation.csv or metrics.csv yet for {', '.join(missing)} "
              "(python -m zoo evaluate -n NAME)", file=sys.stderr)
    if frame.empty:
        print(f"nothing to compare in {args['weights_path']}: no run has been evaluated", file=sys.stderr)
        return 0
    print(format_comparison(frame))
    for path in write_comparison(frame, args["output_dir"]):
        print(f"wrote {path}", file=sys.stderr)
    return 0


def evaluate_preset(info, weights_path: str | Path, pieces: int | None = None,
                    test_path: str | Path | None = None) -> dict[str, str]:
    """A preset's evaluation.csv row from `python -m zoo evaluate` as its card runs it, without the musical
    metrics: on its first `pieces` test pieces (None: all), of `test_path` when given. ZooError when its test
    data is not here. (`info` is the preset's `PresetInfo`.)"""
    import csv
    import shlex

    flags = shlex.split(info.evaluate_command)[4:]  # after "python -m zoo evaluate"
    for flag in ("--num_samples", *(["-p"] if test_path is not None else [])):
        if flag in flags:
            del flags[flags.index(flag):flags.index(flag) + 2]
    flags += ["-p", str(test_path)] if test_path is not None else []
    flags += ["--pieces", str(pieces)] if pieces else []
    print(f"--- {info.name}: python -m zoo {shlex.join(['evaluate', *flags])}", file=sys.stderr)
    zoo_main(["evaluate", *flags, "-w", str(weights_path), "--num_samples", "0"])
    with open(RunFolder(Path(weights_path), info.name).evaluation_csv, newline="") as file:
        return list(csv.DictReader(file))[-1]


def _reproduce(args: dict) -> int:
    """`python -m zoo reproduce [ROW ...]`: each paper's figure, ours from its preset (on a slice, or `--full`),
    the card's whole-split figure, and the protocol; exit 2 when a row could not be measured here."""
    from zoo.core.papers import PAPER_ROWS, paper_row
    from zoo.core.presets import PRESET_FILE, read_preset

    try:
        rows = [paper_row(name) for name in args["rows"]] if args["rows"] else list(PAPER_ROWS)
    except KeyError as error:
        raise UsageError(error.args[0]) from None
    measured: dict[str, dict | str] = {}  # preset -> its evaluation.csv row here, or why there is none
    for preset in dict.fromkeys(row.preset for row in rows if row.preset):
        info = read_preset(Path(args["weights_path"]) / preset)
        if info is None:
            measured[preset] = "not shipped here"
            continue
        try:
            measured[preset] = evaluate_preset(info, args["weights_path"], None if args["full"] else args["pieces"])
        except ZooError as error:  # its test data is not here (../shared), say: the other rows go on
            card = json.loads((info.folder / PRESET_FILE).read_text())
            prepare = card.get("prepare", {}).get("command")  # the card's own data, where it prepares some
            measured[preset] = f"its test data is not here: {prepare}" if prepare else f"cannot evaluate: {error}"
    on = "whole test split" if args["full"] else f"first {args['pieces']} test pieces"
    print(f"\n| row | paper | ours ({on}) | card (whole test split) | whole split against the paper | source | "
          "protocol |\n|---|---|---|---|---|---|---|")
    missing = 0
    for row in rows:
        result = measured.get(row.preset) if row.preset else "no shipped model answers it yet"
        card = _card_figure(Path(args["weights_path"]) / row.preset, row.metric) if row.preset else None
        ours = float(result[row.metric]) if isinstance(result, dict) else None
        whole = ours if args["full"] else card  # a slice is a check of the shipped figure, not a comparison
        missing += isinstance(result, str) and row.preset is not None
        print(f"| {row.what} | {row.paper:g} | {result if ours is None else f'{ours:.4g}'} | "
              f"{'' if card is None else f'{card:.4g}'} | {'' if whole is None else row.gap(whole)} | "
              f"{row.source} ({'verified' if row.verified else 'unverified'}) | {row.protocol} |")
    return EXIT_BAD_INPUT if missing else 0


def _card_figure(folder: Path, column: str) -> float | None:
    """The figure in a preset's shipped evaluation.csv (its card's, on the whole test split)."""
    import csv

    try:
        with open(folder / "evaluation.csv", newline="") as file:
            value = list(csv.DictReader(file))[-1].get(column)
    except (OSError, IndexError):
        return None
    return float(value) if value else None


def _refuse_extra(rest: list[str], where: str) -> None:
    if rest:
        raise UsageError(f"unrecognized argument {rest[0]} ({where})")


def _prepare(args: dict, rest: list[str]) -> None:
    """`python -m zoo prepare`, with the chosen encoding's own options (e.g. the piano-roll's pitch range)."""
    from zoo.data.prepare import prepare, summary
    from zoo.encodings import get_encoding_class

    encoding_class = get_encoding_class(args["encoding"])
    own = _Parser(prog=f"python -m zoo prepare --encoding {encoding_class.name}", add_help=False)
    encoding_class.add_arguments(own.add_argument_group(f"{encoding_class.name} options"))
    options, rest = own.parse_known_args(rest)
    _refuse_extra(rest, f"python -m zoo prepare --encoding {encoding_class.name}")
    encoding = encoding_class(**vars(options))
    if encoding_class.synthesises_data:  # e.g. notes rendered from a SoundFont: no input files
        if args["input"]:
            raise UsageError(f"--input does not apply to the '{encoding_class.name}' encoding: it makes its own data")
        manifest = encoding.build_dataset(args["output"], args["valid_fraction"], args["test_fraction"], args["seed"])
    else:
        if not args["input"]:
            raise UsageError("prepare needs --input FILE|DIR|music21:<folder> [...]")
        manifest = prepare(args["input"], encoding, args["output"], args["valid_fraction"],
                           args["test_fraction"], args["seed"], workers=args["workers"],
                           file_time_limit=args["file_time_limit"], file_memory_limit=args["file_memory_limit"])
    print(summary(manifest))
    for item in manifest["skipped"]:
        print(f"skipped {item['file']}: {item['reason']}", file=sys.stderr)
    print(f"wrote {args['output']}/{{train,valid,test}}.pkl and manifest.json")
