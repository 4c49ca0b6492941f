"""Encodings: Score <-> integer token ids (pure numpy). Importing this package registers them all."""
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
from zoo.encodings.melody import MelodyEncoding  # noqa: F401  (registers 'melody')
from zoo.encodings.leadsheet import LEADSHEET_ENCODINGS  # noqa: F401  (registers 'abs', 'cot', 'rel', 'poex')
from zoo.encodings.numeric import NumericEncoding
from zoo.encodings.pianoroll import PianorollEncoding  # noqa: F401  (registers 'pianoroll')
from zoo.encodings.notes import NotesEncoding  # noqa: F401  (registers 'notes')
from zoo.encodings.multitrack import MultitrackEncoding  # noqa: F401  (registers 'multitrack')

__all__ = [
    "EOS_ID",
    "NUM_SPECIAL",
    "PAD_ID",
    "Encoding",
    "EventEncoding",
    "NumericEncoding",
    "encoding_from_config",
    "encoding_names",
    "get_encoding_class",
]
