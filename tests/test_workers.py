"""The pool of warm workers: concurrent, stoppable, replaced when killed, and its clock fair to queued work."""

from __future__ import annotations

import math
import sys
import threading
import time
import types
from concurrent.futures import CancelledError, Future
from pathlib import Path

import numpy as np
import pytest

import quant
from dashboard.model import outcomes
from dashboard.model.workers import Budget, BudgetExceeded, Stopped, WorkerPool, clock_off

PLENTY = Budget(60, 1000)


def sleep_for(seconds):
    time.sleep(seconds)
    return "woke"


def quick_then_slow_finish(seconds):
    clock_off()  # the budgeted part is done at once; the rest has the finishing allowance
    time.sleep(seconds)
    return "finished"


def allocate(megabytes):
    return int(np.ones(megabytes * 2**20, dtype=np.uint8).sum())


def page_modules_imported() -> list[str]:
    """The modules of the page's Streamlit side that this process has imported."""
    return sorted(name for name in sys.modules if name.partition(".")[0] in {"streamlit", "plotly", "dashboard.views"}
                  or name.startswith("dashboard.views"))


@pytest.fixture(scope="module")
def pool():
    workers = WorkerPool(2)
    assert workers.wait_until_warm(60)
    yield workers
    workers.shutdown()


@pytest.fixture
def single():
    """A pool of one worker, for the tests that kill, replace or starve it."""
    workers = WorkerPool(1)
    yield workers
    workers.shutdown()


def test_two_workers_run_two_tasks_at_once(pool):
    started = time.perf_counter()
    tasks = [pool.submit(PLENTY, sleep_for, 1.5) for _ in range(2)]
    assert [task.result() for task in tasks] == ["woke", "woke"]
    assert time.perf_counter() - started < 2.8  # one after the other would take 3 s


def replaced_once(pool: WorkerPool) -> bool:
    """Whether a second worker process has started (a replacement starts just after the failure is reported)."""
    deadline = time.monotonic() + 30
    while pool.processes_started < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    return pool.processes_started == 2


def test_stopping_a_running_task_kills_its_worker_and_a_fresh_one_takes_over(single):
    task = single.submit(PLENTY, sleep_for, 30)
    while not task.running():  # started, so stopping it must kill its worker rather than drop it
        time.sleep(0.05)
    started = time.perf_counter()
    single.stop(task)
    with pytest.raises(Stopped):
        task.result(timeout=10)
    assert time.perf_counter() - started < 2
    assert single.submit(PLENTY, sleep_for, 0).result(timeout=60) == "woke"
    assert replaced_once(single)


def test_stopping_a_queued_task_drops_it(single):
    busy = single.submit(PLENTY, sleep_for, 1)
    queued = single.submit(PLENTY, sleep_for, 30)
    single.stop(queued)
    with pytest.raises(CancelledError):
        queued.result()
    assert busy.result(timeout=30) == "woke"
    assert single.processes_started == 1  # nothing was killed


def test_time_spent_waiting_in_the_queue_is_not_charged(single):
    first = single.submit(PLENTY, sleep_for, 1.5)
    second = single.submit(Budget(1), sleep_for, 0.3)  # waits 1.5 s, then runs 0.3 s of its 1 s
    assert first.result(timeout=30) == second.result(timeout=30) == "woke"


def test_the_budget_ends_where_the_work_calls_clock_off(pool):
    assert pool.submit(Budget(0.5), quick_then_slow_finish, 1.0).result(timeout=30) == "finished"
    with pytest.raises(BudgetExceeded, match="0.5 s time budget"):
        pool.submit(Budget(0.5), sleep_for, 1.0).result(timeout=30)


def test_a_worker_that_ran_out_of_memory_is_replaced(single):
    with pytest.raises(BudgetExceeded, match="200 MB memory budget"):
        single.submit(Budget(60, 200), allocate, 1000).result(timeout=60)
    assert single.submit(Budget(60, 200), allocate, 50).result(timeout=60) == 50 * 2**20
    assert replaced_once(single)


