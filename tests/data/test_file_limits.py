"""Per-file limits on CPU time and memory: the mechanism (zoo.music.limits), and `prepare` skipping the
files past them with workers=1 (in this process) and workers=2 (reader processes)."""
from __future__ import annotations

import shutil
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

import prepare_reader_tasks as reader_tasks
from helpers import NOTTINGHAM_MIDI, needs_shared, spin_cpu
from zoo.data.prepare import prepare
from zoo.music.limits import FileLimit, LimitExceeded

resource = pytest.importorskip("resource")
linux_only = pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="memory is limited on Linux only")


@pytest.fixture
def process_state():
    """The process's alarm and address-space limit must be as they were after each test."""
    handler, rlimit = signal.getsignal(signal.SIGVTALRM), resource.getrlimit(resource.RLIMIT_AS)
    yield
    assert signal.getitimer(signal.ITIMER_VIRTUAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGVTALRM) is handler
    assert resource.getrlimit(resource.RLIMIT_AS) == rlimit


def test_nested_time_limits_keep_the_earlier_deadline(process_state):
    with FileLimit(5.0):
        with pytest.raises(LimitExceeded, match=r"^more than 0\.1 s of CPU time$"):
            with FileLimit(0.1):
                spin_cpu(3.0)
        assert 3.0 < signal.getitimer(signal.ITIMER_VIRTUAL)[0] < 5.0  # the outer deadline is back
    with pytest.raises(LimitExceeded, match=r"more than 0\.2 s"):  # the outer one's, raised at its block
        with FileLimit(0.2):
            with FileLimit(10.0):
                spin_cpu(3.0)


def test_an_import_is_not_cut_short(tmp_path, monkeypatch, process_state):
    (tmp_path / "slow_module_for_limits.py").write_text(
        "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end:\n    pass\ndone = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "slow_module_for_limits", raising=False)
    with pytest.raises(LimitExceeded):
        with FileLimit(0.05):
            import slow_module_for_limits  # noqa: F401
            spin_cpu(2.0)
    assert sys.modules["slow_module_for_limits"].done


@linux_only
def test_memory_limits_are_relative_nest_and_are_restored(process_state):
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    with FileLimit(megabytes=500):
        cap = resource.getrlimit(resource.RLIMIT_AS)
        assert cap[0] != resource.RLIM_INFINITY and cap[1] == hard
        with FileLimit(megabytes=10 ** 6):
            assert resource.getrlimit(resource.RLIMIT_AS) == cap  # the lower cap stays
        with pytest.raises(LimitExceeded, match=r"^more than 100 MB of memory$"):
            with FileLimit(megabytes=100):
                np.empty(2 ** 30, np.uint8)  # reserves 1 GB of address space: refused only under a cap
        assert resource.getrlimit(resource.RLIMIT_AS) == cap
        np.ones(2 ** 27, np.uint8)  # 128 MB fit within 500


@linux_only
@pytest.mark.parametrize("workers", [1, 2])
def test_prepare_skips_the_files_past_the_limits_and_lists_them(tmp_path, workers, process_state):
    folder = needs_shared(NOTTINGHAM_MIDI)
    inputs = tmp_path / "in"
    inputs.mkdir()
    good = ["hpps26.mid", "morris12.mid", "morris19.mid", "reelsa-c31.mid", "waltzes4.mid"]
    for name in good:
        shutil.copy(folder / name, inputs / name)
    for name in ("spin.mid", "hog.mid"):  # 294 bytes each: 1.3 s of CPU time with the 1 s per KB
        shutil.copy(folder / "xmas7.mid", inputs / name)
    manifest = prepare([str(inputs)], reader_tasks.HostileEventEncoding(), tmp_path / "out", workers=workers,
                       progress=False, file_time_limit=1.0, file_memory_limit=200)
    assert {item["file"]: item["reason"] for item in manifest["skipped"]} == {
        str(inputs / "hog.mid"): f"cannot encode {inputs / 'hog.mid'}: more than 200 MB of memory "
                                 "(the per-file limit, --file_memory_limit)",
        str(inputs / "spin.mid"): f"cannot encode {inputs / 'spin.mid'}: more than 1.3 s of CPU time "
                                  "(the per-file limit, --file_time_limit)",
    }
    encoded = [Path(source).name for info in manifest["splits"].values() for source in info["sources"]]
    assert sorted(encoded) == good


def test_prepare_limits_reading_with_its_own_limit_not_music21s(tmp_path, monkeypatch, process_state):
    from zoo.music import music21_io

    monkeypatch.setattr(music21_io, "MAX_METER_BEATS", 10 ** 6)  # let a slow meter through the pre-check
    monkeypatch.setattr(music21_io, "PARSE_CPU_SECONDS", 0.2)  # music21's own budget, shorter: not used
    monkeypatch.setattr(music21_io, "PARSE_CPU_SECONDS_PER_KB", 0.0)
    folder = needs_shared(NOTTINGHAM_MIDI)
    for name in ("hpps26.mid", "morris12.mid", "morris19.mid"):
        shutil.copy(folder / name, tmp_path / name)
    (tmp_path / "slow.abc").write_text("X:1\nT:t\nM:999/4\nL:1/8\nK:C\ncdef|\n")  # ~10 s of CPU in music21
    manifest = prepare([str(tmp_path)], "event", tmp_path / "out", progress=False, file_time_limit=0.5)
    assert manifest["skipped"] == [{"file": str(tmp_path / "slow.abc"), "reason": (
        f"cannot read {tmp_path / 'slow.abc'}: more than 0.5 s of CPU time (the per-file limit, --file_time_limit)")}]


def test_prepare_flags_reach_prepare(tmp_path, monkeypatch):
    from zoo.cli import run_cli, zoo_main
    from zoo.data import prepare as prepare_module

    given = {}

    def fake_prepare(*args, **kwargs):
        given.update(kwargs)
        return {"splits": {}, "files_found": 0, "skipped": []}

    monkeypatch.setattr(prepare_module, "prepare", fake_prepare)
    argv = ["prepare", "--input", str(tmp_path), "-o", str(tmp_path / "out"), "--workers", "1"]
    assert run_cli(zoo_main, argv) == 0
    assert (given["file_time_limit"], given["file_memory_limit"]) == (prepare_module.FILE_TIME_LIMIT,
                                                                      prepare_module.FILE_MEMORY_LIMIT)
    assert run_cli(zoo_main, argv + ["--file_time_limit", "2.5", "--file_memory_limit", "300"]) == 0
    assert (given["file_time_limit"], given["file_memory_limit"]) == (2.5, 300.0)
    assert run_cli(zoo_main, argv + ["--file_memory_limit", "0"]) == 2  # a limit of nothing is refused
