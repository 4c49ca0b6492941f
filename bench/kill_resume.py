"""Killed runs survive: SIGKILL training at random moments, check every file left behind, resume, generate.

For each model type (tiny sizes, flags in `TYPES`), until `--kills` kills are done: train in a subprocess
and SIGKILL it at a seeded random moment (while it starts, during a step, as soon as an atomic write's
temporary file shows up, or while it writes the final model); half the runs are resumed with
`--resume_auto` and killed a second time. After every kill:

- every `.keras` in checkpoints/ and model.keras loads through `zoo.core.checkpoints.load_model`;
- backup/state.json parses and names a weights file that exists; every `epoch-*.weights.h5` opens
  with h5py and all its datasets read back (at most one stale one beside the committed one);
- the committed epoch never goes back, and a resumed process says it resumes after it.

Then the run is resumed to the end with the same command plus `--resume_auto`: it must say it resumes
after the backup's epoch (and say nothing when there was no backup, i.e. start at 0), finish, hold each
epoch exactly once in its CSV log, leave no temporary file, and `generate.py -n NAME` must exit 0 and
write files. Prints a table: type, kills tried, kills survived, kills that hit a write, failures.

    python bench/kill_resume.py --kills 3 --seed 0                       # every type
    python bench/kill_resume.py --types lstm,gan --kills 5 --workdir /tmp/kr
    python bench/kill_resume.py --scenarios concurrent,full_disk --starts 4

Two more scenarios (`--scenarios`, all three by default): `concurrent` starts `--starts` processes on one run
name at the same moment (exactly one must train, the others exit 2 with one line, and the run must be the
winner's, whole); `full_disk` trains on a tmpfs (root only, else skipped) and fills it once an epoch is
committed (the process must exit 2 with one 'cannot write' line, keep that epoch, and the resume after the
filler is removed must reach the last epoch).
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))

THREADS = ["--intra_op_threads", "1", "--inter_op_threads", "1"]
QUIET = ["--sample_every", "0", "--verbose", "0", "--seed", "0"]
CHORALES = [f"bach/bwv{n}" for n in ("66.6", "1.6", "10.7", "101.7", "102.7", "103.6", "104.6", "108.6",
                                     "11.6", "110.7", "111.6", "113.8", "117.4", "114.7", "115.6", "116.6")]
TINY_MUSICVAE = {
    "slice_bar": 2, "z_size": 8, "num_steps": 4, "evaluate_interval": 2, "print_interval": 0, "advanced_interval": 0,
    "free_bits": 0, "batch_size": 8, "sampling_settings": {"schedule": "inverse_sigmoid", "rate": 2},
    "beta_settings": {"start_beta": 0.0, "end_beta": 0.2, "duration": 4},
    "encoder_params": {"embed_size": 4, "hidden_size": 16, "n_layers": 1},
    "seq_decoder_args": {"key": "greedy", "params": {"z_size": 8, "decoder_args": {
        "key": "another", "params": {"z_size": 8, "embed_size": 4, "hidden_size": 16, "n_layers": 1}}}},
}


@dataclasses.dataclass(frozen=True)
class TypeSpec:
    """How to train and generate one model type at a tiny size; `{data}` is the prepared data's path."""

    data: str
    train: tuple[str, ...]
    generate: tuple[str, ...] = ("--num_outputs", "1")


LEADSHEET_FLAGS = ("--dataset", "{data}/train", "--validation", "{data}/valid", "--layer_size", "8",
                   "--num_layers", "1", "--steps_per_epoch", "1", "-b", "2")
