"""Cross-modal transcription on held-out notes: audio -> label transfer beside the PCA baseline, over seeds.

    python bench/crossmodal_quality.py                          # 7 cases x seeds 0 1 2, --pitch_shift 2
    python bench/crossmodal_quality.py --cases fl mb --seeds 0 --pitch_shift 0
    python bench/crossmodal_quality.py --tag c2 -- --cross_2 10 # extra training flags after --
    python bench/crossmodal_quality.py --report_only            # tabulate the runs already there
    python bench/crossmodal_quality.py --cases mc --epochs 450 --tag e450 --finetune 100 1e-4

Each (case, seed) is one `training.py -m crossmodal` run at the small sizes (500 x 2 signal, 200 x 2
symbol, 32-d latent, 150 epochs) followed by `python -m zoo evaluate`, which trains the PCA + MLP
baseline on the same training notes (with the run's transpositions) and scores both on the test
notes, none of which (instrument, pitch, dynamics) was trained on. Runs are named
CASE_psK[TAG]_sSEED under weights/; one that exists is reused (its flags must match), one that
has no row in its `evaluation.csv` is evaluated. Two runs go side by side (`--jobs`), one thread each.
`--finetune EPOCHS LR` then trains EPOCHS more epochs at learning rate LR from each run's best
(lowest val_loss) checkpoint (`--load RUN --learning_rate LR`, a fresh optimizer: the original's own
way to continue), as run RUN_ftEPOCHSlrLR, and evaluates that too.

Prints, per case, the classification ratio (accuracy) of transfer and baseline for octave, pitch
class and dynamics: the mean over seeds, each seed's value, and transfer minus baseline. Nothing
is asserted; test sets are 15-48 notes per instrument, so one note moves a ratio by 2-7 points.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import csv
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from zoo.families.crossmodal.note_labels import INSTRUMENTS, LABELS  # noqa: E402  (numpy only: no TensorFlow here)

CASES = {  # name: (instruments, random mode)
    "fl": (["Flute"], "constant"),
    "pn": (["Piano"], "constant"),
    "as": (["Alto-Sax"], "constant"),
    "tr": (["Trumpet-C"], "constant"),
    "vn": (["Violin"], "constant"),
    "mc": (["Piano", "Alto-Sax"], "constant"),
    "mb": (["Piano", "Alto-Sax"], "bernoulli"),
}
SMALL = {"hidden_dims_1": 500, "hidden_dims_2": 200}  # the CPU sizes; the original's are 5000 and 800
PREPARE = ["-m", "zoo", "prepare", "--encoding", "notes", "--instruments", *INSTRUMENTS]


def training_argv(case: str, seed: int, args, stage: int) -> list[str]:
    """Stage 0 trains from scratch for --epochs; stage 1 continues stage 0's run (--finetune)."""
    instruments, mode = CASES[case]
    if stage == 0:
        length = ["-e", str(args.epochs)]
    else:
        epochs, rate = args.finetune
        length = ["-e", str(epochs), "--load", run_name(case, seed, args, 0), "--learning_rate", str(rate)]
    return ["--instruments", *instruments, "--random_mode", mode, "--seed", str(seed), "--pitch_shift",
            str(args.pitch_shift), *length,
            *(item for flag, width in SMALL.items() for item in (f"--{flag}", str(width))), *args.extra]


def stages(args) -> list[int]:
    return [0, 1] if args.finetune else [0]


def run_name(case: str, seed: int, args, stage: int) -> str:
    name = f"{case}_ps{args.pitch_shift}{args.tag}_s{seed}"
    return f"{name}_ft{args.finetune[0]}lr{args.finetune[1]:g}" if stage else name


def check_existing(run: Path, case: str, seed: int, args, stage: int) -> None:
    """A run that exists must have been trained with the flags this script would give it."""
    saved = json.loads((run / "config.json").read_text())["args"]
    instruments, mode = CASES[case]
    expected = {"instruments": instruments, "random_mode": mode, "seed": seed, "pitch_shift": args.pitch_shift,
                "epochs": args.epochs, **{flag: [width] for flag, width in SMALL.items()}}
    if stage:
        epochs, rate = args.finetune
        expected.update(epochs=epochs, load=run_name(case, seed, args, 0), learning_rate=rate)
    wrong = {key: saved.get(key) for key, value in expected.items() if saved.get(key) != value}
    if wrong:
        sys.exit(f"error: run {run.name} exists with other flags ({wrong}): pick another --tag or remove it")


def train_and_evaluate(case: str, seed: int, args) -> str:
    """Trains and evaluates one run (and its fine-tuning) unless they are there; returns the last name."""
    logs = REPO / "logs" / "crossmodal_quality"
    logs.mkdir(parents=True, exist_ok=True)
    for stage in stages(args):
        name = run_name(case, seed, args, stage)
        run = REPO / "weights" / name
        if not (run / "model.keras").is_file():
            with open(logs / f"{name}.train.log", "w") as log:
                subprocess.run([sys.executable, "training.py", "-m", "crossmodal", "-n", name, "-p", str(args.data),
                                "--plot_epochs", "0", "--save_epochs", "0", "--sample_every", "0",
                                "--intra_op_threads", "1", "--inter_op_threads", "1",
                                *training_argv(case, seed, args, stage)],
                               cwd=REPO, stdout=log, stderr=subprocess.STDOUT, check=True)
        if last_evaluation(run) is None:
            with open(logs / f"{name}.evaluate.log", "w") as log:
                subprocess.run([sys.executable, "-m", "zoo", "evaluate", "-n", name], cwd=REPO, stdout=log,
                               stderr=subprocess.STDOUT, check=True)
    return name


