"""The long fuzz run over every reader of the zoo (the CI smoke part is tests/fuzz/test_fuzz_readers.py).

    python bench/fuzz_readers.py --cases 2000 --seed 1 --reader midi,ls --out fuzz-failures
    python bench/fuzz_readers.py --minutes 10                  # every reader, time split evenly

Each reader runs in its own worker process under a hard address-space limit (RLIMIT_AS, `--memory_mb`)
and a per-case timeout (`--timeout`); a case that hangs, kills the worker or raises anything but a
`ZooError` is a failure, and so is one whose traced peak memory (tracemalloc, numpy included) passes
`--peak_mb`. The worker is restarted after a hang or a death. Every failure is printed and its input
saved as `OUT/READER/SEED-CASE.ext` (+ `.txt` with the reason) to reproduce with
`python bench/fuzz_readers.py --replay OUT/READER/SEED-CASE.ext`. Inputs come from
tests/fuzz/fuzz_inputs.py: case i of reader r with seed s is `make_case(r, random.Random(f"{s}-{r}-{i}"))`.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import select
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "fuzz")]

import fuzz_inputs  # noqa: E402  (needs the path above)

RESULT = "RESULT "


def run_one(reader: str, path: Path) -> dict:
    """Reads one case in this process: outcome, seconds and traced peak memory."""
    import tracemalloc

    from zoo.errors import ZooError

    tracemalloc.start()
    start = time.perf_counter()
    try:
        detail = fuzz_inputs.read_case(reader, path)
        outcome = "parsed"
    except ZooError as error:
        outcome, detail = "refused", f"{type(error).__name__}: {str(error)[:200]}"
    except BaseException as error:  # noqa: BLE001  (anything else is what the fuzzer looks for)
        outcome = "crash"
        detail = f"{type(error).__name__}: {str(error)[:300]}\n" + "".join(traceback.format_exc(limit=-6))
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 2 ** 20
    tracemalloc.stop()
    return {"outcome": outcome, "detail": detail, "seconds": seconds, "peak_mb": peak}


def worker(reader: str, memory_mb: int) -> None:
    """Child: reads case paths from stdin, one per line; prints one RESULT line per case."""
    import resource
    import warnings

    warnings.simplefilter("ignore")
    limit = memory_mb * 2 ** 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    fuzz_inputs.warm_up(reader)
    print(RESULT + json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        print(RESULT + json.dumps(run_one(reader, Path(line.strip()))), flush=True)


class Worker:
    """A worker process for one reader, with a per-case timeout."""

    def __init__(self, reader: str, memory_mb: int, startup_s: float = 120.0):
        self.reader = reader
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--worker", reader, "--memory_mb", str(memory_mb)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=REPO)
        self.buffer = b""
        if self._result(startup_s) is None:
            self.stop()
            raise RuntimeError(f"the {reader} worker did not start (memory limit {memory_mb} MB too low?)")

    def _result(self, timeout: float) -> dict | None:
        """The next RESULT line within `timeout` seconds, or None (hang or death)."""
        deadline = time.monotonic() + timeout
        fd = self.process.stdout.fileno()
        while True:
            while b"\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\n", 1)
                if line.startswith(RESULT.encode()):
                    return json.loads(line[len(RESULT):])
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self.buffer += chunk

    def run(self, path: Path, timeout: float) -> dict:
        try:
            self.process.stdin.write(f"{path}\n".encode())
            self.process.stdin.flush()
        except BrokenPipeError:
            return {"outcome": "died", "detail": "the worker had exited", "seconds": 0.0, "peak_mb": 0.0}
        result = self._result(timeout)
        if result is not None:
            return result
        hung = self.process.poll() is None
        self.stop()
        if hung:
            return {"outcome": "hang", "detail": f"no answer within {timeout} s", "seconds": timeout, "peak_mb": 0.0}
        return {"outcome": "died", "detail": f"the worker died (exit code {self.process.returncode})",
                "seconds": 0.0, "peak_mb": 0.0}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def fuzz_reader(reader: str, args, stop_at: float) -> dict:
    """Runs up to `args.cases` cases of `reader` (until `stop_at`); prints and saves every failure."""
    seeds = fuzz_inputs.seed_inputs(reader)
    counts: Counter = Counter()
    slowest, peak = 0.0, 0.0
    out = Path(args.out) / reader
    current = Worker(reader, args.memory_mb)
    with tempfile.TemporaryDirectory() as folder:
        for case in range(args.cases):
            if time.monotonic() > stop_at:
                break
            data = fuzz_inputs.make_case(reader, random.Random(f"{args.seed}-{reader}-{case}"), seeds)
            path = Path(folder) / f"case{fuzz_inputs.SUFFIX[reader]}"
            path.write_bytes(data)
            result = current.run(path, args.timeout)
            if result["outcome"] in ("parsed", "refused") and result["peak_mb"] > args.peak_mb:
                result = dict(result, outcome="memory",
                              detail=f"traced peak {result['peak_mb']:.0f} MB > {args.peak_mb} MB; {result['detail']}")
            if result["outcome"] in ("parsed", "refused") and result["seconds"] > args.timeout:
                result = dict(result, outcome="slow")
            counts[result["outcome"]] += 1
            slowest, peak = max(slowest, result["seconds"]), max(peak, result["peak_mb"])
            if result["outcome"] not in ("parsed", "refused"):
                out.mkdir(parents=True, exist_ok=True)
                saved = out / f"{args.seed}-{case}{fuzz_inputs.SUFFIX[reader]}"
                saved.write_bytes(data)
                saved.with_suffix(".txt").write_text(json.dumps(result, indent=1) + "\n")
                first = result["detail"].splitlines()[0] if result["detail"] else ""
                print(f"  FAIL {reader} case {case}: {result['outcome']}: {first[:160]} -> {saved}", flush=True)
            if current.process.poll() is not None:
                current = Worker(reader, args.memory_mb)
    current.stop()
    total = sum(counts.values())
    return {"reader": reader, "cases": total, "counts": dict(counts), "slowest_s": slowest, "peak_mb": peak}


def replay(path: str) -> None:
    """Reads one saved case in this process and prints what happens."""
    suffix = Path(path).suffix
    reader = next(name for name, ext in fuzz_inputs.SUFFIX.items() if ext == suffix)
    fuzz_inputs.warm_up(reader)
    print(json.dumps(run_one(reader, Path(path)), indent=1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reader", default=",".join(fuzz_inputs.READERS),
                        help=f"comma-separated readers (default all: {','.join(fuzz_inputs.READERS)})")
    parser.add_argument("--cases", type=int, default=1_000_000, help="cases per reader (the time budget may stop first)")
    parser.add_argument("--minutes", type=float, default=10.0, help="total time budget, split evenly over the readers")
    parser.add_argument("--seed", type=int, default=0, help="seed of the case generator")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds a case may take")
    parser.add_argument("--memory_mb", type=int, default=4096,
                        help="RLIMIT_AS of a worker in MB (TensorFlow-importing readers need ~3 GB of address space)")
    parser.add_argument("--peak_mb", type=float, default=200.0, help="traced peak memory a case may reach")
    parser.add_argument("--out", default="fuzz-failures", help="folder for the inputs of failed cases")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--replay", help="read one saved case in this process and print the outcome")
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.memory_mb)
        return 0
    if args.replay:
        replay(args.replay)
        return 0
    readers = [r.strip() for r in args.reader.split(",") if r.strip()]
    unknown = [r for r in readers if r not in fuzz_inputs.READERS]
    if unknown:
        parser.error(f"unknown reader(s) {unknown} (known: {', '.join(fuzz_inputs.READERS)})")
    reports = []
    for index, reader in enumerate(readers):
        budget = args.minutes * 60 / len(readers)
        print(f"{reader}: up to {args.cases} cases or {budget:.0f} s", flush=True)
        start = time.monotonic()
        report = fuzz_reader(reader, args, start + budget)
        report["seconds"] = time.monotonic() - start
        reports.append(report)
        print(f"{reader}: {report['cases']} cases in {report['seconds']:.0f} s {report['counts']} "
              f"(slowest {report['slowest_s']:.2f} s, traced peak {report['peak_mb']:.0f} MB)", flush=True)
    print("\nreader     cases  parsed  refused  failures")
    failures = 0
    for r in reports:
        bad = r["cases"] - r["counts"].get("parsed", 0) - r["counts"].get("refused", 0)
        failures += bad
        print(f"{r['reader']:<9} {r['cases']:>6} {r['counts'].get('parsed', 0):>7} {r['counts'].get('refused', 0):>8} "
              f"{bad:>9}")
    print(f"total: {sum(r['cases'] for r in reports)} cases, {failures} failures (inputs under {args.out}/)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