TYPES: dict[str, TypeSpec] = {
    "lstm": TypeSpec("event", ("-p", "{data}/train.pkl", "-s", "32", "-b", "16", "--steps_per_epoch", "3",
                               "--lstm_size", "32", "--lstm_num_layers", "2", "--lstm_hidden_dense_size", "32",
                               "--lstm_num_hidden_dense", "1", "--lstm_embedding_size", "16"),
                     ("--num_outputs", "1", "--length", "32")),
    "transformer": TypeSpec("event", ("-p", "{data}/train.pkl", "-s", "32", "-b", "16", "--steps_per_epoch", "3",
                                      "--embed_dim", "16", "--num_heads", "2", "--ff_dim", "32",
                                      "--transformer_num_layers", "1", "--max_seq_len", "40"),
                            ("--num_outputs", "1", "--length", "32")),
    "gan": TypeSpec("pianoroll", ("-d", "pianoroll", "-p", "{data}/train.pkl", "-b", "8", "--steps_per_epoch", "2",
                                  "--gan_latent_dims", "16", "--gan_starting_num_channels", "8",
                                  "--gan_num_hidden_conv_layers", "1", "--gan_hidden_conv_num_channels", "8"),
                    ("--num_outputs", "1", "--num_bars", "2")),
    "multinn": TypeSpec("voices", ("-p", "{data}/train.pkl", "-b", "8", "--steps_per_epoch", "2",
                                   "--num_hidden", "8", "--num_hidden_rnn", "16"),
                        ("--num_outputs", "1", "--intro_beats", "4", "--sample_beats", "4")),
    "rnn_nade": TypeSpec("jsb", ("--dataset", "{data}", "--num_hidden", "12", "--rnn_units", "16", "-b", "8",
                                 "-s", "32", "--steps_per_epoch", "2"),
                         ("--num_outputs", "1", "--length", "12")),
    "rnn_rbm": TypeSpec("jsb", ("--dataset", "{data}", "--num_hidden", "12", "--rnn_units", "16", "-b", "8",
                                "-s", "32", "--steps_per_epoch", "2", "--gibbs_k", "2", "--sample_k", "3"),
                        ("--num_outputs", "1", "--length", "12")),
    "simple": TypeSpec("leadsheets", (*LEADSHEET_FLAGS, "--encoding", "cot"), ("--generate", "--num_outputs", "1")),
    "poex": TypeSpec("leadsheets", LEADSHEET_FLAGS, ("--generate", "--num_outputs", "1")),
    "compae": TypeSpec("licks", ("--dataset", "{data}/train", "--validation", "{data}/valid", "--encoding", "poex",
                                 "--manager", "queueless_std", "--feature_period", "24", "--add_loss",
                                 "--feature_size", "5", "--layer_size", "6", "--num_layers", "1", "-b", "2",
                                 "--steps_per_epoch", "1", "--jit_compile", "false"),
                       ("--generate", "--num_outputs", "1")),
    "musicvae": TypeSpec("melody", ("-p", "{data}/train.pkl", "--config", "{data}/tiny.json", "--steps_per_epoch", "2")),
    "crossmodal": TypeSpec("notes", ("-p", "{data}", "--instruments", "Flute", "Violin", "-b", "16",
                                     "--steps_per_epoch", "2", "--save_epochs", "2", "--plot_epochs", "0",
                                     "--hidden_dims_1", "32", "--hidden_dims_2", "16", "--dims", "4",
                                     "--adv_dim", "8")),
}


# ---------------------------------------------------------------- data, prepared once per work folder
def _prepare(out: Path, inputs: list[str], encoding: str, *options: str) -> None:
    command = [sys.executable, "-m", "zoo", "prepare", "--encoding", encoding, "-o", str(out), "--seed", "0",
               "--valid_fraction", "0.125", "--test_fraction", "0.125", *options]
    if inputs:
        command[4:4] = ["--input", *inputs]
    subprocess.run(command, cwd=ROOT, check=True, timeout=600, stdout=subprocess.DEVNULL)


def _chorales() -> list[str]:
    from music21 import corpus

    return [str(corpus.getWork(name)) for name in CHORALES]


def _copy_folders(out: Path, folders: dict[str, list[Path]]) -> None:
    for split, files in folders.items():
        (out / split).mkdir(parents=True)
        for path in files:
            shutil.copy(path, out / split / path.name)


