"""The one naming rule of generate.py's outputs (zoo.music.io): `{run}-{mode}-s{seed}-{index}`, never overwriting."""
from helpers import file_bytes
from zoo.music.io import next_output_index, output_stem, output_stems, write_pieces
from zoo.music.score import Score, Track, make_notes


def test_stem_names_run_mode_seed_and_index():
    assert output_stem("exp1", "sample", 3, 0) == "exp1-sample-s3-0"
    assert output_stem("my.run", "interpolate", -1, 12) == "my.run-interpolate-s-1-12"


def test_next_index_is_past_every_output_of_the_same_run_mode_and_seed(tmp_path):
    assert next_output_index(tmp_path / "missing", "r", "sample", 0) == 0
    for name in ["r-sample-s0-0.mid", "r-sample-s0-2-original.mid", "r-sample-s0-10.wav",
                 ".r-sample-s0-11.tmp-x.mid",  # a hidden temporary of an unfinished write
                 "r-sample-s1-40.mid", "r-reconstruct-s0-50.mid", "rr-sample-s0-60.mid", "r-sample-s0-70x.mid"]:
        (tmp_path / name).write_text("x")
    assert next_output_index(tmp_path, "r", "sample", 0) == 11
    assert next_output_index(tmp_path, "r", "sample", 1) == 41
    assert next_output_index(tmp_path, "r", "sample", 2) == 0
    assert [p.name for p in output_stems(tmp_path, "r", "reconstruct", 0, 2)] == ["r-reconstruct-s0-51",
                                                                                   "r-reconstruct-s0-52"]


def test_writing_again_adds_files_and_keeps_the_earlier_ones(tmp_path, capsys):
    scores = [Score(tracks=[Track(notes=make_notes([60 + i], [0], [480]))]) for i in range(2)]
    write_pieces(scores, tmp_path, "my.run", "interpolate", 0, {"all": scores[0]})
    first = file_bytes(tmp_path)
    assert sorted(first) == sorted(f"my.run-interpolate-s0-{stem}.{ext}" for stem in ("0", "1", "0-all")
                                   for ext in ("mid", "wav", "png"))
    write_pieces(scores, tmp_path, "my.run", "interpolate", 0, {"all": scores[0]})
    second = file_bytes(tmp_path)
    assert len(second) == 2 * len(first) and {name: second[name] for name in first} == first
    assert second["my.run-interpolate-s0-2.mid"] == first["my.run-interpolate-s0-0.mid"]
    assert "my.run-interpolate-s0-2-all.mid" in second
    assert "wrote " in capsys.readouterr().err
