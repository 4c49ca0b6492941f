"""Pickles of plain data only: writing them, and reading them without running anyone's code.

`pickle.load` calls whatever callable a file names, so a pickle from a stranger can run code.
`load_pickle` resolves only the few globals that plain containers and numpy arrays need and
refuses everything else before it is imported or called.
"""
from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import Any

from zoo.atomic import atomic_path
from zoo.errors import DataError, UnsafePickleError

# (module, name) pairs that numpy arrays, numpy scalars, sets and protocol-2 bytes pickle through.
_ALLOWED_GLOBALS = frozenset(
    {
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("builtins", "complex"),
        ("builtins", "bytearray"),
        ("__builtin__", "set"),
        ("__builtin__", "frozenset"),
        ("_codecs", "encode"),
        ("collections", "OrderedDict"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy.core.numeric", "_frombuffer"),
    }
)


class _PlainDataUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        if module.startswith("numpy") and name.endswith("DType"):  # numpy 2 dtype classes
            return super().find_class(module, name)
        raise UnsafePickleError(
            f"refusing to load '{module}.{name}' from a pickle: only plain containers, numbers, "
            "strings and numpy arrays are allowed (the file may try to run code)"
        )

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError("refusing a pickle with persistent references")


def loads_pickle(data: bytes) -> Any:
    """Unpickles `data`, refusing anything but plain data (raises `UnsafePickleError`)."""
    try:
        return _PlainDataUnpickler(io.BytesIO(data)).load()
    except UnsafePickleError:
        raise
    except Exception as error:  # truncated or corrupt streams raise many kinds of errors
        raise DataError(f"corrupt pickle: {type(error).__name__}: {error}") from None


def load_pickle(path: str | os.PathLike) -> Any:
    """Reads a pickle file through the restricted unpickler; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such data file: {path}")
    try:
        return loads_pickle(path.read_bytes())
    except DataError as error:
        raise type(error)(f"{path}: {error}") from None


def dump_pickle(obj: Any, path: str | os.PathLike) -> None:
    """Writes `obj` atomically (temporary file, then rename), so a crash never leaves half a file."""
    with atomic_path(path) as tmp, open(tmp, "wb") as file:
        pickle.dump(obj, file, protocol=pickle.HIGHEST_PROTOCOL)