def prepare_data(kind: str, out: Path) -> Path | None:
    """Prepares one kind of data into `out` (once); None when it needs ../shared/data and that is absent."""
    leadsheets, nottingham = SHARED_DATA / "leadsheets" / "combination", SHARED_DATA / "nottingham" / "MIDI" / "melody"
    if kind in ("leadsheets", "licks") and not leadsheets.is_dir() or kind == "melody" and not nottingham.is_dir():
        return None
    target = out if kind != "jsb" else out / "jsb_slice.json"
    if (out / ".done").is_file():
        return target
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    if kind in ("event", "pianoroll"):
        _prepare(out, _chorales(), kind)
    elif kind == "voices":
        _prepare(out, _chorales(), "multitrack", "--track_map", "parts:4", "--lowest_pitch", "36",
                 "--highest_pitch", "84", "--steps_per_beat", "2", "--steps_per_model_step", "1", "--sample_beats", "8")
    elif kind == "notes":
        _prepare(out, [], "notes", "--instruments", "Flute", "Violin", "--pitch_step", "6", "--dynamics", "p", "ff")
    elif kind == "melody":
        _prepare(out, [str(nottingham / f"ashover{i}.mid") for i in range(1, 13)], "melody")
        (out / "tiny.json").write_text(json.dumps(TINY_MUSICVAE))
    elif kind == "jsb":
        from zoo.families.rnn_piano.polyphonic import BUNDLED_JSB

        data = json.loads(BUNDLED_JSB.read_text())
        target.write_text(json.dumps({"train": data["train"][:24], "valid": data["valid"][:6], "test": data["test"][:4]}))
    elif kind == "leadsheets":
        blues = leadsheets / "blues"
        _copy_folders(out, {"train": [blues / "C Major.ls", blues / "F Major.ls",
                                      leadsheets / "rbmprovisor-ii-V-I" / "0003.ls"],
                            "valid": [blues / "G Major.ls"]})
    elif kind == "licks":
        licks = leadsheets / "rbmprovisor-ii-V-I"
        _copy_folders(out, {"train": [licks / f"{n}.ls" for n in ("0003", "0004", "0005", "0007")],
                            "valid": [licks / "0008.ls"]})
    else:
        raise ValueError(kind)
    (out / ".done").write_text("")
    return target


# ---------------------------------------------------------------- what a kill leaves behind
def run_temporaries(run: Path) -> list[Path]:
    """Temporary files of `zoo.atomic.atomic_path` in the run's folders."""
    from zoo.atomic import temporaries

    return [path for folder in (run, run / "checkpoints", run / "backup") for path in temporaries(folder)]


def committed_epoch(run: Path) -> int | None:
    try:
        return int(json.loads((run / "backup" / "state.json").read_text())["epoch"])
    except (OSError, ValueError, KeyError):
        return None


def check_h5(path: Path) -> None:
    """Opens a weights file and reads every dataset back (a truncated file fails here)."""
    import h5py

    def read(name, item):
        if isinstance(item, h5py.Dataset):
            item[()]

    with h5py.File(path, "r") as file:
        file.visititems(read)


def optimizer_steps(run: Path) -> dict[str, int]:
    """Step counts (`iterations`, the optimizer's first variable) in the committed backup, per optimizer."""
    import h5py

    state = committed_epoch(run) and json.loads((run / "backup" / "state.json").read_text())
    if not state:
        return {}
    steps = {}
    with h5py.File(run / "backup" / state["weights"], "r") as file:
        for name in file:
            if name.endswith("optimizer") and "vars/0" in file[name]:
                steps[name] = int(file[name]["vars/0"][()])
    return steps


def check_files(run: Path) -> list[str]:
    """Problems with the checkpoint, backup and model files in `run` (empty list: all complete)."""
    import keras

    from zoo.core.checkpoints import load_model
    from zoo.errors import RunError

    problems = []
    models = [p for p in (run / "checkpoints").glob("*.keras") if not p.name.startswith(".")]
    if (run / "model.keras").is_file():
        models.append(run / "model.keras")
    for path in models:
        try:
            load_model(path)
        except RunError as error:
            problems.append(str(error))
        keras.backend.clear_session()
    backup = run / "backup"
    state_path = backup / "state.json"
    weights = sorted(p for p in backup.glob("epoch-*.weights.h5")) if backup.is_dir() else []
    if state_path.is_file():
        try:
            named = json.loads(state_path.read_text())["weights"]
        except (ValueError, KeyError) as error:
            return problems + [f"{state_path} does not parse: {error}"]
        if not (backup / named).is_file():
            problems.append(f"state.json names {named}, which is missing")
        if len(weights) > 2:
            problems.append(f"{len(weights)} weights files in backup/: {[p.name for p in weights]}")
    elif weights:
        problems.append(f"weights in backup/ without state.json: {[p.name for p in weights]}")
    for path in weights:
        try:
            check_h5(path)
        except Exception as error:  # h5py raises OSError, KeyError, ... on damaged files
            problems.append(f"{path.name} does not read back: {str(error)[:120]}")
    strays = [p.name for folder in (run / "checkpoints", backup) if folder.is_dir() for p in folder.iterdir()
              if not p.name.startswith(".") and not re.fullmatch(r"(last|best|epoch-\d+)\.keras|state\.json|"
                                                                 r"epoch-\d+\.weights\.h5", p.name)]
    if strays:
        problems.append(f"unexpected files: {strays}")
    return problems


