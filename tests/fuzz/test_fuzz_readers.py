"""Fuzzing every reader (issue 9, part 1): the CI smoke part, a few hundred fixed cases.

Each case is a hostile file from tests/fuzz/fuzz_inputs.py (structured builds and byte mutations of
built-in and ../shared seed files), drawn by hypothesis with `derandomize=True`, so CI runs the same
cases every time. A case must end in a parsed result or a `ZooError` (anything else fails the test,
hypothesis shrinks it), within `CASE_SECONDS` of CPU time, with a traced peak (tracemalloc, numpy included) under
`CASE_PEAK_MB`. The long run, each reader in a memory-limited child process, is bench/fuzz_readers.py.
"""
from __future__ import annotations

import functools
import tempfile
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import fuzz_inputs
from zoo.errors import ZooError

CASE_SECONDS = 5.0  # of CPU time (the 2-core CI machine is shared, so wall time is asserted only loosely)
CASE_WALL_SECONDS = 30.0  # hypothesis' deadline: a hang guard
CASE_PEAK_MB = 200.0
# Cases per reader: music21 parses take ~0.1 s each, the others milliseconds.
EXAMPLES = {"midi": 90, "ls": 70, "abc": 12, "musicxml": 12, "json": 60, "wav": 40, "pickle": 70}


@functools.lru_cache(maxsize=None)
def _seeds(reader: str) -> tuple[bytes, ...]:
    return tuple(fuzz_inputs.seed_inputs(reader))


@pytest.fixture(scope="module", autouse=True)
def warm_readers():
    """Imports (TensorFlow for load_split, music21, scipy) happen here, not inside a timed case."""
    for reader in fuzz_inputs.READERS:
        fuzz_inputs.warm_up(reader)


def check_case(reader: str, data: bytes) -> None:
    """Reads one case: a result or a ZooError, in bounded time and traced memory."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"case{fuzz_inputs.SUFFIX[reader]}"
        path.write_bytes(data)
        tracemalloc.start()
        start = time.process_time()
        try:
            fuzz_inputs.read_case(reader, path)
        except ZooError:
            pass
        finally:
            seconds = time.process_time() - start
            peak_mb = tracemalloc.get_traced_memory()[1] / 2 ** 20
            tracemalloc.stop()
    assert seconds < CASE_SECONDS, f"{reader} case took {seconds:.1f} s of CPU; input {data[:400]!r}"
    assert peak_mb < CASE_PEAK_MB, f"{reader} case peaked at {peak_mb:.0f} MB traced; input {data[:400]!r}"


def _fuzz_test(reader: str):
    # No shrinking: st.randoms() shrinks poorly and slowly; a failure shows its input instead.
    @settings(max_examples=EXAMPLES[reader], derandomize=True, database=None, deadline=timedelta(seconds=CASE_WALL_SECONDS),
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(rng=st.randoms(use_true_random=False))
    def test(rng):
        check_case(reader, fuzz_inputs.make_case(reader, rng, list(_seeds(reader))))

    test.__doc__ = f"Fuzzed {reader} files end in a result or a ZooError, in bounded time and memory."
    return test


test_fuzz_midi = _fuzz_test("midi")
test_fuzz_leadsheet = _fuzz_test("ls")
test_fuzz_abc = _fuzz_test("abc")
test_fuzz_musicxml = _fuzz_test("musicxml")
test_fuzz_polyphonic_json = _fuzz_test("json")
test_fuzz_wav = _fuzz_test("wav")
test_fuzz_pickle = _fuzz_test("pickle")


@pytest.mark.parametrize("reader", fuzz_inputs.READERS)
def test_seed_files_are_read(reader):
    """The unmutated seeds parse: the fuzzer starts from files the readers accept."""
    for data in _seeds(reader):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"seed{fuzz_inputs.SUFFIX[reader]}"
            path.write_bytes(data)
            assert fuzz_inputs.read_case(reader, path)
