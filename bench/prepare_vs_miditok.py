"""Data preparation speed: the zoo's `prepare` / event encoding against MidiTok's REMI, on the same MIDI files.

    pip install -r bench/requirements.txt                        # miditok==3.1.0 (symusic reads the MIDI)
    python bench/prepare_vs_miditok.py                           # the 1,034 Nottingham tunes, ~2.5 min on 2 cores
    python bench/prepare_vs_miditok.py --limit 200 --rounds 1 --repeats 1   # a quick look
    python bench/prepare_vs_miditok.py --files my_midis/ a.mid   # other files (folders are searched recursively)

Measurements, each in its own subprocess (`harness.measure`), on one list of files (by default the
top-level `*.mid` of ../shared/data/nottingham/MIDI, not its melody/ and chords/ splits):

- `zoo_prepare_w1`, `zoo_prepare_w2`: `python -m zoo prepare --encoding event --workers 1|2` on a folder
  of links to the files, timed from outside: interpreter start-up, reading, encoding, the split, the
  pickles and the manifest. CPU s is that of the whole process tree (the readers included).
- `zoo_encode_p1`, `zoo_encode_p2`: what a prepare reader does for each file (`read_pieces`: mido ->
  `Score`, then `EventEncoding.encode`), in one process after the imports, or in a
  `multiprocessing.Pool` of 2 (forked; pool start-up inside the timed repeat). Together with the
  prepare rows this separates the fixed cost of a run from the cost per file.
- `miditok_p1`, `miditok_p2`: `miditok.REMI()` (default `TokenizerConfig`) on each file:
  `symusic.Score(path)`, then `.encode(score)` (what `.encode(path)` does, timed in two parts), in one
  process or in a `Pool` of 2 in the same way.

Each in-process measurement warms up on the first files (not timed) and then times `--repeats` passes
over all files. Every measurement runs `--rounds` times, in order then in reverse order (a load that
drifts favours no one); the median over every pass is reported. Prints one line per measurement run,
then a table: files/s, files/s per worker process, files per CPU second (every process counted),
wall time, CPU s of a pass, mean tokens per file, total tokens, output; then the prepare rows minus
the in-process encode (the fixed cost of a prepare run), and for the one-process rows the time a
file takes to read (mido -> `Score`; `symusic.Score`) and to tokenize, and the import times.

The two sides tokenize differently: the zoo's event encoding is one stream per file (every track
merged, note-on / note-off / time-shift / velocity on a 10 ms grid), REMI one sequence per track
(bar / position / pitch / velocity / duration). This is a throughput comparison of two different
tokenizations of the same files, not a like-for-like one. Nothing is asserted about timings.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from harness import REPO, describe, emit, measure

DEFAULT_SOURCE = REPO.parent / "shared" / "data" / "nottingham" / "MIDI"
MIDI_SUFFIXES = (".mid", ".midi")
WARMUP_FILES = 20
POOL_CHUNK = 16  # files per task in the Pool rows (the zoo's reader pool sends up to 16 at a time too)
MEASUREMENTS = {
    "miditok_p1": "symusic.Score(path) + miditok.REMI().encode in one process",
    "zoo_encode_p1": "zoo read_pieces + EventEncoding.encode in one process",
    "zoo_prepare_w1": "python -m zoo prepare --encoding event --workers 1 (whole command)",
    "zoo_prepare_w2": "python -m zoo prepare --encoding event --workers 2 (whole command)",
    "zoo_encode_p2": "zoo read_pieces + EventEncoding.encode, multiprocessing Pool(2)",
    "miditok_p2": "symusic.Score(path) + miditok.REMI().encode, multiprocessing Pool(2)",
}


# ------------------------------------------------------------------------------------------ children

_tokenizer = None  # per process: the zoo's encoding or MidiTok's tokenizer
_phases = {"read": 0.0, "encode": 0.0}  # seconds this process spent reading files / tokenizing scores


def _init_side(side: str) -> None:
    global _tokenizer
    if side == "zoo":
        from zoo.encodings import get_encoding_class

        _tokenizer = get_encoding_class("event")()
    else:
        import miditok

        _tokenizer = miditok.REMI()


def _zoo_file(path: str) -> tuple[int, str]:
    """(tokens, '' or why not) for one file, as a prepare reader encodes it (`_encode_file`)."""
    from zoo.data.music_files import read_pieces
    from zoo.encodings.base import piece_length
    from zoo.errors import ZooError

    tokens, reasons = 0, []
    start = time.perf_counter()
    pieces = read_pieces(path)  # mido -> Score (+ the piece-length checks)
    middle = time.perf_counter()
    for _, score, reason in pieces:
        if score is None:
            reasons.append(reason)
            continue
        try:
            tokens += piece_length(_tokenizer.encode(score))
        except ZooError as error:
            reasons.append(str(error))
    _phases["read"] += middle - start
    _phases["encode"] += time.perf_counter() - middle
    return tokens, "; ".join(reasons)


def _miditok_file(path: str) -> tuple[int, str]:
    """(tokens, '' or why not) for one file: REMI gives one TokSequence per track (default config).
    `encode(path)` would do the same (it reads the file with `symusic.Score(path)` first)."""
    import symusic

    try:
        start = time.perf_counter()
        score = symusic.Score(path)
        middle = time.perf_counter()
        sequences = _tokenizer.encode(score)
    except Exception as error:  # noqa: BLE001 - a refused file is reported, not fatal
        return 0, f"{type(error).__name__}: {error}"
    _phases["read"] += middle - start
    _phases["encode"] += time.perf_counter() - middle
    if not isinstance(sequences, list):
        sequences = [sequences]
    return sum(len(sequence.ids) for sequence in sequences), ""


def run_encode(side: str, processes: int, files: list[str], repeats: int) -> dict:
    """Imports, warms up, then times `repeats` passes of one side's per-file work over `files`."""
    import multiprocessing

    start = time.perf_counter()
    _init_side(side)  # the imports (and, for MidiTok, building the vocabulary)
    import_s = time.perf_counter() - start
    task = _zoo_file if side == "zoo" else _miditok_file
    start = time.perf_counter()
    for path in files[:WARMUP_FILES]:
        task(path)
    warmup_s = time.perf_counter() - start
    times, cpu, answers, phases = [], [], [], []
    for _ in range(repeats):
        _phases.update(read=0.0, encode=0.0)
        cpu_before, start = _cpu_s(), time.perf_counter()
        if processes == 1:
            answers = [task(path) for path in files]
        else:
            pool = multiprocessing.get_context("fork").Pool(processes, _init_side, (side,))
            answers = pool.map(task, files, chunksize=POOL_CHUNK)
            pool.close()
            pool.join()  # reaped: the workers' CPU time is in RUSAGE_CHILDREN now
        times.append(time.perf_counter() - start)
        cpu.append(_cpu_s() - cpu_before)
        phases.append(dict(_phases))  # zeros with a Pool: its workers count their own
    if side == "zoo":
        framework = f"zoo event encoding (mido {version('mido')})"
    else:
        framework = f"miditok {version('miditok')} REMI, vocab {len(_tokenizer)} (symusic {version('symusic')})"
    refused = [(Path(path).name, reason) for path, (_, reason) in zip(files, answers) if reason]
    return {"times": times, "warmup_s": warmup_s, "import_s": import_s, "framework": framework,
            "cpu_times": cpu, "tokens": sum(tokens for tokens, _ in answers),
            "encoded_files": sum(1 for tokens, _ in answers if tokens), "refused": refused[:5],
            "refused_count": len(refused), "phases": phases if processes == 1 else []}