def logged_epochs(run: Path) -> list[int]:
    try:
        with open(run / "training_log.csv", newline="") as file:
            return [int(row["epoch"]) for row in csv.DictReader(file)]
    except (OSError, KeyError, ValueError):
        return []


# ---------------------------------------------------------------- one run, killed once or twice
@dataclasses.dataclass
class Kill:
    """One SIGKILL: how it was timed, whether a write was in flight, the committed epoch it left, problems."""

    mode: str
    mid_write: bool = False
    backup_epoch: int | None = None
    steps: dict[str, int] = dataclasses.field(default_factory=dict)  # optimizer steps in the backup
    failures: list[str] = dataclasses.field(default_factory=list)


def _wait(process: subprocess.Popen, condition, deadline: float, poll: float = 0.01) -> bool:
    """Polls `condition()` until it holds (True) or the process ends or the deadline passes (False)."""
    while time.monotonic() < deadline and process.poll() is None:
        if condition():
            return True
        time.sleep(poll)
    return False


def kill_at_random(process: subprocess.Popen, run: Path, mode: str, floor: int, epochs: int, rng: random.Random,
                   timeout: float) -> None:
    """SIGKILLs `process` at a moment picked by `mode`; `floor` is the epoch committed when it started.

    startup: 0-3 s after it (re)wrote config.json (building, tracing, loading the backup);
    step: at a random moment of the epoch after a random one (its length measured from the one before);
    write: as soon as an atomic write's temporary file shows up after a random epoch, 0-20 ms into it;
    final: as soon as the final model.keras is being written.
    """
    deadline = time.monotonic() + timeout
    if mode == "startup":
        launched = time.time()
        config = run / "config.json"
        if _wait(process, lambda: config.is_file() and config.stat().st_mtime >= launched - 1, deadline):
            time.sleep(rng.uniform(0, 3))
    elif mode == "final":
        _wait(process, lambda: any(p.name.startswith(".model.") for p in run_temporaries(run)), deadline, poll=0.001)
    else:
        after = rng.randint(floor + 1, max(floor + 1, epochs - 2))
        if not _wait(process, lambda: (committed_epoch(run) or 0) >= after, deadline):
            return
        if mode == "step":
            start = time.monotonic()  # an epoch's length, measured, then a random moment in the next one
            if _wait(process, lambda: (committed_epoch(run) or 0) >= after + 1, deadline):
                time.sleep(rng.uniform(0, time.monotonic() - start))
        elif _wait(process, lambda: bool(run_temporaries(run)), deadline, poll=0.001):
            time.sleep(rng.uniform(0, 0.02))  # somewhere inside the write (a .keras save takes tens of ms)
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)


MODES = ("startup", "step", "write", "final")
RESUMING = re.compile(r"resuming '.*' from its backup after epoch (\d+)")


def check_resume_message(stderr: str, committed: int | None) -> list[str]:
    """A resumed process must say it resumes after the committed epoch, and say nothing without a backup."""
    said = RESUMING.search(stderr)
    if committed:
        if not said or int(said[1]) != committed:
            return [f"backup was at epoch {committed}, the resume said "
                    f"{repr(said[0]) if said else 'nothing (it started from 0)'}"]
    elif said:
        return [f"no backup, but the resume said {said[0]!r}"]
    return []


