"""Errors the zoo raises on purpose.

Library code raises a `ZooError` subclass with a message that names the value received and the fix;
only the command line turns it into one line on stderr and exit code 2.
"""
import errno
import os
import re


class ZooError(Exception):
    """Base of every error the zoo raises on purpose."""


class UsageError(ZooError):
    """A flag or argument that does not fit: unknown model type, flag of another model."""


class ScoreReadError(ZooError):
    """A music file that cannot be read: corrupt, truncated, or of an unknown format."""


class EncodingError(ZooError):
    """A score that an encoding cannot represent, or tokens it cannot decode."""


class DataError(ZooError):
    """Missing, empty or unusable training data."""


class UnsafePickleError(DataError):
    """A pickle that asks for anything but plain containers, numbers, strings and numpy arrays."""


class RunError(ZooError):
    """A run folder that is missing, incomplete or corrupt (config, checkpoint, export)."""


class RunBusy(RunError):
    """Another process is writing the run (or the data folder): its lock is held (zoo.locks)."""


# errno -> how a write failed for a reason of the machine, not of the program: said in one line, never a traceback.
DISK_ERRNO_REASONS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "the file system is read-only",
}
# HDF5 (h5py) reports a failed write in its own words with the C errno inside; TensorFlow's file errors
# (tf.errors.ResourceExhaustedError, ...) carry the C library's words after the file's name.
_HDF5_ERRNO = re.compile(r"errno = (\d+)")
_STRERROR_CODES = {os.strerror(code): code for code in DISK_ERRNO_REASONS}
_PATH_THEN_STRERROR = re.compile(r"(\S+); (%s)" % "|".join(map(re.escape, _STRERROR_CODES)))


def disk_errno(error: BaseException) -> int | None:
    """The errno of `error` when the disk refused a write (full, quota, permissions, read-only), else None.

    Give it OSErrors and TensorFlow's file errors only: it also reads the message, where the other
    libraries put the errno.
    """
    if isinstance(error, OSError) and error.errno in DISK_ERRNO_REASONS:
        return error.errno
    text = str(error)
    match = _HDF5_ERRNO.search(text)
    if match and int(match.group(1)) in DISK_ERRNO_REASONS:
        return int(match.group(1))
    return next((code for words, code in _STRERROR_CODES.items() if words in text), None)


class WriteError(ZooError):
    """A file the zoo writes could not be written: full disk, quota, permissions, read-only file system."""

    @classmethod
    def from_os_error(cls, error: BaseException, path: str | os.PathLike | None,
                      unnamed: str = "a file") -> "WriteError | None":
        """The WriteError naming `path` (else the file the error names, else `unnamed`) when `error` is the disk
        refusing a write; None for any other error, which the caller re-raises as it is."""
        code = disk_errno(error)
        if code is None:
            return None
        if path is None:
            named = _PATH_THEN_STRERROR.search(str(error))
            path = getattr(error, "filename", None) or (named.group(1) if named else unnamed)
        return cls(f"cannot write {path}: {DISK_ERRNO_REASONS[code]} ({errno.errorcode[code]})")
