"""Saving and loading models safely: atomic `.keras` writes and a loader that runs no one else's code.

A `.keras` file is a zip whose `config.json` names the classes and functions to rebuild. Keras safe
mode refuses Python lambdas; before Keras sees a file, `check_keras_file` also walks that config
and refuses anything that would reach code outside Keras and the zoo: a module other than
keras.* / zoo.*, a Keras namespace that touches files, the network or global settings
(keras.utils, keras.config, keras.applications, ...), or a registered name that resolves to a
class of another package. SavedModel folders, legacy HDF5 models and Keras folders are never
loaded: the zoo only reads `.keras` zips (and `.weights.h5` files, which hold arrays alone).
Before Keras opens those arrays (a `.weights.h5` file, a `.keras` zip's `model.weights.h5`),
`check_h5_arrays` refuses the HDF5 objects through which h5py would read another file of this
machine: external and soft links, virtual datasets and datasets with external raw storage.
"""
from __future__ import annotations

import importlib
import io
import json
import os
import pkgutil
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import IO, Any, Iterator

import h5py
import keras

from zoo.atomic import atomic_path
from zoo.core.registry import import_family
from zoo.errors import RunError

MAX_CONFIG_BYTES = 64 << 20
# The zoo's own member of a `.keras` zip: what the trainer knew of the file when it wrote it (the epoch, the
# validation loss of best.keras), inside the one atomic write, so the file and its score never disagree.
ZOO_MEMBER = "zoo.json"  # a zoo model's config.json is well under 1 MiB; refuse absurd ones unread
# The member of a `.keras` zip that holds the arrays, the one Keras opens with h5py.
WEIGHTS_MEMBER = "model.weights.h5"
# A zoo model's weights file holds a few hundred HDF5 objects (bach-transformer: 141), nested a few levels per
# model inside a model. Walking one object takes ~40 µs: the caps keep a hostile file's walk to a few seconds
# (and refuse a hard link that loops back to its own group, which nests without end).
MAX_H5_OBJECTS = 100_000
MAX_H5_DEPTH = 64
# The weights member is checked from a copy in memory: bounded, as a zip member may claim any size.
MAX_WEIGHTS_MEMBER_BYTES = 1 << 30
_TRUSTED_PACKAGES = ("keras", "zoo")
# Keras namespaces whose functions read or write files, reach the network, or change global
# settings: nothing a model's layers need, so a config that names them is refused.
_UNSAFE_KERAS_NAMESPACES = frozenset({
    "applications", "backend", "callbacks", "config", "datasets", "distribution", "export", "legacy",
    "preprocessing", "saving", "utils", "visualization",
})
# Where Keras looks up a function saved as 'builtins' (serialization_lib.BUILTIN_MODULES).
_KERAS_BUILTIN_SPACES = ("activations", "constraints", "initializers", "losses", "metrics", "optimizers",
                         "regularizers")
# Encoded values, not classes: Keras rebuilds them without looking anything up.
_VALUE_CLASS_NAMES = frozenset({"__numpy__", "__bytes__", "__tensor__", "__slice__", "__ellipsis__"})


def save_model(model: keras.Model, path: str | os.PathLike, metadata: dict[str, Any] | None = None) -> None:
    """Writes a `.keras` file atomically: a crash mid-write leaves the previous file intact.

    `metadata` (plain JSON) goes into the same zip (see `read_model_metadata`); Keras ignores it.
    """
    with atomic_path(path) as tmp:
        model.save(tmp)
        if metadata:
            with zipfile.ZipFile(tmp, "a") as archive:
                archive.writestr(ZOO_MEMBER, json.dumps(metadata, sort_keys=True))