def trial(model_type: str, spec: TypeSpec, data: Path, index: int, rng: random.Random, args) -> list[Kill]:
    """One run of one model type: train, kill (then resume and kill again, half the time), check what each kill
    left, resume to the end, check the run, generate. Problems go to the kill after which they showed."""
    name = f"{model_type}-{index}"
    weights, logs = args.workdir / "weights", args.workdir / "logs"
    run = weights / name
    shutil.rmtree(run, ignore_errors=True)
    shutil.rmtree(logs / name, ignore_errors=True)
    command = training_command(model_type, spec, data, name, weights, logs, args)
    kills: list[Kill] = []
    for attempt in range(rng.choice([1, 2])):
        floor = committed_epoch(run) or 0
        if floor >= args.epochs - 1:
            break
        kill = Kill(mode=rng.choice(args.modes))
        stderr_path = args.workdir / f"{name}.train-{attempt}.err"
        with open(stderr_path, "w") as err:
            process = subprocess.Popen(command + (["--resume_auto"] if attempt else []), cwd=ROOT,
                                       stdout=subprocess.DEVNULL, stderr=err)
            try:
                kill_at_random(process, run, kill.mode, floor, args.epochs, rng, args.timeout)
            finally:
                if process.poll() is None:  # only on an error in the bench itself
                    process.kill()
                process.wait(timeout=60)
        if process.returncode != -signal.SIGKILL:
            if process.returncode != 0:  # a run that simply finished first is a missed kill, not a failure
                kill.failures.append(f"training exited {process.returncode} before the kill "
                                     f"({_last_line(stderr_path)})")
                kills.append(kill)
            break
        kills.append(kill)
        kill.mid_write = bool(run_temporaries(run))
        kill.backup_epoch = committed_epoch(run)
        kill.steps = optimizer_steps(run)
        if attempt and RESUMING.search(stderr_path.read_text(errors="replace")):
            kill.failures += check_resume_message(stderr_path.read_text(errors="replace"), floor)
        if (kill.backup_epoch or 0) < floor:
            kill.failures.append(f"the backup went back from epoch {floor} to {kill.backup_epoch}")
        kill.failures += [f"after the kill: {p}" for p in check_files(run)]
    if not kills:
        return kills
    last = kills[-1]

    # Resume to the end: the same command plus --resume_auto.
    committed = committed_epoch(run)
    result = _run([*command, "--resume_auto"], args.timeout, args.workdir / f"{name}.resume.err")
    if result.returncode != 0:
        last.failures.append(f"resume exited {result.returncode}: {_last_line(args.workdir / f'{name}.resume.err')}")
        return kills
    last.failures += check_resume_message(result.stderr, committed)
    last.failures += check_finished(run, name, spec, args)
    # Continued, not restarted: each optimizer's step count went on from the backup's (a fixed number of
    # steps an epoch), so it is in the same proportion to the epochs at every kill as at the end.
    final_steps = optimizer_steps(run)
    for kill in kills:
        for optimizer, steps in kill.steps.items():
            if kill.backup_epoch and final_steps.get(optimizer, 0) * kill.backup_epoch != steps * args.epochs:
                kill.failures.append(f"{optimizer}: {steps} steps after epoch {kill.backup_epoch} but "
                                     f"{final_steps.get(optimizer)} after epoch {args.epochs}")
    return kills


def check_finished(run: Path, name: str, spec: TypeSpec, args) -> list[str]:
    """What is wrong with a run that should have finished: each epoch logged once, the backup at the last
    epoch, model.keras, every file sound, no temporary file, and generate.py writes files from it."""
    failures = []
    epochs = logged_epochs(run)
    if epochs != list(range(args.epochs)):
        failures.append(f"CSV log epochs {epochs}, expected 0..{args.epochs - 1} once each")
    if committed_epoch(run) != args.epochs:
        failures.append(f"backup ends at epoch {committed_epoch(run)}, not {args.epochs}")
    if not (run / "model.keras").is_file():
        failures.append("no model.keras after the run")
    failures += [f"at the end: {p}" for p in check_files(run)]
    if run_temporaries(run):
        failures.append(f"temporary files left: {[p.name for p in run_temporaries(run)]}")
    output = args.workdir / "generated" / name
    shutil.rmtree(output, ignore_errors=True)
    generate = ["nice", "-n", str(args.nice), sys.executable, "generate.py", "-n", name, "-w", str(run.parent),
                "--output_dir", str(output), *THREADS, *spec.generate]
    result = _run(generate, args.timeout, args.workdir / f"{name}.generate.err")
    if result.returncode != 0:
        failures.append(f"generate exited {result.returncode}: {_last_line(args.workdir / f'{name}.generate.err')}")
    elif not any(p.is_file() and p.stat().st_size for p in output.rglob("*")):
        failures.append("generate wrote no files")
    return failures


