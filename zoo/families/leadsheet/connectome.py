"""The `.ctome` connectome: a trained lead-sheet network in the layout Impro-Visor's LSTM players read.

A `.ctome` is a zip of one `param_<key>.csv` per parameter tensor (%.18e, one row per line) plus
`config.txt` naming the network (specs/lstmprovisor.md §7). `connectome_tensors` reads the
parameters of the Keras layers in the original's order and orientation (theano_lstm's W = [kernel,
recurrent] per gate); `write_connectome` writes them. Used by `poex` and by `compae` (encoders,
then decoders).
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import keras
import numpy as np

from zoo.atomic import atomic_path

GATES = ("input", "forget", "activate", "out")  # theano_lstm's gate order = Keras's i, f, c, o


def write_connectome(output: Path, tensors: list[tuple[str, np.ndarray]], config_text: str) -> Path:
    """Writes a `.ctome` zip (one param_<key>.csv per tensor, %.18e, plus config.txt) atomically; returns its path."""
    path = output if output.suffix == ".ctome" else output.with_suffix(".ctome")
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
            for key, array in tensors:
                archive.writestr(f"param_{key}.csv", _csv(array))
            archive.writestr("config.txt", config_text)
    return path


def connectome_tensors(model: keras.Model, experts: tuple[str, ...], layer_prefix: str = "",
                       key_prefix: str = "") -> list[tuple[str, np.ndarray]]:
    """(key, array) in the original's parameter order: per expert, per LSTM layer the four gates' W (H, in+H)
    and b; then the output layer's W (out, H) and b; then every layer's initial state [c0, h0].

    Layers are named `{layer_prefix}{kind}_lstm{i}`...; keys `{key_prefix}{e}_lstm{i}_{gate}_w`... (compae:
    "enc_"/"dec_")."""
    tensors = []
    for e, kind in enumerate(experts):
        name, e = f"{layer_prefix}{kind}", f"{key_prefix}{e}"
        depth = sum(1 for layer in model.layers if layer.name.startswith(f"{name}_lstm")
                    and not layer.name.endswith("initialstate") and layer.name[len(name) + 5:].isdigit())
        for layer in range(1, depth + 1):
            kernel, recurrent, bias = (w.numpy() for w in model.get_layer(f"{name}_lstm{layer}").cell.weights)
            units = recurrent.shape[0]
            for g, gate in enumerate(GATES):
                cols = slice(g * units, (g + 1) * units)
                tensors.append((f"{e}_lstm{layer}_{gate}_w", np.concatenate([kernel[:, cols].T, recurrent[:, cols].T], 1)))
                tensors.append((f"{e}_lstm{layer}_{gate}_b", bias[cols]))
        full = model.get_layer(f"{name}_full")
        tensors.append((f"{e}_full_w", full.kernel.numpy().T))
        tensors.append((f"{e}_full_b", full.bias.numpy()))
        for layer in range(1, depth + 1):
            tensors.append((f"{e}_lstm{layer}_initialstate",
                            model.get_layer(f"{name}_lstm{layer}_initialstate").state.numpy()))
    return tensors


def _csv(array: np.ndarray) -> str:
    array = np.atleast_2d(np.asarray(array, np.float64))
    return "\n".join(",".join(f"{v:.18e}" for v in row) for row in array) + "\n"
