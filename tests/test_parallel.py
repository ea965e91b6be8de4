import os

import pytest

from molprior.parallel import Workers, available_cores, map_in_processes


def _square_and_pid(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


@pytest.mark.parametrize("start", ["spawn", "fork"])
def test_results_come_in_the_order_of_the_items_whatever_the_workers(start):
    items = list(range(12))
    here = list(map_in_processes(_square_and_pid, items, jobs=1, start=start))
    assert [r for r, _ in here] == [x * x for x in items] and {p for _, p in here} == {os.getpid()}
    there = list(map_in_processes(_square_and_pid, items, jobs=2, start=start, cost=lambda x: x % 5))
    assert [r for r, _ in there] == [x * x for x in items]
    assert os.getpid() not in {p for _, p in there}


def test_spawned_workers_take_closures_and_run_torch_on_one_thread():
    offset = 3

    def shifted_threads(x: int) -> tuple[int, int]:
        import torch

        return x + offset, torch.get_num_threads()

    assert list(map_in_processes(shifted_threads, [1, 2], jobs=2)) == [(4, 1), (5, 1)]


def test_a_failure_in_a_worker_is_raised_here():
    with pytest.raises(ZeroDivisionError):
        list(map_in_processes(lambda x: 1 // x, [1, 0, 2], jobs=2))


def test_unknown_start_method_and_core_count():
    with pytest.raises(ValueError, match="unknown start method 'thread'"):
        list(map_in_processes(abs, [1, 2], jobs=2, start="thread"))
    assert available_cores() >= 1


def _slow_unless_first(x: int) -> int:
    import time

    if x == 0:
        raise ValueError("the first item fails")
    time.sleep(0.2)
    return x


@pytest.mark.parametrize("start", ["spawn", "fork"])
def test_after_a_failure_the_queued_work_is_dropped_and_the_pool_works_again(start):
    with pytest.raises(ValueError, match="the first item fails"):
        list(map_in_processes(_slow_unless_first, range(40), jobs=2, start=start))
    assert list(map_in_processes(abs, [-1, -2, -3], jobs=2, start=start)) == [1, 2, 3]


def test_a_bad_start_method_is_refused_at_the_call():
    with pytest.raises(ValueError, match="unknown start method"):
        map_in_processes(abs, [1, 2], jobs=2, start="thread")


def _with_state(state, item):
    import torch

    return item, state, os.getpid(), torch.get_num_threads()


@pytest.mark.parametrize("jobs", [1, 2])
def test_workers_serve_a_stream_in_order_set_up_once_each(jobs):
    import torch

    threads = torch.get_num_threads()
    with Workers(jobs, "model") as workers:
        out = list(workers.map(_with_state, iter(range(25)), ahead=3))
        again = list(workers.map(_with_state, range(5)))  # the same processes serve the next call
    assert [o[0] for o in out] == list(range(25)) and {o[1] for o in out} == {"model"}
    pids = {o[2] for o in out + again}
    assert len(pids) <= jobs  # the same processes serve the next call: no pool started per call
    if jobs == 1:
        assert pids == {os.getpid()}
    else:
        assert os.getpid() not in pids and {o[3] for o in out} == {1}  # one torch thread per worker
    assert torch.get_num_threads() == threads  # given back


def test_a_failing_item_stops_the_stream_with_its_error():
    with Workers(2) as workers:
        with pytest.raises(ZeroDivisionError):
            list(workers.map(_inverse, [1, 2, 0, 4, 5]))
        assert list(workers.map(_inverse, [1, 2])) == [1.0, 0.5]


def _inverse(state, x):
    return 1 / x
