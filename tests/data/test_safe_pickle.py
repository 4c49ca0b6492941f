import os
import pickle

import numpy as np
import pytest

from zoo.data.safe_pickle import dump_pickle, load_pickle, loads_pickle
from zoo.errors import DataError, UnsafePickleError


class RunsCode:
    """Unpickling this calls os.system: the classic malicious pickle."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_plain_data_round_trips(tmp_path):
    data = {"pieces": [np.arange(5, dtype=np.int32), np.zeros(0, np.int32)], "name": "x", "f": 1.5,
            "t": (1, 2), "s": {3}, "scalar": np.float32(2.0), "bytes": b"ab", "none": None}
    dump_pickle(data, tmp_path / "d.pkl")
    loaded = load_pickle(tmp_path / "d.pkl")
    assert loaded.keys() == data.keys()
    np.testing.assert_array_equal(loaded["pieces"][0], data["pieces"][0])
    assert loaded["s"] == {3} and loaded["bytes"] == b"ab" and loaded["scalar"] == 2.0


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_numpy_arrays_load_with_every_protocol(protocol):
    array = np.arange(12, dtype=np.int64).reshape(3, 4)
    np.testing.assert_array_equal(loads_pickle(pickle.dumps(array, protocol=protocol)), array)


def test_malicious_pickle_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"pieces": [RunsCode(marker)]}))
    with pytest.raises(UnsafePickleError, match="posix.system|os.system"):
        load_pickle(path)
    assert not marker.exists()


def test_other_callables_are_refused():
    with pytest.raises(UnsafePickleError, match="builtins.eval"):
        loads_pickle(b"cbuiltins\neval\n(S'1+1'\ntR.")


def test_truncated_pickle_is_a_clear_error(tmp_path):
    path = tmp_path / "cut.pkl"
    path.write_bytes(pickle.dumps({"pieces": [np.arange(100)]})[:40])
    with pytest.raises(DataError, match="cut.pkl: corrupt pickle"):
        load_pickle(path)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such data file"):
        load_pickle(tmp_path / "nope.pkl")
