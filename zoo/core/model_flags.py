"""The command-line side of a model type: its name, its own training.py and generate.py flags, and the
general flags' defaults it changes.

A family declares them in a module of its own that imports neither TensorFlow nor Keras
(`zoo/families/<family>/<family>_flags.py`), and its model type inherits them, so `--help` and the
parsing of training.py and generate.py flags load no TensorFlow (its import is most of their start-up);
`zoo.core.registry.get_model_flags` finds them by name.
"""
from __future__ import annotations

import abc
import argparse
from typing import Any, ClassVar

from zoo.core.flags import positive_int


class ModelFlags(abc.ABC):
    """What training.py and generate.py parse for a model type, before anything is loaded."""

    name: ClassVar[str]
    # Defaults of general training.py flags that differ for this type, e.g. {"batch_size": 10}.
    flag_defaults: ClassVar[dict[str, Any]] = {}

    @classmethod
    @abc.abstractmethod
    def add_arguments(cls, parser: argparse._ArgumentGroup) -> None:
        """Adds this type's own training flags (and only those) to `parser`."""

    @classmethod
    def add_generate_arguments(cls, parser: argparse._ArgumentGroup) -> None:
        """Adds this type's own generate.py flags (e.g. `--mode`)."""


class TokenFlags(ModelFlags):
    """The generate.py flags of every next-token model type (`zoo.core.token_model_type`)."""

    @classmethod
    def add_generate_arguments(cls, parser) -> None:
        parser.add_argument("--length", type=positive_int, default=512, help="events per piece")
        parser.add_argument("--temperature", type=float, default=1.0, help="softmax temperature (0: greedy)")
        parser.add_argument("--top_k", type=int, default=0, help="sample among the k most likely (0: off)")
        parser.add_argument("--top_p", type=float, default=1.0, help="nucleus sampling mass (1: off)")
        parser.add_argument("--primer", default=None, help="MIDI/MusicXML/ABC file to continue")
        parser.add_argument("--primer_max_tokens", type=int, default=None, help="use only the primer's last N events")
