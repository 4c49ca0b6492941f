"""Peak memory and wall time of `python -m zoo prepare` as the number of input files grows.

    python bench/prepare_memory.py                                  # 500, 1000, 2000, 4000 files
    python bench/prepare_memory.py --counts 250,500 --compare_at 500 --encoding numeric

Builds a folder of N MIDI files from ../shared/data/nottingham/MIDI (or `--source`): the real files
first, then copies transposed up 1, 2, ... semitones once they run out, each under a name of its own
(so each is a piece of its own for the split). Each N is a folder of links to the first N files.
Every prepare runs in a child process of its own, which reports its own peak RSS and CPU time
(getrusage RUSAGE_SELF) as it exits, while this script polls /proc for its descendants (the reader
processes and their fork server). Prints one row per N: files, pieces, peak RSS of the prepare
process, largest peak RSS of a reader, peak memory of the whole process tree (sum of PSS), output
pickles' size, wall time, and the growth of the prepare process's peak per file between rows next
to the output's size per file (streaming: the two are of one order). Then the wall time of
`--workers 1` against `--workers 2` (or `--workers`) on `--compare_at` files, with the CPU seconds
spent by the prepare process and by its readers (how much of the work runs in parallel).
Nothing is asserted; a loaded machine stretches the wall times.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO.parent / "shared" / "data" / "nottingham" / "MIDI"

# Runs `python -m zoo prepare ARGS` and writes its own peak RSS and CPU seconds to REPORT at exit;
# MODULE, when not empty, is a prepare.py file that stands in for zoo/data/prepare.py.
_CHILD = """
import importlib.util, json, resource, sys
report, module, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
if module:
    spec = importlib.util.spec_from_file_location("zoo.data.prepare", module)
    sys.modules["zoo.data.prepare"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sys.modules["zoo.data.prepare"])
from zoo.cli import run_cli, zoo_main
code = run_cli(zoo_main, argv)
own = resource.getrusage(resource.RUSAGE_SELF)
with open(report, "w") as file:
    json.dump({"self_kb": own.ru_maxrss, "self_cpu": own.ru_utime + own.ru_stime}, file)