def test_with_a_one_second_budget_octree_on_the_sample_succeeds():
    """The budget covers what the card's Time shows, not start-up, encoding or scoring (issue 15)."""
    image = quant.sample_image(quant.DEFAULT_SAMPLE)
    hist = quant.build_histogram(image)
    pool = outcomes.method_pool()
    assert pool.wait_until_warm(120)
    done = outcomes.submit(pool, image, hist, 8, "octree", outcomes.Recipe(), budget=Budget(1, 4000)).result()
    assert isinstance(done, outcomes.Done)
    assert done.seconds < 1
    assert len(done.colors) == 8


def warm_up_that_clocks_off():
    clock_off()  # as `outcomes.warm_up` does: each step runs `measure`, which calls clock_off
    yield "step"


def test_an_overrun_after_a_warm_up_names_the_time_budget():
    """A warm-up step's clock-off must not leave the next task judged by the finishing allowance's words."""
    workers = WorkerPool(1, warm_up=warm_up_that_clocks_off)
    try:
        assert workers.wait_until_warm(60)
        with pytest.raises(BudgetExceeded, match="its 1 s time budget"):
            workers.submit(Budget(1, 1000), sleep_for, 30).result(timeout=60)
    finally:
        workers.shutdown()


def test_a_worker_started_while_streamlit_runs_the_page_imports_none_of_it(monkeypatch):
    """Streamlit makes the page script `__main__`; multiprocessing imports `__main__` in each worker."""
    page_script = types.ModuleType("__main__")
    page_script.__file__ = str(Path(__file__).resolve().parents[1] / "app.py")
    monkeypatch.setitem(sys.modules, "__main__", page_script)
    single = WorkerPool(1)
    try:
        assert single.submit(PLENTY, page_modules_imported).result() == []
    finally:
        single.shutdown()


def test_budgets_set_to_zero_lift_the_limits_but_work_can_still_be_stopped(single):
    unlimited = Budget.from_env({"QUANT_METHOD_SECONDS": "0", "QUANT_METHOD_MEMORY_MB": "0"})
    assert unlimited == Budget(math.inf, None)
    task = single.submit(unlimited, sleep_for, 30)
    while not task.running():
        time.sleep(0.05)
    single.stop(task)
    with pytest.raises(Stopped):
        task.result(timeout=30)


def test_one_session_giving_up_stops_shared_work_only_when_no_other_session_waits():
    in_flight = outcomes.InFlight()
    submitted = []

    def submit():
        submitted.append(Future())
        return submitted[-1]

    with in_flight.waiting("key"), in_flight.waiting("key"):  # two sessions wait for the same outcome
        job = in_flight.job("key", submit)
        assert not in_flight.abandon("key", job)  # the other session still waits: keep computing
        assert in_flight.job("key", submit) is job  # and its next call finds the same work
    with in_flight.waiting("key"):
        assert in_flight.abandon("key", job)  # the last one waiting: stop it
        assert in_flight.job("key", submit) is not job
    assert len(submitted) == 2


def test_a_session_s_jobs_are_cancelled_when_dropped_only_if_no_other_session_waits_and_none_is_running():
    """`SessionJobs`, the sweep points' way: a session waits for what it asked for until it drops it."""
    in_flight = outcomes.InFlight()
    alice, bob = outcomes.SessionJobs(in_flight), outcomes.SessionJobs(in_flight)
    shared = alice.job("shared", Future, on_done=lambda job: None)
    assert bob.job("shared", Future) is shared
    running = alice.job("running", Future, on_done=lambda job: None)
    running.set_running_or_notify_cancel()  # a worker took it
    alice.drop()
    assert not shared.cancelled()  # bob still waits for it
    assert not running.cancelled() and in_flight.job("running", Future) is running  # it finishes, and is joined
    bob.drop()
    assert shared.cancelled() and in_flight.job("shared", Future) is not shared


def test_a_session_stops_waiting_for_a_job_once_it_ends_so_a_later_job_of_the_key_can_still_be_cancelled():
    """A point kept, then evicted and asked for anew by another session: the first one no longer counts."""
    in_flight = outcomes.InFlight()
    idle_tab = outcomes.SessionJobs(in_flight)
    first = idle_tab.job("point", Future, on_done=lambda job: None)
    assert idle_tab.job("point", Future) is first  # a rerun asking again adds no second wait
    first.set_result("kept")  # its on_done kept it; the tab stays open, and never drops it
    other = outcomes.SessionJobs(in_flight)
    again = other.job("point", Future, on_done=lambda job: None)
    assert again is not first
    other.drop()
    assert again.cancelled()  # no one else waits for it: the idle tab's wait ended with its own job


