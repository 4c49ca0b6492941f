"""Ranges of command-line flags, declared once: each helper is the `type=` of an `add_argument`.

A helper turns the flag's text into a number or raises `argparse.ArgumentTypeError`, which the CLI's
parser reports as one line, `argument --x: must be at least 1 (got 0)`, with exit code 2. Values that
come from elsewhere (MusicVAE's JSON config keys) go through the same helpers.
"""
from __future__ import annotations

import argparse
from typing import Callable


def _ranged(name: str, kind: type, rule: str, holds: Callable[[float], bool]) -> Callable[[str | float], float]:
    def parse(text: str | float) -> float:
        try:
            value = kind(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"invalid {kind.__name__} value: {text!r}") from None
        if not holds(value):
            raise argparse.ArgumentTypeError(f"must be {rule} (got {text})")
        return value

    parse.__name__ = parse.__qualname__ = name
    parse.__doc__ = f"A {kind.__name__} that is {rule}."
    return parse


positive_int = _ranged("positive_int", int, "at least 1", lambda v: v >= 1)
non_negative_int = _ranged("non_negative_int", int, "0 or more", lambda v: v >= 0)
positive_float = _ranged("positive_float", float, "more than 0", lambda v: v > 0)
non_negative_float = _ranged("non_negative_float", float, "0 or more", lambda v: v >= 0)
fraction = _ranged("fraction", float, "in [0, 1)", lambda v: 0 <= v < 1)  # e.g. a dropout rate
open_fraction = _ranged("open_fraction", float, "in (0, 1)", lambda v: 0 < v < 1)  # e.g. a threshold
positive_fraction = _ranged("positive_fraction", float, "in (0, 1]", lambda v: 0 < v <= 1)  # e.g. a step size
