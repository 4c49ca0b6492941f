"""Fuzz inputs for every reader of the zoo, shared by tests/fuzz/test_fuzz_readers.py (CI smoke part)
and bench/fuzz_readers.py (the long run).

`make_case(reader, rng)` gives the bytes of one hostile file for `reader`: either a structured one
(a MIDI file built event by event with lying lengths, running status, absurd tempos; a lead sheet with
deep nesting and odd durations; JSON of the wrong shape; a WAV header lying about its sizes; a pickle
with hostile opcodes) or a real or built-in seed file mutated byte-wise (truncation, flipped, inserted,
deleted and duplicated bytes, huge 32-bit lengths). Every draw comes from `rng` (a `random.Random`), so
a case is reproduced from its seed, and hypothesis can drive the same code through `st.randoms()`.

`read_case(reader, path)` runs the reader the way a user reaches it (plus, for scores, the common
encodings `prepare` would run next) and returns a short description; what it may raise is a
`ZooError`, anything else is a finding.
"""
from __future__ import annotations

import copy
import io
import json
import pickle
import random
import struct
from pathlib import Path

import numpy as np

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
READERS = ("midi", "ls", "abc", "musicxml", "json", "wav", "pickle")
SUFFIX = {"midi": ".mid", "ls": ".ls", "abc": ".abc", "musicxml": ".xml", "json": ".json", "wav": ".wav",
          "pickle": ".pkl"}
# 32-bit values that break length and count fields: zero, sign bits, all ones, just past a boundary.
HUGE_VALUES = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x0FFFFFFF)


# ---------------------------------------------------------------- byte mutation
def mutate(data: bytes, rng: random.Random, rounds: int | None = None) -> bytes:
    """`data` after 1-4 random byte-level edits."""
    buf = bytearray(data)
    for _ in range(rounds or rng.randint(1, 4)):
        op = rng.choice(("truncate", "flip", "set", "insert", "delete", "duplicate", "huge32", "huge_varlen"))
        pos = rng.randrange(len(buf) + 1) if buf else 0
        if op == "truncate":
            del buf[pos:]
        elif op == "flip" and pos < len(buf):
            buf[pos] ^= 1 << rng.randrange(8)
        elif op == "set" and pos < len(buf):
            buf[pos] = rng.choice((0x00, 0x7F, 0x80, 0xFF, rng.randrange(256)))
        elif op == "insert":
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == "delete":
            del buf[pos:pos + rng.randint(1, 8)]
        elif op == "duplicate" and buf:
            start = rng.randrange(len(buf))
            piece = buf[start:start + rng.randint(1, 64)]
            buf[pos:pos] = piece * rng.randint(1, 16)
        elif op == "huge32":
            buf[pos:pos + 4] = struct.pack(rng.choice(("<I", ">I")), rng.choice(HUGE_VALUES))
        elif op == "huge_varlen":
            buf[pos:pos] = b"\xff" * rng.choice((3, 4, 5, 64, 4000)) + b"\x7f"
    return bytes(buf)


def _big_digits(rng: random.Random) -> str:
    return rng.choice(("9" * rng.choice((13, 20, 400, 5000)), "1" + "0" * 12, str(2 ** 63), str(2 ** 31)))


# ---------------------------------------------------------------- MIDI
def _varlen(value: int) -> bytes:
    value &= 0x0FFFFFFF
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _midi_chunk(kind: bytes, body: bytes, rng: random.Random) -> bytes:
    length = len(body)
    if rng.random() < 0.15:  # a header that lies about the chunk's length
        length = rng.choice(HUGE_VALUES + (len(body) + 1, max(0, len(body) - 1)))
    return kind + struct.pack(">I", length & 0xFFFFFFFF) + body


