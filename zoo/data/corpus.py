"""The embedded default corpus: the Bach chorales bundled with music21, prepared once under data/."""
from __future__ import annotations

import sys
from pathlib import Path

from zoo.data.prepare import prepare, summary

DEFAULT_CORPUS = "music21:bach"


def default_dataset_dir(encoding: str, data_root: str | Path = "data") -> Path:
    return Path(data_root) / f"default-{encoding}"


def ensure_default_dataset(encoding: str, data_root: str | Path = "data", workers: int = 2) -> Path:
    """Prepares the default corpus with `encoding` unless it is cached; returns its folder."""
    folder = default_dataset_dir(encoding, data_root)
    if not (folder / "manifest.json").is_file():
        print(f"preparing the default corpus ({DEFAULT_CORPUS}, {encoding} encoding) into {folder} (once)", file=sys.stderr)
        manifest = prepare([DEFAULT_CORPUS], encoding, folder, workers=workers)
        print(summary(manifest), file=sys.stderr)
    return folder