def read_model_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The `metadata` that `save_model` stored in a `.keras` file; {} for none, a missing or an unreadable file."""
    try:
        with zipfile.ZipFile(path) as archive:
            if ZOO_MEMBER not in archive.namelist() or archive.getinfo(ZOO_MEMBER).file_size > 1 << 20:
                return {}
            metadata = json.loads(archive.read(ZOO_MEMBER))
    except (OSError, zipfile.BadZipFile, zlib.error, ValueError, EOFError):
        return {}
    return metadata if isinstance(metadata, dict) else {}


def save_weights(model: keras.Model, path: str | os.PathLike) -> None:
    """Writes `model` weights and optimizer state (`.weights.h5`) atomically.

    Keras's own writer builds the file in memory, and one plain write puts it on disk: HDF5 writing straight
    to a disk that fills up under it can crash the process (a SIGSEGV in bench/kill_resume.py's full-disk
    scenario) where a plain write raises ENOSPC. (No public Keras call writes weights to a file object.)
    """
    from keras.src.saving import saving_lib

    buffer = io.BytesIO()
    store = saving_lib.H5IOStore(buffer, mode="w")
    try:
        saving_lib._save_state(model, weights_store=store, assets_store=None, inner_path="", visited_saveables=set())
    finally:
        store.close()
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())


def load_model(path: str | os.PathLike) -> keras.Model:
    """Loads a `.keras` file after `check_keras_file`, in Keras safe mode; RunError when corrupt or unsafe.

    The check imports the family whose classes the file names (files written before the families had
    folders name old modules: their family must be imported first, as `get_model_type` of the run's
    model type does), and no other family.
    """
    path = Path(path)
    check_keras_file(path)
    try:
        return keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # zip, h5 and deserialisation errors come in many types
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise RunError(f"cannot load {path}: the file is corrupt, truncated or unsafe ({reason[:200]})") from None


def load_weights_into(model: keras.Model, path: str | os.PathLike) -> None:
    """Copies the weights of a `.keras` or `.weights.h5` file into `model`, rebuilding no object of the file.

    Only arrays are read (Keras's weights-only loading), so nothing the file names is imported or
    called; the `.keras` file is still checked first, so a hostile one is named as such.
    RunError for a SavedModel, another format, or weights of another shape.
    """
    path = Path(path)
    check_weights_file(path)
    try:
        model.load_weights(path)
    except Exception as error:  # shape mismatch, corrupt h5 or zip
        difference = _first_difference(model, path)
        if difference:
            raise RunError(f"the weights of {path} do not fit this model: {difference}") from None
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise RunError(f"cannot load weights from {path}: they do not fit this model or the file is corrupt "
                       f"({reason[:200]})") from None


def _first_difference(model: keras.Model, path: Path) -> str | None:
    """Names the first weight whose shape differs between `model` and the `.keras` model at `path`, if any."""
    if not path.name.endswith(".keras"):
        return None
    try:
        other = load_model(path)
    except RunError:
        return None
    if type(other).__name__ != type(model).__name__:
        return f"it holds a {type(other).__name__}, this run builds a {type(model).__name__}"
    mine, theirs = model.weights, other.weights
    for index, (a, b) in enumerate(zip(mine, theirs)):
        if tuple(a.shape) != tuple(b.shape):
            return (f"weight {index} ({a.path}) is {tuple(a.shape)} here but {tuple(b.shape)} in the file "
                    "(a different size flag or encoding)")
    if len(mine) != len(theirs):
        return f"this model has {len(mine)} weights, the file's {len(theirs)} (a different layer count or option)"
    return None


def check_weights_file(path: str | os.PathLike) -> None:
    """RunError unless `path` is a `.keras` file that `check_keras_file` accepts or a `.weights.h5` file
    that `check_h5_arrays` accepts."""
    path = Path(path)
    if path.name.endswith(".keras"):
        check_keras_file(path)
        return
    _refuse_non_file(path)
    if not path.name.endswith(".weights.h5"):
        raise RunError(f"cannot load weights from {path}: the zoo reads .keras and .weights.h5 files only")
    check_h5_arrays(path, str(path))


def _refuse_non_file(path: Path) -> None:
    if path.is_dir():
        if any((path / name).exists() for name in ("saved_model.pb", "saved_model.pbtxt")):
            raise RunError(f"{path} is a TensorFlow SavedModel: the zoo never loads SavedModels (their graph would "
                           "run as written by whoever made them); give a .keras file saved by the zoo")
        raise RunError(f"{path} is a folder, not a .keras file")
    if not path.is_file():
        raise RunError(f"no model file at {path}")


def check_keras_file(path: str | os.PathLike) -> None:
    """Refuses (RunError) anything but a `.keras` zip whose config names only Keras and zoo objects.

    Reads `config.json` from the zip as plain JSON (nothing is imported) and refuses: Python lambdas
    (a `keras.layers.Lambda(lambda ...)`), modules outside keras.* / zoo.*, unsafe Keras namespaces,
    registered names that resolve to another package's objects, archive members with absolute
    or `..` paths, and a `model.weights.h5` that `check_h5_arrays` refuses. The one import it makes
    is the family that the file's zoo classes name (`zoo.families.<family>.…`), through the
    registry's table, so that their names resolve.
    """
    path = Path(path)
    _refuse_non_file(path)
    if not path.name.endswith(".keras") or not zipfile.is_zipfile(path):
        raise RunError(f"cannot load {path}: the file is corrupt, truncated or not a .keras file (the zoo loads "
                       ".keras zips only, never HDF5 models or SavedModels)")
    try:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                parts = PurePosixPath(name.replace("\\", "/")).parts
                if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                    raise RunError(f"refusing {path}: it holds a member with a path outside the archive ({name!r})")
            try:
                info = archive.getinfo("config.json")
            except KeyError:
                raise RunError(f"cannot load {path}: not a .keras file (no config.json inside)") from None
            if info.file_size > MAX_CONFIG_BYTES:
                raise RunError(f"refusing {path}: its config.json claims {info.file_size} bytes")
            with archive.open(info) as file:
                text = file.read(MAX_CONFIG_BYTES + 1)
            if WEIGHTS_MEMBER in archive.namelist():
                info = archive.getinfo(WEIGHTS_MEMBER)
                if info.file_size > MAX_WEIGHTS_MEMBER_BYTES:
                    raise RunError(f"refusing {path}: its {WEIGHTS_MEMBER} claims {info.file_size} bytes (the zoo "
                                   f"loads models up to {MAX_WEIGHTS_MEMBER_BYTES >> 20} MiB)")
                # In memory: h5py seeks back and forth, and a zip member rereads itself from its start on each
                # backward seek (0.3 s for bach-transformer's 15 MB, against 20 ms for this copy).
                check_h5_arrays(io.BytesIO(archive.read(info)), f"{path} (its {WEIGHTS_MEMBER})")
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError, ValueError) as error:
        raise RunError(f"cannot load {path}: the file is corrupt or truncated ({error})") from None
    try:
        config = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise RunError(f"cannot load {path}: its config.json is not valid JSON ({str(error)[:120]})") from None
    if isinstance(config, dict):  # loaded with compile=False: Keras drops the top-level compile_config unread
        config = {key: value for key, value in config.items() if key != "compile_config"}
    for family in sorted(_families_named(config)):
        import_family(family)
    for module in sorted(_shared_layer_modules_named(config)):
        importlib.import_module(module)
    for node in _dicts(config):
        problem = _unsafe_reference(node)
        if problem:
            raise RunError(f"refusing {path}: its config names {problem}; the zoo loads only Keras and zoo "
                           "objects (nothing of the file was run)")


def check_h5_arrays(source: str | os.PathLike | IO[bytes], label: str) -> None:
    """Refuses (RunError) HDF5 weights whose arrays h5py would read from another file of this machine.

    `source` is a path or a seekable file object (a zip member); `label` names it in messages. Every
    group is walked without following a link, and the first of these is refused: an external link, a
    soft link (Keras writes neither), a virtual dataset (its data mapped from other files) or a
    dataset whose raw data sits in external files. Only the file's structure is read, no array.
    """
    try:
        with h5py.File(source, "r") as file:
            problem = _h5_outside_reference(file)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise RunError(f"cannot load {label}: the file is corrupt or truncated ({reason[:200]})") from None
    if problem:
        raise RunError(f"refusing {label}: {problem}; the zoo reads only arrays stored in the file itself "
                       "(nothing was read)")


def _h5_outside_reference(file: h5py.File) -> str | None:
    """What in `file` would make h5py read another file (or makes the walk too long), None when nothing.

    Depth first with an explicit stack of the groups open on the way down, each with the names it has
    left: only those few groups are held open, however wide the file.
    """
    stack = [(file, "", iter(file))]
    visited = 0
    while stack:
        group, path, names = stack[-1]
        name = next(names, None)
        if name is None:
            stack.pop()
            continue
        visited += 1
        if visited > MAX_H5_OBJECTS:
            return f"it holds more than {MAX_H5_OBJECTS:,} HDF5 links"
        where = f"{path}/{name}"
        link = group.get(name, getlink=True)
        if isinstance(link, h5py.ExternalLink):
            return (f"HDF5 object {_shown(where)} is an external link to {_shown(link.path)} "
                    f"in {_shown(link.filename)}")
        if isinstance(link, h5py.SoftLink):
            return f"HDF5 object {_shown(where)} is a soft link to {_shown(link.path)}"
        item = group[name]  # a hard link: an object of this file
        if isinstance(item, h5py.Group):
            if len(stack) > MAX_H5_DEPTH:  # the root group is the stack's first entry
                return f"its HDF5 groups nest deeper than {MAX_H5_DEPTH} levels (at {_shown(where)})"
            stack.append((item, where, iter(item)))
        elif isinstance(item, h5py.Dataset):
            if item.is_virtual:
                sources = ", ".join(sorted({source.file_name for source in item.virtual_sources()}))
                return f"HDF5 dataset {_shown(where)} is a virtual dataset mapping data from {_shown(sources)}"
            if item.external:
                return (f"HDF5 dataset {_shown(where)} keeps its data in external raw files "
                        f"({_shown(', '.join(file_name for file_name, _, _ in item.external))})")
    return None


def _shown(text: str | bytes) -> str:
    """A name from a file, quoted on one line and cut short (it could hold newlines or be megabytes long)."""
    text = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    return repr(text if len(text) <= 120 else text[:120] + "...")


def _dicts(config: Any) -> Iterator[dict]:
    """Every dict inside `config`, walked without recursion (a config may be nested very deep)."""
    stack = [config]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _families_named(config: Any) -> set[str]:
    """The families whose modules the config names ('zoo.families.gan.gan_model' -> 'gan')."""
    families = set()
    for node in _dicts(config):
        parts = node.get("module").split(".") if isinstance(node.get("module"), str) else []
        if len(parts) >= 4 and parts[:2] == ["zoo", "families"]:
            families.add(parts[2])
    return families


def _shared_layer_modules_named(config: Any) -> set[str]:
    """The modules of zoo/layers/ the config names (a model of Keras layers may still use a zoo layer,
    e.g. `LSTM`, that no family import registers); only modules that exist there."""
    import zoo.layers

    existing = {f"zoo.layers.{info.name}" for info in pkgutil.iter_modules(zoo.layers.__path__)}
    return {node["module"] for node in _dicts(config) if node.get("module") in existing}


def _trusted(module: Any) -> bool:
    return isinstance(module, str) and module.split(".", 1)[0] in _TRUSTED_PACKAGES


def _keras_namespace(module: str) -> str:
    """'keras.src.utils.file_utils' -> 'utils'; 'keras.layers' -> 'layers'; 'keras' -> ''."""
    parts = module.split(".")[1:]
    if parts and parts[0] == "src":
        parts = parts[1:]
    return parts[0] if parts else ""


def _unsafe_reference(node: dict) -> str | None:
    """What is wrong with one serialised object of a config (None when Keras may rebuild it)."""
    class_name = node.get("class_name")
    if not isinstance(class_name, str):
        return None  # not a serialised object (a layer's plain settings)
    if class_name == "__lambda__":
        return "a Python lambda (a keras.layers.Lambda layer), whose code would run on loading"
    if class_name in _VALUE_CLASS_NAMES:
        return None
    module = node.get("module")
    is_function = class_name == "function"
    name = node.get("config") if is_function else (node.get("spec_name") if class_name == "__typespec__" else class_name)
    label = f"'{module}.{name}'" if module else f"'{name}'"
    if isinstance(module, str) and module.split(".", 1)[0] == "keras":
        namespace = _keras_namespace(module)
        if namespace in _UNSAFE_KERAS_NAMESPACES or (is_function and namespace == "models"):
            return f"{label}, outside the modelling part of Keras"
    plain_module = module is None or _trusted(module) or (is_function and module == "builtins")
    registered = _registered_object(node, is_function)
    if registered is not None:
        # Code already imported here: Keras takes it without importing anything. Accepted when the
        # file names it as what it is (a class of a test module, say), or both sides are Keras / zoo.
        own_module, own_name = getattr(registered, "__module__", None), getattr(registered, "__name__", None)
        if (own_module == module and own_name == name) or (_trusted(own_module) and plain_module):
            return None
        return (f"{label} under the registered name '{node.get('registered_name') or name}', which is "
                f"'{own_module}.{own_name}'")
    if is_function and module == "builtins":
        # Keras looks such a name up among its own activations, losses, ... only: say so now
        if isinstance(name, str) and any(callable(getattr(getattr(keras, space), name, None))
                                         for space in _KERAS_BUILTIN_SPACES):
            return None
        return f"'builtins.{name}', which is neither a Keras built-in nor a zoo function"
    if isinstance(module, str) and module.split(".", 1)[0] == "zoo":
        return f"{label}, which is not one of the zoo's registered Keras objects"
    if plain_module:
        return None  # Keras looks these up among its own objects and the registered ones only
    return f"{label} from module '{module}'"


def _registered_object(node: dict, is_function: bool) -> Any:
    """The object registered in this process that Keras would pick for `node`, or None.

    Keras looks the registered name up first; a function saved as 'builtins' may also match any
    registered 'package>name' (its fallback for files of Keras <= 3.6).
    """
    key = node.get("config") if is_function else (node.get("registered_name") or node.get("class_name"))
    if not isinstance(key, str):
        return None
    found = keras.saving.get_registered_object(key)
    if found is None and is_function and node.get("module") == "builtins" and ">" not in key:
        matches = [obj for name, obj in keras.saving.get_custom_objects().items() if name.endswith(f">{key}")]
        untrusted = [obj for obj in matches if not _trusted(getattr(obj, "__module__", None))]
        found = (untrusted or matches or [None])[0]
    return found