def _cpu_s() -> float:
    """CPU seconds of this process and its reaped descendants (a Pool's workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _become_subreaper() -> bool:
    """Makes orphaned descendants (prepare's fork server and its readers) children of this process,
    so that their CPU time reaches RUSAGE_CHILDREN once reaped. Linux only."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def _reap_orphans(deadline_s: float = 10.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.02)


def run_prepare(workers: int, folder: str, repeats: int, count: int) -> dict:
    """Times `python -m zoo prepare` over `folder` (links to the files), `repeats` times, into fresh folders."""
    whole_tree = _become_subreaper()
    times, cpu = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="prepare-vs-miditok-") as out:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "zoo", "prepare", "--input", folder, "--encoding", "event",
                                   "-o", out, "--workers", str(workers)], cwd=REPO, capture_output=True, text=True)
            times.append(time.perf_counter() - start)
            if proc.returncode != 0:
                sys.exit(f"prepare failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
            _reap_orphans()
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            manifest = json.loads((Path(out) / "manifest.json").read_text())
            output_kb = sum(p.stat().st_size for p in Path(out).iterdir()) / 1024
    splits = manifest["splits"].values()
    skipped = manifest["skipped"]
    return {"times": times, "framework": f"python -m zoo prepare --workers {workers}",
            "cpu_times": cpu, "cpu_whole_tree": whole_tree,
            "tokens": sum(s["tokens"] for s in splits), "encoded_files": sum(s["pieces"] for s in splits),
            "output_kb": output_kb, "refused": [(Path(s["file"]).name, s["reason"]) for s in skipped[:5]],
            "refused_count": len(skipped), "files_found": manifest["files_found"], "count": count}


def child(name: str, args) -> dict:
    files = json.loads(Path(args.file_list).read_text())
    if name.startswith("zoo_prepare_w"):
        return run_prepare(int(name[-1]), str(Path(args.file_list).parent / "links"), args.repeats, len(files))
    side, processes = name.split("_")[0], int(name[-1])
    return run_encode("zoo" if side == "zoo" else "miditok", processes, files, args.repeats)


# ------------------------------------------------------------------------------------------ driver


def midi_files(items: list[str]) -> list[Path]:
    """Files and folders (recursively) -> sorted MIDI paths; a default folder only at its top level."""
    found: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            pattern = "*" if item == str(DEFAULT_SOURCE) else "**/*"
            found.extend(sorted(p for p in path.glob(pattern) if p.is_file() and p.suffix.lower() in MIDI_SUFFIXES))
        elif path.is_file():
            found.append(path)
        else:
            print(f"no such file or folder: {path}", file=sys.stderr)
            sys.exit(2)
    return found


def processor() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown processor"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", nargs="+", default=None,
                        help=f"MIDI files or folders (default: the *.mid directly under {DEFAULT_SOURCE})")
    parser.add_argument("--limit", type=int, default=0, help="only the first N files (sorted by path; 0: all)")
    parser.add_argument("--repeats", type=int, default=2, help="timed passes per measurement process")
    parser.add_argument("--rounds", type=int, default=2,
                        help="rounds over the measurements, forward then backward (default 2); the median of "
                             "every pass of every round is reported")
    parser.add_argument("--only", default=",".join(MEASUREMENTS),
                        help="comma-separated measurements (default: all): " + ", ".join(MEASUREMENTS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--file-list", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(REPO))
        emit(child(args.child, args))
        return

    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in MEASUREMENTS]
    if unknown:
        parser.error(f"unknown measurement(s) {', '.join(unknown)}")
    if args.files is None and not DEFAULT_SOURCE.is_dir():
        print(f"no MIDI files: {DEFAULT_SOURCE} is missing (no ../shared here); pass --files FOLDER_OR_FILES",
              file=sys.stderr)
        sys.exit(2)
    files = midi_files(args.files or [str(DEFAULT_SOURCE)])
    if args.limit:
        files = files[:args.limit]
    if not files:
        print("no MIDI files (.mid, .midi) found in --files", file=sys.stderr)
        sys.exit(2)

    cores = sorted(os.sched_getaffinity(0))
    print(f"{len(files)} MIDI files ({sum(p.stat().st_size for p in files) / 1024:.0f} KB) from "
          f"{args.files or DEFAULT_SOURCE}; {len(cores)} usable cores ({processor()}); "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"{args.rounds} rounds x {args.repeats} repeats", flush=True)
    print("NOTE: the zoo's event encoding (one stream per file, tracks merged) and MidiTok's REMI (one sequence "
          "per track) are different tokenizations: this compares throughput on the same files, not like-for-like.")
    for name in names:
        print(f"  {name}: {MEASUREMENTS[name]}")

    with tempfile.TemporaryDirectory(prefix="prepare-vs-miditok-") as tmp:
        links = Path(tmp) / "links"  # the same files for prepare (a folder) and the others (a list)
        links.mkdir()
        paths = []
        for index, path in enumerate(files):
            link = links / f"{index:05d}_{path.name}"
            link.symlink_to(path.resolve())
            paths.append(str(link))
        file_list = Path(tmp) / "files.json"
        file_list.write_text(json.dumps(paths))
        argv = ["--file-list", str(file_list), "--repeats", str(args.repeats)]
        runs: dict[str, list[dict]] = {name: [] for name in names}
        order = [name for round_ in range(args.rounds) for name in (names if round_ % 2 == 0 else names[::-1])]
        for name in order:  # forward, then backward: a machine whose load drifts favours no one
            result = measure(__file__, name, argv, lambda r: len(paths))
            details = ""
            if "error" not in result:
                cpu = statistics.median(result["cpu_times"])
                per_file = result["tokens"] / max(result["encoded_files"], 1)
                details = (f"{len(paths) / cpu:.1f} files per CPU s, {per_file:.0f} tokens/file, "
                           f"{result['refused_count']} refused {result['refused']}")
                if "import_s" in result:
                    details += f", imports {result['import_s']:.2f}s"
                if "output_kb" in result:
                    details += f", output {result['output_kb']:.0f} KB"
            print(describe(result, "files/s", details), flush=True)
            runs[name].append(result)
    report(runs, len(paths))


def merged(name: str, results: list[dict]) -> dict:
    """One measurement's runs as one: every pass's rate, time and CPU time together; None if all failed."""
    ok = [r for r in results if "error" not in r]
    if not ok:
        return {"name": name, "error": results[0]["error"] if results else "not run"}
    out = dict(ok[-1])
    for key in ("rates", "times", "cpu_times", "phases"):
        out[key] = [value for r in ok for value in r.get(key, [])]
    out["rate"] = statistics.median(out["rates"])
    out["cpu_s"] = statistics.median(out["cpu_times"])
    out["wall_s"] = statistics.median(r["wall_s"] for r in ok)
    out["imports"] = [r["import_s"] for r in ok if "import_s" in r]
    return out


def report(runs: dict[str, list[dict]], count: int) -> None:
    """The table: each measurement's median over every pass of every round."""
    print()
    print(f"{'measurement':15s} {'procs':>5s} {'files/s':>8s} {'per worker':>10s} {'files/CPU s':>11s} {'wall s':>7s} "
          f"{'CPU s':>6s} {'tokens/file':>11s} {'tokens':>8s}  output")
    results = [merged(name, results) for name, results in runs.items()]
    for result in results:
        name = result["name"]
        if "error" in result:
            print(f"{name:15s} failed")
            continue
        procs = int(name[-1])
        output = f"{result['output_kb']:.0f} KB pickles" if "output_kb" in result else "in memory"
        wall = statistics.median(result["times"]) if name.startswith("zoo_prepare") else result["wall_s"]
        print(f"{name:15s} {procs:5d} {result['rate']:8.1f} {result['rate'] / procs:10.1f} "
              f"{count / result['cpu_s']:11.1f} {wall:7.2f} {result['cpu_s']:6.2f} "
              f"{result['tokens'] / max(result['encoded_files'], 1):11.0f} {result['tokens']:8d}  {output}")
    print("files/s = files / median pass (every pass of every round); prepare rows: the whole command, start-up "
          "included. files/CPU s = files / median CPU s of a pass, every process of it counted (less sensitive "
          "to other load than files/s). wall s: prepare rows one command, other rows the median measuring process "
          "(imports, warm-up, every repeat). tokens: zoo = event tokens of the file's single stream, REMI = summed "
          "over its track sequences (different tokenizations; not like-for-like).")
    ok = {r["name"]: r for r in results if "error" not in r}
    encode = ok.get("zoo_encode_p1")
    for workers in (1, 2):
        prep = ok.get(f"zoo_prepare_w{workers}")
        if prep and encode:
            print(f"zoo_prepare_w{workers} - zoo_encode_p1: {prep['cpu_s'] - encode['cpu_s']:+.2f} CPU s, "
                  f"{statistics.median(prep['times']) - count / encode['rate'] / workers:+.2f} s wall"
                  f"{' (encode time / 2)' if workers == 2 else ''}: start-up, readers, split, pickles")
    for name in ("zoo_encode_p1", "miditok_p1"):
        if name in ok:
            result = ok[name]
            read = statistics.median(p["read"] for p in result["phases"]) * 1000 / count
            encode = statistics.median(p["encode"] for p in result["phases"]) * 1000 / count
            print(f"{name}: {read:.2f} ms a file reading it into a score, {encode:.2f} ms tokenizing it "
                  f"(median pass); imports {' / '.join(f'{t:.2f}' for t in result['imports'])} s (each run)")
    if "zoo_encode_p1" in ok and "miditok_p1" in ok:
        zoo, remi = ok["zoo_encode_p1"], ok["miditok_p1"]
        print(f"zoo encode / REMI, one process: {zoo['rate'] / remi['rate']:.2f}x files/s, "
              f"{remi['cpu_s'] / zoo['cpu_s']:.2f}x files per CPU s")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

if __name__ == "__main__":
    main()
