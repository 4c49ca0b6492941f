"""Splits by piece (`zoo.data.splits`): fixed by the seed, one piece never in two splits."""
import numpy as np

from zoo.data.splits import split_indices


def test_split_is_by_piece_and_fixed_by_seed():
    first, again = split_indices(50, 0.1, 0.1, seed=3), split_indices(50, 0.1, 0.1, seed=3)
    assert all(np.array_equal(first[k], again[k]) for k in first)
    assert sorted(np.concatenate(list(first.values())).tolist()) == list(range(50))
    assert not np.array_equal(first["test"], split_indices(50, 0.1, 0.1, seed=4)["test"])


def test_versions_of_one_piece_in_several_folders_share_a_split():
    from zoo.data.splits import split_by_piece

    paths = [f"{folder}tune{i}.mid" for i in range(20) for folder in ("", "melody/", "chords/")]
    splits = split_by_piece(paths, 0.2, 0.2, seed=0)
    split_of = {paths[i]: split for split, indices in splits.items() for i in indices}
    assert len(split_of) == 60
    for i in range(20):
        assert split_of[f"tune{i}.mid"] == split_of[f"melody/tune{i}.mid"] == split_of[f"chords/tune{i}.mid"]
    assert {len(v) for v in splits.values()} == {36, 12}