def last_evaluation(run: Path) -> dict[str, str] | None:
    """The last row `python -m zoo evaluate` appended to the run's evaluation.csv, or None."""
    if not (run / "evaluation.csv").is_file():
        return None
    with open(run / "evaluation.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    return rows[-1] if rows else None


def training_length(run: Path) -> str:
    """'; 450 epochs', or '; 450 epochs, then 100 at lr 0.0001' for a fine-tuned run, from the runs' configs."""
    saved = json.loads((run / "config.json").read_text())["args"]
    if not saved.get("load"):
        return f"; {saved['epochs']} epochs"
    return f"{training_length(run.parent / saved['load'])}, then {saved['epochs']} at lr {saved['learning_rate']:g}"


def report(args) -> None:
    fmt = " / ".join
    print(f"\nclassification ratio, octave / pitch class / dynamics (--pitch_shift {args.pitch_shift}"
          f"{' ' + ' '.join(args.extra) if args.extra else ''}); per seed in brackets\n")
    print("| case (test frames) | transfer | PCA baseline | transfer - baseline |")
    print("|---|---|---|---|")
    for case, stage in ((case, stage) for case in args.cases for stage in stages(args)):
        runs = [REPO / "weights" / run_name(case, seed, args, stage) for seed in args.seeds]
        evaluations = {run: last_evaluation(run) for run in runs}
        runs = [run for run in runs if evaluations[run] is not None]
        if not runs:
            continue
        values = [{key: float(value) for key, value in evaluations[run].items() if "_classif_" in key} for run in runs]
        cells = {}
        for direction in ("transfer", "baseline"):
            means = [sum(v[f"{direction}_classif_{label}"] for v in values) / len(values) for label in LABELS]
            seeds = [fmt(f"{v[f'{direction}_classif_{label}']:.3f}" for label in LABELS) for v in values]
            cells[direction] = f"{fmt(f'{m:.3f}' for m in means)} [{'; '.join(seeds)}]"
            cells[direction + "_mean"] = means
        gap = fmt(f"{t - b:+.3f}" for t, b in zip(cells["transfer_mean"], cells["baseline_mean"]))
        instruments, mode = CASES[case]
        what = " + ".join(instruments) + (f", {mode}" if len(instruments) > 1 else "")
        print(f"| {what} ({evaluations[runs[0]]['test_frames']}){training_length(runs[0])}; {len(runs)} seed(s) | "
              f"{cells['transfer']} | {cells['baseline']} | {gap} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES),
                        help="fl pn as tr vn: one instrument; mc / mb: Piano + Alto-Sax, constant / bernoulli")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--pitch_shift", type=int, default=2, help="training.py --pitch_shift")
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--data", type=Path, default=Path("data/xm_notes"),
                        help="prepared notes data (built with the five instruments if missing)")
    parser.add_argument("--tag", default="", help="added to the run names, to tell apart runs with extra flags")
    parser.add_argument("--jobs", type=int, default=2, help="runs side by side")
    parser.add_argument("--finetune", nargs=2, metavar=("EPOCHS", "LR"), default=None,
                        help="then train EPOCHS more epochs at learning rate LR from each run's best checkpoint")
    parser.add_argument("--report_only", action="store_true", help="train nothing: tabulate the runs there")
    parser.add_argument("extra", nargs="*", help="extra training.py flags, after --")
    args = parser.parse_args()
    if args.extra and not args.tag:
        parser.error("extra training flags need a --tag, so their runs are not taken for the plain ones")
    if args.finetune:
        try:
            args.finetune = (int(args.finetune[0]), float(args.finetune[1]))
        except ValueError:
            parser.error(f"--finetune takes EPOCHS (a whole number) and LR (a number), got {' '.join(args.finetune)}")
        if args.finetune[0] < 1 or not args.finetune[1] > 0:
            parser.error(f"--finetune needs EPOCHS >= 1 and LR > 0, got {args.finetune[0]} {args.finetune[1]}")
        if {"-e", "--epochs", "--learning_rate", "--load"} & {flag.split("=")[0] for flag in args.extra}:
            parser.error("with --finetune the bench sets -e, --learning_rate and --load itself")
    if not args.report_only:
        if not (REPO / args.data / "train.pkl").is_file():
            subprocess.run([sys.executable, *PREPARE, "-o", str(args.data)], cwd=REPO, check=True)
        jobs = [(case, seed) for seed in args.seeds for case in args.cases]
        for case, seed, stage in ((case, seed, stage) for case, seed in jobs for stage in stages(args)):
            run = REPO / "weights" / run_name(case, seed, args, stage)
            if (run / "config.json").is_file():
                check_existing(run, case, seed, args, stage)
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            futures = {pool.submit(train_and_evaluate, case, seed, args): (case, seed) for case, seed in jobs}
            for future in concurrent.futures.as_completed(futures):
                try:
                    print(f"done: {future.result()}", file=sys.stderr, flush=True)
                except subprocess.CalledProcessError as error:
                    case, seed = futures[future]
                    print(f"FAILED: {case} seed {seed} ({error}); the logs are in logs/crossmodal_quality/",
                          file=sys.stderr, flush=True)
    report(args)


if __name__ == "__main__":
    main()