def test_a_job_that_fails_to_start_leaves_no_wait_behind():
    in_flight = outcomes.InFlight()
    session = outcomes.SessionJobs(in_flight)

    def refused():
        raise RuntimeError("the pool is shutting down")

    with pytest.raises(RuntimeError) as refusal:
        session.job("point", refused)
    other = outcomes.SessionJobs(in_flight)
    job = other.job("point", Future)
    other.drop()
    # Checked while the error is still held (the page keeps it to show it): its traceback holds the
    # failed call's frames, so a wait left open there would still count.
    assert job.cancelled() and refusal.value is not None


def test_a_dropped_job_asked_for_without_on_done_is_forgotten_once_cancelled():
    in_flight = outcomes.InFlight()
    session = outcomes.SessionJobs(in_flight)
    job = session.job("point", Future)
    session.drop()
    assert job.cancelled() and in_flight.job("point", Future) is not job  # asked again: a new job


def test_a_session_freed_without_dropping_its_jobs_stops_waiting_even_inside_the_registry_s_lock():
    """A closed tab's state is freed, not dropped: its waits end then, so later drops can cancel those jobs.

    The garbage collector may free it in a thread that holds `InFlight`'s
    lock (during an allocation there): that must not deadlock.
    """
    in_flight = outcomes.InFlight()
    closed_tab = outcomes.SessionJobs(in_flight)
    job = closed_tab.job("point", Future, on_done=lambda job: None)

    def free_inside_the_lock():
        nonlocal closed_tab
        with in_flight._lock:
            del closed_tab

    freeing = threading.Thread(target=free_inside_the_lock, daemon=True)
    freeing.start()
    freeing.join(timeout=10)
    assert not freeing.is_alive(), "freeing a session's waits inside the registry's lock deadlocked"
    other = outcomes.SessionJobs(in_flight)
    assert other.job("point", Future) is job
    other.drop()
    assert job.cancelled()  # no one else waits: the closed tab no longer counts


def test_a_finished_job_is_shared_until_its_outcome_is_taken():
    in_flight = outcomes.InFlight()
    job = in_flight.job("key", Future)
    job.set_result("done")
    assert in_flight.job("key", Future) is job  # finished while its session was cancelled: reused, not recomputed
    in_flight.taken("key", job)
    assert in_flight.job("key", Future) is not job


def test_a_job_started_with_on_done_keeps_its_result_then_is_forgotten_and_a_joined_one_adds_nothing():
    """The sweep points' way: each finished job is kept once, by the call that started it, whoever still waits."""
    in_flight = outcomes.InFlight()
    kept = []
    job = in_flight.job("key", Future, on_done=kept.append)
    assert in_flight.job("key", Future, on_done=kept.append) is job  # a second session joins
    job.set_result("done")
    assert kept == [job]  # called back once, not once per session
    assert in_flight.job("key", Future) is not job  # forgotten: the next request is computed (or found kept) anew


@pytest.mark.parametrize("finish", [lambda job: job.set_exception(RuntimeError("worker died")), Future.cancel])
def test_a_failed_or_cancelled_job_is_forgotten_so_the_next_request_retries(finish):
    in_flight = outcomes.InFlight()
    job = in_flight.job("key", Future, on_done=lambda job: None)
    finish(job)
    assert in_flight.job("key", Future) is not job


def test_a_job_already_done_when_started_calls_back_without_deadlock_and_is_forgotten():
    """on_done runs outside the registry's lock: a finished future calls back at once, in the starting call."""
    in_flight = outcomes.InFlight()
    finished: Future = Future()
    finished.set_result("kept")
    seen = []
    assert in_flight.job("key", lambda: finished, on_done=lambda job: seen.append(job.result())) is finished
    assert seen == ["kept"]
    assert in_flight.job("key", Future) is not finished


def test_a_job_is_forgotten_even_when_keeping_its_result_fails():
    in_flight = outcomes.InFlight()

    def cannot_keep(job):
        raise MemoryError

    job = in_flight.job("key", Future, on_done=cannot_keep)
    job.set_result("done")  # concurrent.futures logs the callback's exception
    assert in_flight.job("key", Future) is not job