def training_command(model_type: str, spec: TypeSpec, data: Path, name: str, weights: Path, logs: Path,
                     args, *extra: str) -> list[str]:
    flags = [flag.replace("{data}", str(data)) for flag in spec.train]
    return ["nice", "-n", str(args.nice), sys.executable, "training.py", "-m", model_type, "-n", name,
            "-w", str(weights), "-t", str(logs), "-e", str(args.epochs), *QUIET, *THREADS, *flags, *extra]


# ---------------------------------------------------------------- concurrent starts
REFUSED = re.compile(r"^error: run '.*' is in use by pid \d+")


def concurrent_trial(model_type: str, spec: TypeSpec, data: Path, args) -> tuple[int, int, list[str]]:
    """`--starts` processes train one run name at the same moment, each with another seed: exactly one
    trains (exit 0), every other one exits 2 with one line naming it, and the run is the winner's, whole.
    Returns (processes that trained, processes refused with the line, failures)."""
    name = f"{model_type}-same"
    weights, logs = args.workdir / "weights", args.workdir / "logs"
    shutil.rmtree(weights / name, ignore_errors=True)
    shutil.rmtree(logs / name, ignore_errors=True)
    processes = []
    for seed in range(args.starts):
        command = training_command(model_type, spec, data, name, weights, logs, args)
        command[command.index("--seed") + 1] = str(100 + seed)
        processes.append(subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                          text=True))
    results = []
    for process in processes:
        try:
            _, err = process.communicate(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
        results.append((process.returncode, err))
    trained = [i for i, (code, _) in enumerate(results) if code == 0]
    refused = [i for i, (code, err) in enumerate(results)
               if code == 2 and len(err.strip().splitlines()) == 1 and REFUSED.match(err.strip())]
    failures = [f"start {i} exited {code}: {(err.strip().splitlines() or ['no output'])[-1][:200]}"
                for i, (code, err) in enumerate(results) if i not in trained and i not in refused]
    if len(trained) != 1:
        failures.append(f"{len(trained)} of {args.starts} starts trained, not 1")
    else:
        config = json.loads((weights / name / "config.json").read_text())
        if config["args"]["seed"] != 100 + trained[0]:
            failures.append(f"the run's config has seed {config['args']['seed']}, the winner's is {100 + trained[0]}")
        failures += check_finished(weights / name, name, spec, args)
    return len(trained), len(refused), failures


# ---------------------------------------------------------------- a full disk mid-run
def full_disk_trial(model_type: str, spec: TypeSpec, data: Path, args) -> tuple[bool, list[str]]:
    """Trains on a small file system (weights and logs), fills it once an epoch is committed: the process must
    exit 2 with one 'cannot write' line and the committed epoch intact; once the filler is gone, the resume
    must reach the last epoch. Returns (whether the disk filled before the run ended, failures)."""
    name = f"{model_type}-full"
    disk = args.workdir / "disk"
    disk.mkdir(exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", str(disk)], check=True)
    try:
        weights, logs = disk / "weights", disk / "logs"
        command = training_command(model_type, spec, data, name, weights, logs, args)
        stderr_path = args.workdir / f"{name}.train.err"
        with open(stderr_path, "w") as err:
            process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)
            deadline = time.monotonic() + args.timeout
            _wait(process, lambda: (committed_epoch(weights / name) or 0) >= 1, deadline)
            filler = disk / "filler"
            if process.poll() is None:
                _fill(filler)
            code = process.wait(timeout=args.timeout)
        if code == 0:
            filler.unlink(missing_ok=True)
            return False, []  # it finished before the disk filled: a missed try, not a failure
        failures = []
        lines = [line for line in stderr_path.read_text(errors="replace").splitlines() if line.startswith("error:")]
        if code != 2 or len(lines) != 1 or "cannot write" not in lines[0] or "Traceback" in stderr_path.read_text():
            failures.append(f"exited {code} with {lines or _last_line(stderr_path)!r}, not one 'cannot write' line")
        committed = committed_epoch(weights / name)
        if not committed:
            failures.append("no committed epoch was left")
        failures += [f"on the full disk: {p}" for p in check_files(weights / name)]
        filler.unlink(missing_ok=True)
        result = _run([*command, "--resume_auto"], args.timeout, args.workdir / f"{name}.resume.err")
        if result.returncode != 0:
            said = _last_line(args.workdir / f"{name}.resume.err")
            return True, failures + [f"resume exited {result.returncode}: {said}"]
        failures += check_resume_message(result.stderr, committed)
        return True, failures + check_finished(weights / name, name, spec, args)
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _fill(path: Path) -> None:
    """Writes zeros to `path` until its file system is full."""
    with open(path, "wb") as file:
        try:
            while True:
                file.write(b"\0" * (1 << 20))
                file.flush()
        except OSError:
            pass


def _run(command: list[str], timeout: float, stderr_path: Path) -> subprocess.CompletedProcess:
    try:
        result = subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                timeout=timeout)
    except subprocess.TimeoutExpired as error:
        result = subprocess.CompletedProcess(command, 124, stderr=f"timed out after {timeout} s\n"
                                             f"{(error.stderr or b'').decode(errors='replace')}")
    stderr_path.write_text(result.stderr)
    return result