def _midi_event(rng: random.Random, status: list[int]) -> bytes:
    """One track event (delta time first); `status` holds the running status."""
    delta = rng.choice((0, 0, 1, 96, 480, rng.randrange(1 << 14), 0x0FFFFFFF, 0x0FFFFFFF, 1 << 21))
    kind = rng.random()
    if kind < 0.45:  # note on/off, often with running status
        channel = rng.choice((0, 0, 1, 9, 15))
        byte = rng.choice((0x90, 0x90, 0x80)) | channel
        pitch, velocity = rng.choice((60, 64, 67, 0, 127, rng.randrange(128))), rng.choice((0, 64, 100, 127))
        if status and status[0] == byte and rng.random() < 0.6:
            return _varlen(delta) + bytes((pitch, velocity))
        status[:] = [byte]
        return _varlen(delta) + bytes((byte, pitch, velocity))
    if kind < 0.55:  # tempo: zero, one microsecond, the largest, random
        tempo = rng.choice((0, 1, 0xFFFFFF, 500000, rng.randrange(1 << 24)))
        return _varlen(delta) + b"\xff\x51\x03" + tempo.to_bytes(3, "big")
    if kind < 0.62:  # time signature with odd numerator / denominator power
        return _varlen(delta) + b"\xff\x58\x04" + bytes((rng.choice((0, 4, 255)), rng.choice((0, 2, 7, 31, 255)), 24, 8))
    if kind < 0.67:
        return _varlen(delta) + b"\xff\x59\x02" + bytes((rng.randrange(256), rng.randrange(256)))
    if kind < 0.74:  # unknown meta, sometimes with a lying length
        body = bytes(rng.randrange(256) for _ in range(rng.randint(0, 8)))
        length = len(body) if rng.random() < 0.7 else rng.choice((0x0FFFFFFF, 1000001, len(body) + 3))
        return _varlen(delta) + bytes((0xFF, rng.choice((0x60, 0x21, 0x7F, 0x03, 0x05)))) + _varlen(length) + body
    if kind < 0.80:  # sysex / escape
        body = bytes(rng.randrange(128) for _ in range(rng.randint(0, 8))) + b"\xf7"
        return _varlen(delta) + bytes((rng.choice((0xF0, 0xF7)),)) + _varlen(len(body)) + body
    if kind < 0.88:  # program change, pitch bend, channel pressure
        status[:] = []
        return _varlen(delta) + rng.choice((bytes((0xC0 | rng.randrange(16), rng.randrange(128))),
                                            bytes((0xE0, rng.randrange(128), rng.randrange(128))),
                                            bytes((0xD0, rng.randrange(128)))))
    if kind < 0.93:  # a stray status or data byte
        return _varlen(delta) + bytes((rng.choice((0xF1, 0xF4, 0xFD, 0x00, 0x7F, 0xFF)),))
    return _varlen(delta) + b"\xff\x03" + _varlen(5) + "Titel".encode()


def build_midi(rng: random.Random) -> bytes:
    """A MIDI file built byte by byte from random events, header fields and chunk lengths."""
    fmt = rng.choice((0, 1, 1, 2, 3, 0xFFFF))
    division = rng.choice((96, 480, 1, 0, 0x7FFF, 0x8000 | 0x1850, 0xE728))
    ntracks = rng.choice((1, 1, 2, 3, 0, 0xFFFF))
    header = struct.pack(">HHH", fmt, ntracks, division)
    out = _midi_chunk(b"MThd", header, rng)
    for _ in range(rng.choice((1, 1, 2, 3))):
        status: list[int] = []
        body = b"".join(_midi_event(rng, status) for _ in range(rng.randint(0, 40)))
        if rng.random() < 0.85:
            body += b"\x00\xff\x2f\x00"
        kind = b"MTrk" if rng.random() < 0.95 else rng.choice((b"XFIH", b"MTrK"))
        out += _midi_chunk(kind, body, rng)
    return out


def builtin_midi() -> list[bytes]:
    """Small valid MIDI files made with mido (types 0, 1 and 2; tempo, meter, key, drums)."""
    import mido

    files = []
    for kind in (0, 1, 2):
        midi = mido.MidiFile(type=kind, ticks_per_beat=96)
        for t in range(1 if kind == 0 else 2):
            track = mido.MidiTrack()
            track.append(mido.MetaMessage("track_name", name=f"part {t}"))
            track.append(mido.MetaMessage("set_tempo", tempo=500000))
            track.append(mido.MetaMessage("time_signature", numerator=3, denominator=4))
            track.append(mido.MetaMessage("key_signature", key="Eb"))
            track.append(mido.Message("program_change", program=5, channel=t))
            for i, pitch in enumerate((60, 62, 64, 65, 67)):
                channel = 9 if t == 1 and kind == 2 else t
                track.append(mido.Message("note_on", note=pitch + 12 * t, velocity=90, time=0 if i == 0 else 0,
                                          channel=channel))
                track.append(mido.Message("note_off", note=pitch + 12 * t, velocity=0, time=48, channel=channel))
            midi.tracks.append(track)
        buffer = io.BytesIO()
        midi.save(file=buffer)
        files.append(buffer.getvalue())
    return files


