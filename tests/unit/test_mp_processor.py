"""pvaPy's multiprocessing helpers (issue 19, point 10): a processor spreads work over worker processes."""

from __future__ import annotations

import multiprocessing as mp
import time

import pytest

from pvaflow import UserMpDataProcessor, UserMpWorkerController

pytestmark = pytest.mark.timeout(60)


class Summer(UserMpDataProcessor):
    """Written as against pvaPy's UserMpDataProcessor."""

    def __init__(self, processorId=1):  # noqa: N803
        UserMpDataProcessor.__init__(self, processorId)
        self.factor = 1
        self.resetStats()

    def configure(self, configDict):  # noqa: N803
        self.factor = int(configDict.get("factor", self.factor))

    def process(self, mpqObject):  # noqa: N803
        if mpqObject == "bad":
            raise ValueError("cannot sum 'bad'")
        self.nProcessed += 1
        self.total += mpqObject * self.factor

    def resetStats(self):  # noqa: N802
        self.nProcessed = 0
        self.total = 0

    def getStats(self):  # noqa: N802
        return {"nProcessed": self.nProcessed, "total": self.total}


def wait_for_stats(controller: UserMpWorkerController, processed: int) -> dict:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        stats = controller.getStats()
        if stats.get("nProcessed") == processed:
            return stats
        time.sleep(0.05)
    raise AssertionError(f"worker did not process {processed} objects: {controller.getStats()}")


def test_workers_take_objects_from_the_queue_answer_commands_and_stop_with_their_stats() -> None:
    input_queue = mp.Queue()
    workers = [UserMpWorkerController(worker_id, Summer(worker_id), input_queue) for worker_id in (1, 2)]
    for worker in workers:
        worker.start()
    try:
        for value in range(1, 101):
            input_queue.put(value)
        input_queue.put("bad")  # an error in process() is logged, the worker goes on
        deadline = time.monotonic() + 20
        while sum(worker.getStats().get("nProcessed", 0) for worker in workers) < 100:
            assert time.monotonic() < deadline, [worker.getStats() for worker in workers]
            time.sleep(0.05)
        assert sum(worker.getStats()["total"] for worker in workers) == sum(range(1, 101))
        workers[0].configure({"factor": 10})
        workers[0].resetStats()
        workers[1].stop()  # only worker 1 takes objects from now on
        input_queue.put(5)
        assert wait_for_stats(workers[0], 1)["total"] == 50
    finally:
        final = [worker.stop(statsKeyPrefix=f"w{worker.workerId}_") for worker in workers]
    assert final[0] == {"w1_nProcessed": 1, "w1_total": 50}
    assert set(final[1]) == {"w2_nProcessed", "w2_total"}
    assert not any(worker.uwProcess.is_alive() for worker in workers)
