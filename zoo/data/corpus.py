"""The data cache: every embedded default data set is prepared once into <cache root>/<key>/ by one rule.

The cache root is $ZOO_DATA_CACHE, else data/cache under the working directory; never a run folder, so runs
share the data and a run's config.json names it by its absolute path. A key names the source and every setting
that changes the content (`content_key`), so a changed source or setting is prepared again under a new key.
The embedded default corpus is the Bach chorales bundled with music21 (`ensure_default_dataset`).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Callable

from zoo.data.prepare import prepare, summary
from zoo.encodings import Encoding, get_encoding_class

CACHE_ENV = "ZOO_DATA_CACHE"
DEFAULT_CACHE_ROOT = Path("data") / "cache"
DEFAULT_CORPUS = "music21:bach"
DEFAULT_SPLIT = {"valid_fraction": 0.1, "test_fraction": 0.1, "seed": 0}
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_TEMPORARY = ".tmp-"


def cache_root() -> Path:
    """$ZOO_DATA_CACHE, else data/cache under the working directory; absolute, so stored paths work from anywhere."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE_ROOT).expanduser().absolute()


def content_key(label: str, *settings) -> str:
    """A cache key: `label` made a plain folder name, then a hash of `settings` (JSON-able: options, checksums)."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip(".-")[:64] or "data"
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return f"{name}-{digest}"


def file_checksum(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes."""
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def folder_fingerprint(folder: str | os.PathLike) -> list:
    """A folder's path and its files' names, sizes and modification times: an edited folder changes it."""
    folder = Path(folder)
    fingerprint: list = [str(folder.resolve())]
    for path in sorted(path for path in folder.rglob("*") if path.is_file()):
        stat = path.stat()
        fingerprint.append([str(path.relative_to(folder)), stat.st_size, stat.st_mtime_ns])
    return fingerprint


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    return True


def _remove_dead_builds(root: Path, key: str) -> None:
    """Deletes the temporary folders of builds of `key` whose process is gone (killed mid-build, this machine)."""
    pattern = re.compile(rf"\.{re.escape(key)}\.(\d+){re.escape(_TEMPORARY)}[0-9a-f]+")
    for path in root.iterdir():
        match = pattern.fullmatch(path.name)
        if match and not _alive(int(match.group(1))):
            shutil.rmtree(path, ignore_errors=True)


def cache_folder(key: str) -> Path:
    """Where `cached_dataset` keeps `key`; complete once it exists."""
    if not _KEY.fullmatch(key):
        raise ValueError(f"a data cache key must be a plain folder name, not {key!r}")
    return cache_root() / key


def cached_dataset(key: str, build: Callable[[Path], object], describe: str) -> Path:
    """<cache root>/<key>/, after `build(folder)` has filled it once when it is missing.

    `build` writes into a hidden temporary folder beside it, which is then renamed into place: a killed
    build leaves no half cache (its temporary folder is never read, and the next build deletes it), and of
    two processes building at once the first rename wins while the other discards its copy.
    """
    folder = cache_folder(key)
    if folder.is_dir():
        return folder
    root = folder.parent
    root.mkdir(parents=True, exist_ok=True)
    _remove_dead_builds(root, key)
    print(f"preparing {describe} into {folder} (once)", file=sys.stderr)
    staging = root / f".{key}.{os.getpid()}{_TEMPORARY}{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        build(staging)
        try:
            staging.rename(folder)
        except OSError:
            if not folder.is_dir():
                raise
            # another process renamed its complete copy into place first: use that one
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def cached_files(source: str, encoding: str | Encoding, workers: int = 1) -> Path:
    """A folder of music files (or `music21:<corpus folder>`) encoded once, whole, as the train split of a cache
    folder; returns that folder. Unreadable files are skipped and printed when it is built."""
    if isinstance(encoding, str):
        encoding = get_encoding_class(encoding)()
    # A folder is known by its files' names, sizes and times; music21's version stands for its bundled corpus.
    content = [source, version("music21")] if source.startswith("music21:") else folder_fingerprint(source)
    key = content_key(f"{Path(source).name}-{encoding.name}", content, encoding.to_config())

    def build(folder: Path) -> None:
        manifest = prepare([source], encoding, folder, valid_fraction=0.0, test_fraction=0.0, workers=workers,
                           progress=False)
        for item in manifest["skipped"]:
            print(f"skipped {item['file']}: {item['reason']}", file=sys.stderr)

    return cached_dataset(key, build, f"the {encoding.name} encoding of {source}")


def ensure_default_dataset(encoding: str | Encoding, workers: int = 2) -> Path:
    """The default corpus prepared with `encoding` (a name: its default options) in the data cache; its folder."""
    if isinstance(encoding, str):
        encoding = get_encoding_class(encoding)()
    # music21's version stands for its bundled corpus
    key = content_key(f"music21-bach-{encoding.name}", encoding.to_config(), DEFAULT_SPLIT, version("music21"))

    def build(folder: Path) -> None:
        print(summary(prepare([DEFAULT_CORPUS], encoding, folder, workers=workers, **DEFAULT_SPLIT)), file=sys.stderr)

    return cached_dataset(key, build, f"the default corpus ({DEFAULT_CORPUS}, {encoding.name} encoding)")