# ---------------------------------------------------------------- Impro-Visor lead sheets
BUILTIN_LS = """(title Fuzz Blues)
(composer nobody)
(meter 4 4)
(tempo 160)
(part
    (type chords)
    (title )
)
C7 | F7 | C7 / | C7 | F7 | F7 | C7 | A7 | Dm7 | G7 | C7 A7 | Dm7 G7 |
(part
    (type melody)
    (title )
)
c8 e8 g8 bb8 a4 r4 f+4.. e-16 d8/3 d8/3 d8/3 c2+8 r8 g4 a4 b4 c+1 r1 e16/5 e16/5 e16/5 e16/5 e16/5 r4
"""


def build_ls(rng: random.Random) -> bytes:
    """A lead sheet with odd meters, tempos, durations, chords, nesting and parentheses."""
    lines = []
    if rng.random() < 0.8:
        lines.append(f"(meter {rng.choice(('4', '3', '0', '-1', '1000000000', _big_digits(rng), 'x'))} "
                     f"{rng.choice(('4', '8', '0', '3', '1', '1024'))})")
    if rng.random() < 0.5:
        lines.append(f"(tempo {rng.choice(('120', '0', '-5', 'nan', 'inf', '1e400', '1e-300', _big_digits(rng)))})")
    if rng.random() < 0.3:  # deep nesting, balanced or not
        depth = rng.choice((50, 1000, 100000))
        lines.append("(" * depth + "x" + ")" * (depth - rng.choice((0, 0, 1, -1))))
    chords = [rng.choice(("C", "Dm7", "G7", "Bb7#11", "F#m7b5", "C/G", "C/H", "Xyz", "/", "|", "NC", "Ab13sus"))
              for _ in range(rng.randint(0, 24))]
    notes = []
    for _ in range(rng.randint(0, 40)):
        letter = rng.choice("abcdefgr")
        duration = rng.choice(("", "4", "8", "8/3", "1", "4.", "16/5", "0", "1......", "3", "4/1", "4/0",
                               "1+1+1+1+1+1+1+1", _big_digits(rng), "1/" + _big_digits(rng), "+", "4+", "2." * 3))
        notes.append(letter + rng.choice(("", "#", "b")) + rng.choice(("", "+", "--", "+" * 40)) + duration)
    if rng.random() < 0.1:  # one melody note tied over a very long span
        notes.append("c" + "+".join(["1"] * rng.choice((1000, 20000))))
    lines += ["(part", "    (type chords)", ")", " ".join(chords)]
    lines += ["(part", f"    (type {rng.choice(('melody', 'melody', 'chords', 'bass'))})", ")", " ".join(notes)]
    if rng.random() < 0.2:
        lines.insert(rng.randrange(len(lines) + 1), rng.choice((")", "(", "((", "'", "(part", "(type")))
    return "\n".join(lines).encode("utf-8")


# ---------------------------------------------------------------- music21 (ABC, MusicXML)
BUILTIN_ABC = """X:1
T:Fuzz Reel
M:4/4
L:1/8
Q:1/4=120
K:G
"G"GABc dedB|"D"dedB "G"dBGB|"C"ceed "G"dBGB|"Am"A2A2 "D7"ABcA|
"G"GABc dedB|"D"dedB dBGB|"C"cege "D"fdfd|"G"g2g2 g4:|
"""

