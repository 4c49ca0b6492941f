"""Encodings: Score <-> integer token ids (pure numpy). The ones several families share live here;
`get_encoding_class` finds any encoding by name, a family's own included, importing only its module."""
from zoo.encodings.base import (
    EOS_ID,
    NUM_SPECIAL,
    PAD_ID,
    Encoding,
    encoding_from_config,
    encoding_names,
    get_encoding_class,
)
from zoo.encodings.event import EventEncoding
from zoo.encodings.numeric import NumericEncoding
from zoo.encodings.pianoroll import PianorollEncoding

__all__ = [
    "EOS_ID",
    "NUM_SPECIAL",
    "PAD_ID",
    "Encoding",
    "EventEncoding",
    "NumericEncoding",
    "PianorollEncoding",
    "encoding_from_config",
    "encoding_names",
    "get_encoding_class",
]
