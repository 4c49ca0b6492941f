"""The data cache rule (zoo/data/corpus.py): built once, atomic, keyed, under $ZOO_DATA_CACHE or ./data/cache."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

import pytest

from helpers import ROOT
from zoo.data.corpus import cache_root, cached_dataset, content_key


def tiny_build(calls: list):
    """A build of a tiny source that counts its calls and writes two files."""
    def build(folder):
        calls.append(folder)
        (folder / "train.txt").write_text("abc")
        (folder / "manifest.json").write_text("{}")
    return build


def test_built_once_then_reused_without_preparing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ZOO_DATA_CACHE", str(tmp_path / "cache"))
    calls = []
    first = cached_dataset("tiny-1", tiny_build(calls), "a tiny source")
    assert first == tmp_path / "cache" / "tiny-1" and (first / "train.txt").read_text() == "abc"
    assert f"preparing a tiny source into {first} (once)" in capsys.readouterr().err
    assert cached_dataset("tiny-1", tiny_build(calls), "a tiny source") == first
    assert len(calls) == 1 and capsys.readouterr().err == ""
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["tiny-1"]  # no temporary folder left


def test_default_root_is_data_cache_under_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("ZOO_DATA_CACHE")
    monkeypatch.chdir(tmp_path)
    assert cache_root() == tmp_path / "data" / "cache"
    assert cached_dataset("tiny-2", tiny_build([]), "a tiny source") == tmp_path / "data" / "cache" / "tiny-2"


def test_a_build_killed_midway_is_ignored_and_replaced(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    script = textwrap.dedent("""
        import os, signal
        from zoo.data.corpus import cached_dataset

        def build(folder):
            (folder / "train.txt").write_text("ha")
            os.kill(os.getpid(), signal.SIGKILL)

        cached_dataset("tiny-3", build, "a tiny source")
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "ZOO_DATA_CACHE": str(cache)})
    assert result.returncode == -9, result.stderr[-2000:]
    (half,) = cache.iterdir()
    assert half.name.startswith(".tiny-3.") and (half / "train.txt").read_text() == "ha"
    monkeypatch.setenv("ZOO_DATA_CACHE", str(cache))
    calls = []
    folder = cached_dataset("tiny-3", tiny_build(calls), "a tiny source")
    assert len(calls) == 1 and (folder / "train.txt").read_text() == "abc"
    assert [p.name for p in cache.iterdir()] == ["tiny-3"]  # the dead build's folder is gone


def test_two_builds_racing_end_with_one_complete_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_DATA_CACHE", str(tmp_path))
    both_building = threading.Barrier(2, timeout=30)
    results, calls = [], []

    def build(folder):
        calls.append(folder)
        both_building.wait()  # neither has renamed yet: both prepare
        (folder / "who.txt").write_text(folder.name)

    threads = [threading.Thread(target=lambda: results.append(cached_dataset("tiny-4", build, "a race")))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 2 and results == [tmp_path / "tiny-4"] * 2
    assert (tmp_path / "tiny-4" / "who.txt").read_text() in {c.name for c in calls}
    assert [p.name for p in tmp_path.iterdir()] == ["tiny-4"]


def test_a_failed_build_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_DATA_CACHE", str(tmp_path))

    def build(folder):
        (folder / "train.txt").write_text("ha")
        raise ValueError("unreadable source")

    with pytest.raises(ValueError, match="unreadable source"):
        cached_dataset("tiny-5", build, "a bad source")
    assert list(tmp_path.iterdir()) == []


def test_keys_are_plain_folder_names_that_follow_the_settings():
    key = content_key("music21:leadSheet/../x y", {"encoding": "poex"})
    assert "/" not in key and ":" not in key and " " not in key and not key.startswith(".")
    assert key != content_key("music21:leadSheet/../x y", {"encoding": "abs"})
    assert key == content_key("music21:leadSheet/../x y", {"encoding": "poex"})
    with pytest.raises(ValueError, match="plain folder name"):
        cached_dataset("../escape", tiny_build([]), "nothing")


def test_a_folder_of_files_is_encoded_once_and_again_when_it_changes(tmp_path, monkeypatch, capsys, chorale_files):
    import shutil

    from zoo.data.corpus import cached_files
    from zoo.data.dataset import load_split

    monkeypatch.setenv("ZOO_DATA_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "mine"
    folder.mkdir()
    for path in chorale_files[:2]:
        shutil.copy(path, folder)
    (folder / "broken.mid").write_bytes(b"MThd\x00")
    first = cached_files(str(folder), "event")
    err = capsys.readouterr().err
    assert "preparing the event encoding of" in err and "skipped" in err and "broken.mid" in err
    assert len(load_split(first / "train.pkl").pieces) == 2  # the whole folder, as one split
    assert cached_files(str(folder), "event") == first and capsys.readouterr().err == ""
    shutil.copy(chorale_files[2], folder)
    again = cached_files(str(folder), "event")
    assert again != first and len(load_split(again / "train.pkl").pieces) == 3
