"""Errors the zoo raises on purpose.

Library code raises a `ZooError` subclass with a message that names the value received and the fix;
only the command line turns it into one line on stderr and exit code 2.
"""


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