BUILTIN_MUSICXML = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE score-partwise PUBLIC "-//Recordare//DTD MusicXML 3.1 Partwise//EN" "http://www.musicxml.org/dtds/partwise.dtd">
<score-partwise version="3.1">
  <part-list><score-part id="P1"><part-name>Fuzz</part-name></score-part></part-list>
  <part id="P1">
    <measure number="1">
      <attributes><divisions>2</divisions><key><fifths>0</fifths></key>
        <time><beats>4</beats><beat-type>4</beat-type></time><clef><sign>G</sign><line>2</line></clef></attributes>
      <note><pitch><step>C</step><octave>4</octave></pitch><duration>2</duration><type>quarter</type></note>
      <note><pitch><step>E</step><octave>4</octave></pitch><duration>2</duration><type>quarter</type></note>
      <note><pitch><step>G</step><octave>4</octave></pitch><duration>4</duration><type>half</type></note>
    </measure>
  </part>
</score-partwise>
"""


def build_abc(rng: random.Random) -> bytes:
    """An ABC tune with odd lengths, meters, tempos, tuplets and ties."""
    meter = rng.choice(("4/4", "3/4", "0/4", "4/0", "C|", "99999/1", "none"))
    unit = rng.choice(("1/8", "1/16", "1/0", "0/1", "1/99999"))
    body = []
    for _ in range(rng.randint(1, 30)):
        body.append(rng.choice("ABCDEFGabcdefgz") + rng.choice(("", "2", "/", "3/2", "0", "999999", _big_digits(rng)[:30],
                                                                   "-", "//////", "/0")))
        if rng.random() < 0.2:
            body.append(rng.choice(("|", "(3", "[", "]", "\"G7\"", "\"Xq\"", ":|", "|:", "^", "_", "=", "(99")))
    text = f"X:1\nT:Fuzz\nM:{meter}\nL:{unit}\nQ:{rng.choice(('1/4=120', '1/4=0', '1/4=99999999', '1/0=4'))}\n" \
           f"K:{rng.choice(('G', 'Am', 'Hmix', 'C', ''))}\n" + " ".join(body) + "|\n"
    return text.encode("utf-8")


def build_musicxml(rng: random.Random) -> bytes:
    """The built-in MusicXML with odd divisions, durations and beat counts substituted."""
    text = BUILTIN_MUSICXML
    for field, values in (("<divisions>2<", ("0", "-1", "1000000000", _big_digits(rng)[:40], "x")),
                          ("<duration>4<", ("0", "-4", "99999999999", "nan")),
                          ("<beats>4<", ("0", "99999", "-1")),
                          ("<octave>4<", ("-1", "99", "x"))):
        if rng.random() < 0.4:
            text = text.replace(field, field.split(">")[0] + ">" + rng.choice(values) + "<", 1)
    return text.encode("utf-8")


# ---------------------------------------------------------------- piano-roll JSON
def _builtin_rolls() -> dict:
    return {"train": [[[60, 64, 67], [60, 64, 67], [62], []], [[48, 55.0]]],
            "valid": [[[21], [108]]], "test": [[[72, 76], [74]]]}


def build_json(rng: random.Random) -> bytes:
    """Piano-roll JSON of the right or the wrong shape, odd numbers and deep nesting."""
    choice = rng.random()
    if choice < 0.15:  # deep nesting
        depth = rng.choice((100, 5000, 200000))
        return ("[" * depth + "]" * depth).encode() if rng.random() < 0.5 else (
            '{"train": ' + "[" * depth + "]" * depth + ', "valid": [], "test": []}').encode()
    if choice < 0.25:  # numbers past float and the int-digit limit
        number = rng.choice((_big_digits(rng), "1e400", "-1e400", "NaN", "Infinity", "-0", "60.5", "true", "null"))
        return ('{"train": [[[' + number + ']]], "valid": [[[60]]], "test": [[[60]]]}').encode()
    data = _builtin_rolls()
    if choice < 0.4:  # valid: random pitches (ints or whole floats) and empty frames
        for split in data:
            data[split] = [[[rng.choice((21, 108, rng.randint(21, 108), float(rng.randint(21, 108))))
                             for _ in range(rng.randint(0, 4))] for _ in range(rng.randint(1, 6))]
                           for _ in range(rng.randint(1, 3))]
        return json.dumps(data).encode()
    odd = [None, True, 60.0, 60.5, -1, 2 ** 70, "60", {}, [], [[60]], 1e308, float("nan")]
    for _ in range(rng.randint(1, 4)):
        split = rng.choice(("train", "valid", "test"))
        where = rng.random()
        if where < 0.25:
            data[split] = copy.deepcopy(rng.choice(odd))
        elif where < 0.5 and data.get(split) and isinstance(data[split], list):
            data[split][0] = copy.deepcopy(rng.choice(odd))
        elif where < 0.8 and isinstance(data.get(split), list) and data[split] and isinstance(data[split][0], list):
            data[split][0].append(copy.deepcopy(rng.choice(odd) if rng.random() < 0.5 else [rng.choice(odd)]))
        else:
            data.pop(split, None)
    if rng.random() < 0.1:
        data = rng.choice(([], "train", 3, None, {"train": []}))
    return json.dumps(data, allow_nan=True).encode()


# ---------------------------------------------------------------- WAV
def build_wav(rng: random.Random) -> bytes:
    """A RIFF/WAVE file whose header fields and chunk sizes may lie."""
    fmt_tag = rng.choice((1, 1, 3, 0xFFFE, 0, 2, 0x5555))
    channels = rng.choice((1, 1, 2, 0, 3, 0xFFFF))
    rate = rng.choice((22050, 44100, 8000, 0, 1, 7, 0xFFFFFFFF, 2 ** 31))
    bits = rng.choice((16, 16, 8, 24, 32, 64, 0, 7, 12))
    block = channels * bits // 8 if rng.random() < 0.8 else rng.choice((0, 1, 3, 0xFFFF))
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate & 0xFFFFFFFF, (rate * max(block, 1)) & 0xFFFFFFFF,
                      block & 0xFFFF, bits)
    if fmt_tag == 0xFFFE:
        fmt += struct.pack("<HHHI", 22, bits, 0, 4) + bytes(16) if rng.random() < 0.5 else b"\x00\x00"
    samples = bytes(rng.randrange(256) for _ in range(rng.choice((0, 1, 3, 64, 2000))))
    data_size = len(samples) if rng.random() < 0.7 else rng.choice(HUGE_VALUES)
    chunks = [b"fmt " + struct.pack("<I", len(fmt) if rng.random() < 0.9 else rng.choice(HUGE_VALUES)) + fmt]
    if rng.random() < 0.3:
        extra = bytes(rng.randrange(256) for _ in range(rng.randint(0, 9)))
        chunks.append(rng.choice((b"LIST", b"fact", b"junk", b"\x00\x00\x00\x00")) + struct.pack("<I", len(extra)) + extra)
    chunks.append(b"data" + struct.pack("<I", data_size & 0xFFFFFFFF) + samples)
    rng.shuffle(chunks) if rng.random() < 0.1 else None
    body = b"WAVE" + b"".join(chunks)
    riff = rng.choice((b"RIFF", b"RIFF", b"RIFX", b"RF64"))
    size = len(body) if rng.random() < 0.8 else rng.choice(HUGE_VALUES)
    return riff + struct.pack("<I", size & 0xFFFFFFFF) + body


def builtin_wav() -> list[bytes]:
    t = np.arange(2205) / 22050.0
    pcm = (np.sin(2 * np.pi * 440 * t) * 12000).astype("<i2").tobytes()
    import wave

    out = []
    for channels, rate in ((1, 22050), (2, 44100)):
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as file:
            file.setnchannels(channels)
            file.setsampwidth(2)
            file.setframerate(rate)
            file.writeframes(pcm * channels)
        out.append(buffer.getvalue())
    return out


# ---------------------------------------------------------------- pickles
def _data_file(rng: random.Random) -> dict:
    """A zoo data split like prepare.py writes (format 1 layout, see zoo/data/prepare.py)."""
    from zoo.data.splits import DATA_FORMAT

    pieces = rng.choice(([np.arange(2, 40, dtype=np.int32)],
                         [np.zeros((8, 88), np.uint8), np.ones((4, 88), np.uint8)],
                         [{"melody": np.arange(16, dtype=np.int32), "chords": np.zeros((16, 12), np.uint8)}]))
    return {"format": DATA_FORMAT, "encoding": {"name": "event"}, "pieces": pieces,
            "sources": [f"piece{i}.mid" for i in range(len(pieces))]}


def _hostile_pickle(rng: random.Random) -> bytes:
    """Hand-written opcode streams: huge memo indexes, lying lengths, allowed callables with hostile args."""
    proto = b"\x80\x04"
    choice = rng.randrange(9)
    if choice == 0:  # LONG_BINPUT with a huge memo index (the C unpickler grows its memo to match)
        return proto + b"N" + b"r" + struct.pack("<I", rng.choice((0x0FFFFFFF, 0x7FFFFFFF, 0xFFFFFFFF))) + b"."
    if choice == 1:  # FRAME / BINBYTES8 / BINUNICODE8 declaring terabytes
        op = rng.choice((b"\x95", b"\x8e", b"\x8d"))
        return proto + op + struct.pack("<Q", rng.choice((2 ** 40, 2 ** 63 - 1, 2 ** 32))) + b"abc."
    if choice == 2:  # bytearray(huge int)
        return proto + b"\x8c\x08builtins\x8c\tbytearray\x93" + b"\x8a\x05\x00\x00\x00\x00\x01" + b"\x85R."
    if choice == 3:  # numpy _reconstruct(ndarray, huge shape, 'b'), or scalar of a huge dtype
        shape = b"\x8a\x05\x00\x00\x00\x10\x00" * 2
        if rng.random() < 0.5:
            return (proto + b"\x8c\x16numpy._core.multiarray\x8c\x0c_reconstruct\x93\x8c\x05numpy\x8c\x07ndarray\x93"
                    + b"(" + shape + b"t" + b"C\x01b\x87R.")
        return (proto + b"\x8c\x16numpy._core.multiarray\x8c\x06scalar\x93\x8c\x05numpy\x8c\x05dtype\x93"
                + b"\x8c\x0bV2000000000\x85R\x85R.")
    if choice == 4:  # ndarray(huge shape) called directly
        return proto + b"\x8c\x05numpy\x8c\x07ndarray\x93" + b"\x8a\x05\x00\x00\x00\x10\x00" * 2 + b"\x86\x85R."
    if choice == 5:  # a global that runs code
        module, name = rng.choice(((b"os", b"system"), (b"builtins", b"eval"), (b"subprocess", b"Popen")))
        return (proto + b"\x8c" + bytes([len(module)]) + module + b"\x8c" + bytes([len(name)]) + name + b"\x93"
                + b"\x8c\x04true\x85R.")
    if choice == 6:  # _codecs.encode through an odd codec
        return proto + b"\x8c\x07_codecs\x8c\x06encode\x93\x8c\x03abc\x8c\x04zlib\x86R."
    if choice == 7:  # deeply nested lists, or many MARKs
        depth = rng.choice((1000, 100000))
        return proto + b"(" * depth + b"]" + b"l" * (depth - 1) + b"."
    return proto + b"N" + b"h" + bytes([rng.randrange(256)]) + b"."  # BINGET of an empty memo slot


def build_pickle(rng: random.Random) -> bytes:
    """A zoo data pickle at a random protocol, or a hostile opcode stream, or one spliced into the other."""
    if rng.random() < 0.5:
        return _hostile_pickle(rng)
    data = pickle.dumps(_data_file(rng), protocol=rng.randint(0, 5))
    if rng.random() < 0.5:  # a layout load_split must refuse
        from zoo.data.splits import DATA_FORMAT

        layout = rng.choice(({"format": DATA_FORMAT}, {"format": DATA_FORMAT, "pieces": 3, "encoding": {}}, [1, 2],
                             {"format": DATA_FORMAT, "pieces": [], "encoding": 5, "sources": 7},
                             {"format": DATA_FORMAT, "pieces": [], "encoding": {"name": "event"}, "sources": 7},
                             {"format": DATA_FORMAT, "pieces": [np.zeros(())], "encoding": {"name": "x"}}))
        data = pickle.dumps(layout, protocol=rng.randint(0, 5))
    return data


# ---------------------------------------------------------------- seeds and cases
def _shared_files(pattern: str, count: int) -> list[bytes]:
    files = sorted(SHARED_DATA.glob(pattern), key=lambda p: (p.stat().st_size, p.name))[:count] \
        if SHARED_DATA.is_dir() else []
    return [p.read_bytes() for p in files]


def seed_inputs(reader: str) -> list[bytes]:
    """Valid files to mutate: built-in ones (so the suite runs without ../shared) plus small real ones."""
    if reader == "midi":
        return builtin_midi() + _shared_files("nottingham/MIDI/*.mid", 4)
    if reader == "ls":
        return [BUILTIN_LS.encode()] + _shared_files("leadsheets/**/*.ls", 3)
    if reader == "abc":
        return [BUILTIN_ABC.encode()]
    if reader == "musicxml":
        return [BUILTIN_MUSICXML.encode()]
    if reader == "json":
        seeds = [json.dumps(_builtin_rolls()).encode()]
        jsb = SHARED_DATA / "polyphonic" / "JSB_Chorales.json"
        if jsb.is_file():
            data = json.loads(jsb.read_text())
            seeds.append(json.dumps({k: v[:2] for k, v in data.items()}).encode())
        return seeds
    if reader == "wav":
        return builtin_wav()
    if reader == "pickle":
        rng = random.Random(0)
        return [pickle.dumps(_data_file(rng), protocol=p) for p in (2, 4, 5)]
    raise ValueError(f"unknown reader {reader}")


BUILDERS = {"midi": build_midi, "ls": build_ls, "abc": build_abc, "musicxml": build_musicxml, "json": build_json,
            "wav": build_wav, "pickle": build_pickle}


def make_case(reader: str, rng: random.Random, seeds: list[bytes] | None = None) -> bytes:
    """One fuzz input for `reader`: a structured build (half the time), else a mutated seed."""
    if rng.random() < 0.5:
        data = BUILDERS[reader](rng)
        return mutate(data, rng, 1) if rng.random() < 0.2 else data
    seeds = seeds if seeds is not None else seed_inputs(reader)
    return mutate(rng.choice(seeds), rng)


# ---------------------------------------------------------------- running a reader
_ENCODINGS = ("event", "pianoroll", "melody")


def _encode_all(score) -> str:
    """Runs the encodings `prepare` uses most on a parsed score; ZooErrors pass through to the caller."""
    from zoo.encodings.base import get_encoding_class
    from zoo.errors import ZooError

    done = []
    for name in _ENCODINGS:
        try:
            get_encoding_class(name)().encode(score)
            done.append(name)
        except ZooError:
            pass
    return f"encoded by {','.join(done) or 'none'}"


def read_case(reader: str, path: Path) -> str:
    """Reads `path` with `reader` the way a user reaches it; raises ZooError for a refused file."""
    if reader in ("midi", "ls"):
        from zoo.music.io import load_score

        score = load_score(path)
        return f"score with {score.num_notes} notes; " + _encode_all(score)
    if reader in ("abc", "musicxml"):
        from zoo.music.io import load_tunes

        scores = load_tunes(path)
        return f"{len(scores)} tunes; " + _encode_all(scores[0])
    if reader == "json":
        from zoo.families.rnn_piano.polyphonic import read_polyphonic_json

        splits = read_polyphonic_json(path)
        return f"{sum(len(v) for v in splits.values())} rolls"
    if reader == "wav":
        from zoo.errors import ZooError
        from zoo.families.crossmodal.play_inputs import load_audio_input
        from zoo.music.audio import read_wav

        outcome = []
        for read in (lambda name: read_wav(name)[0], load_audio_input):
            try:
                outcome.append(f"{len(read(str(path)))} samples")
            except ZooError as error:
                outcome.append(type(error).__name__)
        return ", ".join(outcome)
    if reader == "pickle":
        from zoo.data.dataset import load_split

        split = load_split(path)
        return f"{len(split.pieces)} pieces"
    raise ValueError(f"unknown reader {reader}")


def warm_up(reader: str) -> None:
    """Imports what `reader` needs (TensorFlow, music21, ...) so a case's time and memory are its own."""
    import importlib

    from zoo.errors import ZooError

    importlib.import_module("zoo.encodings")  # registers every encoding
    if reader == "wav":
        importlib.import_module("scipy.signal")  # load_audio_input resamples with it: seconds to import

    for seed in seed_inputs(reader)[:1]:
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"warm{SUFFIX[reader]}"
            path.write_bytes(seed)
            try:
                read_case(reader, path)
            except ZooError:
                pass