def _last_line(path: Path) -> str:
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1][:200] if lines else "no output"


# ---------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--types", default="all", help=f"comma-separated model types (default all: {', '.join(TYPES)})")
    parser.add_argument("--kills", type=int, default=3, help="kills per model type (a run is killed once or twice)")
    parser.add_argument("--runs", type=int, default=None, help="at most this many runs per type (default: --kills)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill moments")
    parser.add_argument("--workdir", type=Path, default=None, help="runs, data and logs (default: a new temp folder)")
    parser.add_argument("--epochs", type=int, default=6, help="epochs of each run (kills land before the last 2)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds allowed to each subprocess")
    parser.add_argument("--nice", type=int, default=5, help="niceness of the training subprocesses")
    parser.add_argument("--modes", default="startup,step,step,write,write,final",
                        help="kill moments drawn from (repeat one to draw it more often): " + ", ".join(MODES))
    parser.add_argument("--scenarios", default="kill,concurrent,full_disk",
                        help="kill (SIGKILLs, above), concurrent (--starts processes, one run name), full_disk "
                             "(a tmpfs filled mid-run: needs root)")
    parser.add_argument("--starts", type=int, default=4, help="processes started at once in the concurrent scenario")
    args = parser.parse_args(argv)
    args.scenarios = {name.strip() for name in args.scenarios.split(",") if name.strip()}
    if not args.scenarios or args.scenarios - {"kill", "concurrent", "full_disk"} or args.starts < 2:
        parser.error("--scenarios takes kill, concurrent, full_disk; --starts must be >= 2")
    args.modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    if not args.modes or set(args.modes) - set(MODES):
        parser.error(f"--modes takes {', '.join(MODES)} (got {sorted(set(args.modes) - set(MODES))})")
    types = list(TYPES) if args.types == "all" else [t.strip().lower() for t in args.types.split(",")]
    unknown = [t for t in types if t not in TYPES]
    if unknown or args.kills < 1 or args.epochs < 4:
        parser.error(f"unknown types {unknown}" if unknown else "--kills must be >= 1 and --epochs >= 4")
    temporary_workdir = args.workdir is None
    args.workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="kill-resume-"))).resolve()
    args.workdir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    print(f"work folder {args.workdir}", flush=True)

    started, rows, concurrent_rows, disk_rows = time.monotonic(), [], [], []
    cannot_mount = _cannot_mount(args.workdir) if "full_disk" in args.scenarios else None
    for model_type in types:
        spec = TYPES[model_type]
        data = prepare_data(spec.data, args.workdir / "data" / spec.data)
        if data is None:
            rows.append((model_type, 0, 0, 0, [f"skipped: needs {SHARED_DATA}"]))
            print(f"{model_type}: skipped (no {SHARED_DATA})", flush=True)
            continue
        if "kill" in args.scenarios:
            rows.append(kill_trials(model_type, spec, data, args))
        if "concurrent" in args.scenarios:
            begin = time.monotonic()
            trained, refused, failures = concurrent_trial(model_type, spec, data, args)
            concurrent_rows.append((model_type, trained, refused, failures))
            print(f"{model_type}: {args.starts} starts at once, {trained} trained, {refused} refused with one line"
                  f"{': ' + ' / '.join(failures) if failures else ''} ({time.monotonic() - begin:.0f} s)", flush=True)
        if "full_disk" in args.scenarios:
            begin = time.monotonic()
            filled, failures = (False, [f"skipped: {cannot_mount}"]) if cannot_mount else full_disk_trial(
                model_type, spec, data, args)
            disk_rows.append((model_type, filled, failures))
            print(f"{model_type}: full disk {'mid-run' if filled else 'never reached (the run ended first)'}"
                  f"{': ' + ' / '.join(failures) if failures else ', one line, resumed to the end'}"
                  f" ({time.monotonic() - begin:.0f} s)", flush=True)

    failed = False
    if rows:
        print(f"\n{'type':<12} {'kills':>5} {'survived':>8} {'mid-write':>9}  failures")
        for model_type, tried, survived, mid_write, failures in rows:
            print(f"{model_type:<12} {tried:>5} {survived:>8} {mid_write:>9}  {failures[0] if failures else '-'}")
            for failure in failures[1:]:
                print(f"{'':<39}{failure}")
        total_tried, total_survived = sum(r[1] for r in rows), sum(r[2] for r in rows)
        print(f"{total_survived}/{total_tried} kills survived; seed {args.seed}, {args.epochs} epochs a run")
        failed |= total_survived != total_tried or any(r[4] for r in rows)
    if concurrent_rows:
        good = sum(1 for _, trained, refused, failures in concurrent_rows
                   if trained == 1 and refused == args.starts - 1 and not failures)
        print(f"\nconcurrent starts: {good}/{len(concurrent_rows)} types with exactly 1 of {args.starts} trained and "
              f"{args.starts - 1} refused with one line, the run whole")
        for model_type, trained, refused, failures in concurrent_rows:
            for failure in failures:
                print(f"  {model_type}: {failure}")
        failed |= good != len(concurrent_rows)
    if disk_rows:
        filled = [row for row in disk_rows if row[1]]
        good = sum(1 for _, _, failures in filled if not failures)
        print(f"\nfull disk mid-run: {good}/{len(filled)} runs stopped with one line and resumed to epoch {args.epochs}"
              f" ({len(disk_rows) - len(filled)} ended before the disk filled or were skipped)")
        for model_type, _, failures in disk_rows:
            for failure in failures:
                print(f"  {model_type}: {failure}")
        failed |= any(failures and not failures[0].startswith("skipped") for _, _, failures in disk_rows)
    print(f"\nwall time {time.monotonic() - started:.0f} s")
    if not failed and temporary_workdir:
        shutil.rmtree(args.workdir, ignore_errors=True)
    elif failed:
        print(f"runs and logs kept in {args.workdir}", flush=True)
    return 1 if failed else 0


