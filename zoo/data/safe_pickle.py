"""Pickles of plain data only: writing them, and reading them without running anyone's code.

`pickle.load` calls whatever callable a file names, so a pickle from a stranger can run code.
`load_pickle` resolves only the few globals that plain containers and numpy arrays need and
refuses everything else before it is imported or called.
"""
from __future__ import annotations

import io
import math
import os
import pickle
from pathlib import Path
from typing import Any

from zoo.atomic import atomic_path
from zoo.errors import DataError, UnsafePickleError

# (module, name) pairs that numpy arrays, numpy scalars, sets and protocol-2 bytes pickle through, as
# themselves; `_WRAPPED` below lists the ones a pickle only gets behind a check of their arguments.
_ALLOWED_GLOBALS = frozenset(
    {
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("builtins", "complex"),
        ("__builtin__", "set"),
        ("__builtin__", "frozenset"),
        ("__builtin__", "complex"),
        ("collections", "OrderedDict"),
        ("numpy", "dtype"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy.core.numeric", "_frombuffer"),
    }
)


_LATIN1 = frozenset({"latin1", "latin-1", "iso-8859-1", "iso8859-1", "l1"})


class _NdarrayRef:
    """Stands for `numpy.ndarray` in a pickle: usable as `_reconstruct`'s subtype, refused as a call
    (`ndarray(shape)` would allocate whatever shape the file names)."""

    def __call__(self, *args, **kwargs):
        raise UnsafePickleError("refusing a pickle that calls numpy.ndarray directly (numpy never pickles that way)")


_NDARRAY = _NdarrayRef()


def _safe_bytearray(*args):
    """bytearray(bytes) / bytearray(str, encoding) as protocols 2-4 pickle them; never bytearray(size)."""
    if args and not isinstance(args[0], (bytes, str)):
        raise UnsafePickleError(f"refusing bytearray({type(args[0]).__name__}) in a pickle (only bytes or text)")
    return bytearray(*args)


def _safe_bytes(*args):
    """bytes() as protocols 0-2 pickle b""; never bytes(size)."""
    if args and not isinstance(args[0], (bytes, bytearray)):
        raise UnsafePickleError(f"refusing bytes({type(args[0]).__name__}) in a pickle (only bytes() or bytes(bytes))")
    return bytes(*args)


def _safe_encode(obj, encoding="utf-8", errors="strict"):
    """_codecs.encode as protocol 2 pickles bytes: a str to latin-1; no other codec is looked up."""
    if not isinstance(obj, str) or str(encoding).lower() not in _LATIN1:
        raise UnsafePickleError(f"refusing _codecs.encode with codec {str(encoding)[:30]!r} in a pickle")
    return obj.encode("latin-1")  # strict whatever `errors` says: no error handler is looked up either


def _is_shape(shape) -> bool:
    return isinstance(shape, tuple) and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)


def _safe_reconstruct(subtype, shape, dtype):
    """numpy's `_reconstruct` as arrays pickle it: an empty ndarray that BUILD then fills."""
    import numpy as np

    if subtype is not _NDARRAY or not _is_shape(shape) or math.prod(shape) != 0:
        raise UnsafePickleError("refusing numpy _reconstruct of anything but an empty ndarray (numpy pickles "
                                "arrays that way; a shape here would be allocated)")
    return np.ndarray.__new__(np.ndarray, shape, dtype)


def _safe_scalar(dtype, data=None):
    """numpy's `scalar` only with exactly `dtype.itemsize` bytes (else it allocates the itemsize first)."""
    import numpy as np

    if not isinstance(dtype, np.dtype) or not isinstance(data, bytes) or len(data) != dtype.itemsize:
        raise UnsafePickleError("refusing a numpy scalar whose data does not match its dtype")
    from numpy._core.multiarray import scalar

    return scalar(dtype, data)


def _check_array_state(array, state) -> None:
    """Before ndarray.__setstate__: the shape must match the data the pickle holds (numpy allocates an
    object array of the stated shape before it looks at the list)."""
    import numpy as np

    if not isinstance(state, tuple) or len(state) not in (4, 5):
        raise UnsafePickleError("refusing a numpy array with an unknown pickled state")
    shape, dtype, data = state[-4], state[-3], state[-1]
    if not _is_shape(shape) or not isinstance(dtype, np.dtype):
        raise UnsafePickleError("refusing a numpy array with a malformed shape or dtype")
    count = math.prod(shape)
    if dtype.hasobject:
        ok = isinstance(data, list) and len(data) == count
    else:
        ok = isinstance(data, (bytes, bytearray)) and len(data) == count * dtype.itemsize
    if not ok:
        raise UnsafePickleError(f"refusing a numpy array of shape {shape[:8]} whose data does not match it")


# (module, name) -> what a pickle gets in its place.
_WRAPPED = {
    ("builtins", "bytearray"): _safe_bytearray,
    ("__builtin__", "bytearray"): _safe_bytearray,
    ("builtins", "bytes"): _safe_bytes,
    ("__builtin__", "bytes"): _safe_bytes,
    ("_codecs", "encode"): _safe_encode,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy._core.multiarray", "_reconstruct"): _safe_reconstruct,
    ("numpy.core.multiarray", "_reconstruct"): _safe_reconstruct,
    ("numpy._core.multiarray", "scalar"): _safe_scalar,
    ("numpy.core.multiarray", "scalar"): _safe_scalar,
}


# The pure-Python unpickler, not the C one: the C one grows its memo to any index a file names
# (LONG_BINPUT 0x0fffffff allocates 4 GB), the Python one keeps the memo in a dict. Data pickles
# are a few large arrays, so the speed difference does not matter.
class _PlainDataUnpickler(pickle._Unpickler):
    dispatch = dict(pickle._Unpickler.dispatch)

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _WRAPPED:
            return _WRAPPED[(module, name)]
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

    def load_build(self) -> None:
        import numpy as np

        if len(self.stack) >= 2 and type(self.stack[-2]) is np.ndarray:
            _check_array_state(self.stack[-2], self.stack[-1])
        super().load_build()

    dispatch[pickle.BUILD[0]] = load_build


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