sys.exit(code)
"""


def build_corpus(source: Path, count: int, folder: Path) -> list[Path]:
    """`count` MIDI files under `folder`: the files of `source`, then transposed copies."""
    import mido

    originals = sorted(p for p in source.rglob("*") if p.suffix.lower() in (".mid", ".midi"))
    if not originals:
        sys.exit(f"no MIDI files under {source}")
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for index in range(count):
        original = originals[index % len(originals)]
        shift = index // len(originals)
        target = folder / f"{index:05d}_{original.stem}_up{shift}.mid"
        if shift == 0:
            target.symlink_to(original.resolve())
        else:
            midi = mido.MidiFile(original)
            for track in midi.tracks:
                for i, message in enumerate(track):
                    if message.type in ("note_on", "note_off") and message.channel != 9:
                        track[i] = message.copy(note=min(127, message.note + shift))
            midi.save(target)
        made.append(target)
    return made


class TreeWatch(threading.Thread):
    """Polls /proc for the descendants of `root` (the reader processes: with a fork server they are
    not children of the prepare process, so its RUSAGE_CHILDREN misses them): each one's peak RSS
    (VmHWM) and CPU seconds as last seen, and the largest memory of the whole tree at one poll, as the
    sum of each process's PSS (a page shared by k processes counts 1/k in each)."""

    def __init__(self, root: int, interval: float = 0.1):
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.peak_kb: dict[int, int] = {}
        self.cpu_s: dict[int, float] = {}
        self.tree_peak_kb = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.poll()
            self.done.wait(self.interval)

    def poll(self) -> None:
        children: dict[int, list[int]] = {}
        stats: dict[int, list[str]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    fields = Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()
                except OSError:  # gone meanwhile
                    continue
                stats[int(entry)] = fields
                children.setdefault(int(fields[1]), []).append(int(entry))
        tree, total_kb = [self.root], 0
        for pid in tree:
            tree.extend(children.get(pid, []))
        for pid in tree:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            try:  # proportional set size: a page shared by k processes counts 1/k in each
                rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            except OSError:
                rollup = ""
            values = {line.split(":")[0]: line.split()[1] for line in (status + rollup).splitlines()
                      if line.startswith(("VmRSS:", "VmHWM:", "Pss:"))}
            total_kb += int(values.get("Pss", values.get("VmRSS", 0)))
            if pid != self.root and pid in stats:
                self.peak_kb[pid] = max(self.peak_kb.get(pid, 0), int(values.get("VmHWM", 0)))
                self.cpu_s[pid] = (int(stats[pid][11]) + int(stats[pid][12])) / os.sysconf("SC_CLK_TCK")
        self.tree_peak_kb = max(self.tree_peak_kb, total_kb)


def run_prepare(input_dir: Path, output_dir: Path, encoding: str, workers: int, timeout: float,
                module: Path | None = None) -> dict:
    """One `python -m zoo prepare` in a child process: peak RSS (its own, its largest reader's, the
    whole tree's), CPU seconds, wall time and output size."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as report:
        report_path = report.name
    command = [sys.executable, "-c", _CHILD, report_path, str(module or ""), "prepare", "--input", str(input_dir),
               "-o", str(output_dir), "--encoding", encoding, "--workers", str(workers)]
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watch = TreeWatch(process.pid)
    watch.start()
    try:
        _, stderr = process.communicate(timeout=timeout)
    finally:
        process.kill()
        watch.done.set()
        watch.join()
    wall = time.perf_counter() - start
    if process.returncode != 0:
        sys.exit(f"prepare failed ({process.returncode}): {stderr.strip().splitlines()[-1:]}")
    own = json.loads(Path(report_path).read_text())
    os.unlink(report_path)
    manifest = json.loads((output_dir / "manifest.json").read_text())
    return {
        "parent_mb": own["self_kb"] / 1024,
        "reader_mb": max(watch.peak_kb.values(), default=0) / 1024,
        "tree_mb": watch.tree_peak_kb / 1024,
        "output_mb": sum((output_dir / f"{s}.pkl").stat().st_size for s in ("train", "valid", "test")) / 2**20,
        "wall_s": wall,
        "parent_cpu_s": own["self_cpu"],
        "readers_cpu_s": sum(watch.cpu_s.values()),
        "pieces": sum(info["pieces"] for info in manifest["splits"].values()),
        "skipped": len(manifest["skipped"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", default="500,1000,2000,4000", help="numbers of files, comma-separated")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="folder of MIDI files to copy")
    parser.add_argument("--encoding", default="event")
    parser.add_argument("--workers", type=int, default=2, help="reader processes for the table")
    parser.add_argument("--compare_at", type=int, default=2000,
                        help="files for the --workers 1 vs --workers N wall-time comparison (0: skip)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed to one prepare")
    parser.add_argument("--prepare_module", type=Path, default=None,
                        help="another version of zoo/data/prepare.py to measure instead (e.g. an older one "
                             "saved with `git show REV:zoo/data/prepare.py > old.py`)")
    args = parser.parse_args()
    counts = sorted(int(c) for c in args.counts.split(","))

    with tempfile.TemporaryDirectory(prefix="prepare-memory-") as tmp:
        tmp = Path(tmp)
        print(f"building {max(counts + [args.compare_at])} files from {args.source} ...", flush=True)
        files = build_corpus(args.source, max(counts + [args.compare_at]), tmp / "all")

        def folder_of(count: int) -> Path:
            folder = tmp / f"n{count}"
            if not folder.exists():
                folder.mkdir()
                for path in files[:count]:
                    (folder / path.name).symlink_to(path)
            return folder

        print(f"{args.prepare_module or 'zoo/data/prepare.py'}: "
              f"encoding {args.encoding}, --workers {args.workers}, {os.cpu_count()} cores, "
              f"load average {os.getloadavg()[0]:.1f}")
        header = (f"{'files':>6} {'pieces':>6} {'prepare peak MB':>15} {'reader peak MB':>14} {'tree peak MB':>12} "
                  f"{'output MB':>9} {'wall s':>7} {'prepare growth KB/file':>22} {'output KB/file':>14}")
        print(header)
        previous = None
        for count in counts:
            row = run_prepare(folder_of(count), tmp / f"out{count}", args.encoding, args.workers, args.timeout,
                              args.prepare_module)
            growth = "" if previous is None else \
                f"{(row['parent_mb'] - previous[1]['parent_mb']) * 1024 / (count - previous[0]):.1f}"
            print(f"{count:>6} {row['pieces']:>6} {row['parent_mb']:>15.1f} {row['reader_mb']:>14.1f} "
                  f"{row['tree_mb']:>12.1f} {row['output_mb']:>9.2f} {row['wall_s']:>7.1f} {growth:>22} "
                  f"{row['output_mb'] * 1024 / count:>14.1f}", flush=True)
            previous = (count, row)

        if args.compare_at:
            walls = {}
            for workers in sorted({1, max(2, args.workers)}):
                walls[workers] = run_prepare(folder_of(args.compare_at), tmp / f"cmp{workers}", args.encoding,
                                             workers, args.timeout, args.prepare_module)
            many = max(walls)
            print(f"{args.compare_at} files: --workers 1 {walls[1]['wall_s']:.1f} s, --workers {many} "
                  f"{walls[many]['wall_s']:.1f} s, ratio {walls[1]['wall_s'] / walls[many]['wall_s']:.2f} "
                  f"(load average {os.getloadavg()[0]:.1f}); CPU s of the prepare process / its readers: "
                  f"{walls[1]['parent_cpu_s']:.1f} / {walls[1]['readers_cpu_s']:.1f} with 1, "
                  f"{walls[many]['parent_cpu_s']:.1f} / {walls[many]['readers_cpu_s']:.1f} with {many}")


if __name__ == "__main__":
    main()
