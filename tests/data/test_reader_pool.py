"""Reader processes (`zoo.data.reader_pool`): streamed in order, a bounded window ahead, surviving a reader that dies."""
import functools
import inspect
import os

import prepare_reader_tasks as reader_tasks


def test_readers_run_a_bounded_window_ahead_and_answer_in_order(tmp_path):
    from zoo.data.music_files import iter_scores
    from zoo.data.reader_pool import (
        CHUNKS_IN_FLIGHT_PER_WORKER,
        MAX_CHUNK_FILES,
        map_files,
    )

    assert inspect.isgenerator(iter_scores([], progress=False))
    names = [f"file{n:03d}" for n in range(300)]
    results = map_files(functools.partial(reader_tasks.mark, tmp_path), names, workers=2, crashed=None)
    assert inspect.isgenerator(results)
    assert next(results) == ["file000"]
    # Only the chunks in flight have been handed to readers, not the whole list.
    started = len(list(tmp_path.iterdir()))
    assert 1 <= started <= 2 * CHUNKS_IN_FLIGHT_PER_WORKER * MAX_CHUNK_FILES + MAX_CHUNK_FILES < len(names)
    assert [answer for [answer] in results] == names[1:]


def test_a_reader_that_dies_costs_only_its_file(tmp_path):
    from zoo.data.reader_pool import map_files

    names = [f"file{n:02d}" for n in range(10)] + ["die"] + [f"more{n:02d}" for n in range(10)]
    answers = list(map_files(functools.partial(reader_tasks.mark_or_die, tmp_path), names, workers=2,
                             crashed=lambda name, reason: [reason]))
    assert answers[:10] == [[n] for n in names[:10]] and answers[11:] == [[n] for n in names[11:]]
    assert "the reader process died (SIGKILL" in answers[10][0]


def test_reader_processes_are_replaced_as_they_go(monkeypatch):
    from zoo.data import reader_pool

    monkeypatch.setattr(reader_pool, "FILES_PER_READER", 4)
    names = [f"file{n:02d}" for n in range(40)]
    answers = [answer for [answer] in reader_pool.map_files(reader_tasks.name_and_process, names, workers=2,
                                                            crashed=None)]
    assert [name for name, _ in answers] == names
    # 8 chunks of 5 files, 2 x 4 files a pool: a new pool every 2 chunks, 4 pools of 1 or 2 processes.
    processes = {pid for _, pid in answers}
    assert os.getpid() not in processes and 4 <= len(processes) <= 8