def kill_trials(model_type: str, spec: TypeSpec, data: Path, args) -> tuple:
    """The kill scenario for one type: (type, kills tried, survived, mid-write, failures)."""
    rng = random.Random(f"{args.seed}-{model_type}")
    tried = survived = mid_write = 0
    failures = []
    for index in range(args.runs or args.kills):
        if tried >= args.kills:
            break
        begin = time.monotonic()
        kills = trial(model_type, spec, data, index, rng, args)
        for number, kill in enumerate(kills):
            tried += 1
            survived += not kill.failures
            mid_write += kill.mid_write
            failures += [f"run {index} kill {number + 1} ({kill.mode}): {failure}" for failure in kill.failures]
        print(f"{model_type} run {index}: " + ("no kill (the run finished first)" if not kills else "; ".join(
            f"kill '{k.mode}'{' mid-write' if k.mid_write else ''} at backup epoch {k.backup_epoch}: "
            f"{'ok' if not k.failures else ' / '.join(k.failures)}" for k in kills))
            + f" ({time.monotonic() - begin:.0f} s)", flush=True)
    return model_type, tried, survived, mid_write, failures


def _cannot_mount(workdir: Path) -> str | None:
    """Why a tmpfs cannot be mounted here (not root, no mount(8), refused), or None."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return "mounting a tmpfs needs root and mount(8)"
    probe = workdir / "mount-probe"
    probe.mkdir(exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(probe)], capture_output=True,
                            text=True)
    if result.returncode != 0:
        return f"cannot mount a tmpfs: {result.stderr.strip()[:200]}"
    subprocess.run(["umount", str(probe)], check=False)
    return None

if __name__ == "__main__":
    sys.exit(main())
