"""Reader processes: a task over many files, streamed in file order, surviving a reader that dies.

Used by `prepare` and by the families that read music folders: a file that crashes or exhausts its
reader (segfault, killed for memory) costs only that file.
"""
from __future__ import annotations

import collections
import multiprocessing
import signal
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterator, Sequence

# Chunks in flight per reader process: enough to keep every process busy while the parent
# collects, few enough that finished-but-uncollected results stay a handful of chunks.
CHUNKS_IN_FLIGHT_PER_WORKER = 4


MAX_CHUNK_FILES = 16


# Files a reader process reads before it is replaced (music21 keeps caches that grow slowly).
FILES_PER_READER = 500


def _run_chunk(task: Callable[[str], list], paths: list[str]) -> list[list]:
    return [task(path) for path in paths]


def _send_result(task: Callable[[str], list], path: str, connection) -> None:
    try:
        connection.send(("result", task(path)))
    except BaseException as error:  # noqa: BLE001 - handed to the parent, which re-raises it
        connection.send(("error", error))
    finally:
        connection.close()


def _exit_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"{name}{', out of memory?' if -exitcode == signal.SIGKILL else ''}"
    return f"exit code {exitcode}"


def _reader_context(task: Callable) -> multiprocessing.context.BaseContext:
    """Readers start from a fork server: a clean process that imported the task's module once, so
    each reader starts fast and small, and shares neither the parent's heap (which grows with the
    encoded pieces), nor its threads (TensorFlow's, when a model type prepares data)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context()
    context = multiprocessing.get_context("forkserver")
    function = getattr(task, "func", task)  # a functools.partial names its function's module
    context.set_forkserver_preload([getattr(function, "__module__", None) or __name__])
    return context


def _run_isolated(task: Callable[[str], list], path: str) -> tuple[bool, Any]:
    """Runs `task(path)` in a process of its own: (True, its result), or (False, how the process
    died) for a file that kills its reader. Exceptions other than dying are re-raised here."""
    context = _reader_context(task)
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_send_result, args=(task, path, sender), daemon=True)
    process.start()
    sender.close()
    try:
        kind, value = receiver.recv()
    except EOFError:  # the process died before it could answer
        process.join()
        return False, f"cannot read {path}: the reader process died ({_exit_reason(process.exitcode)})"
    finally:
        receiver.close()
    process.join()
    if kind == "error":
        raise value
    return True, value


def map_files(task: Callable[[str], list], files: Sequence[str], workers: int,
              crashed: Callable[[str, str], list]) -> Iterator[list]:
    """Yields `task(path)` for every file, in file order, computed by `workers` reader processes;
    `crashed(path, reason)` stands in for the result of a file whose reader process died.

    Streams: at most `CHUNKS_IN_FLIGHT_PER_WORKER` chunks per process are submitted ahead of the one
    being collected, and processes are replaced every `FILES_PER_READER` files. When a reader process
    dies, the pool is lost with every chunk in flight: those files run again one process each, which
    skips the culprit and keeps the others. `workers` <= 1 runs in this process (no protection
    against a reader that crashes the interpreter). A script that calls this with `workers` > 1 needs
    the `if __name__ == "__main__":` guard: readers import the main module (see `_reader_context`)."""
    if workers <= 1 or len(files) <= 1:
        for path in files:
            yield task(path)
        return
    chunk_size = max(1, min(MAX_CHUNK_FILES, len(files) // (workers * CHUNKS_IN_FLIGHT_PER_WORKER)))
    chunks = collections.deque(list(files[i:i + chunk_size]) for i in range(0, len(files), chunk_size))
    in_flight: collections.deque[tuple[list[str], Future]] = collections.deque()
    pool = ProcessPoolExecutor(workers, mp_context=_reader_context(task))
    given = 0  # files given to this pool
    try:
        while chunks or in_flight:
            while chunks and len(in_flight) < workers * CHUNKS_IN_FLIGHT_PER_WORKER:
                if given >= workers * FILES_PER_READER:
                    # Fresh processes: whatever a reader library caches stays bounded. The old pool
                    # finishes the chunks it holds first, so that two pools never run at once.
                    pool.shutdown(wait=True)
                    pool, given = ProcessPoolExecutor(workers, mp_context=_reader_context(task)), 0
                chunk = chunks.popleft()
                try:
                    future = pool.submit(_run_chunk, task, chunk)
                except BrokenProcessPool:  # a reader died since the last result: handled below like its chunk
                    future = Future()
                    future.set_exception(BrokenProcessPool("a reader process died"))
                in_flight.append((chunk, future))
                given += len(chunk)
            chunk, future = in_flight.popleft()
            try:
                yield from future.result()
                continue
            except BrokenProcessPool:
                pass
            # A reader died. Chunks that finished before keep their results; the others rerun alone.
            pool.shutdown(wait=True, cancel_futures=True)
            lost = [(chunk, future)] + list(in_flight)
            in_flight.clear()
            for chunk, future in lost:
                if future.done() and not future.cancelled() and future.exception() is None:
                    yield from future.result()
                else:
                    for path in chunk:
                        answered, value = _run_isolated(task, path)
                        yield value if answered else crashed(path, value)
            pool, given = ProcessPoolExecutor(workers, mp_context=_reader_context(task)), 0
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
