"""pvaPy's multiprocessing helpers: a processor spreads its work over local worker processes through queues.

    class Squarer(UserMpDataProcessor):          # runs in a worker process
        def process(self, mpqObject):
            self.nSquared += 1
    ...
    inputQueue = multiprocessing.Queue()
    worker = UserMpWorkerController(1, Squarer(1), inputQueue)
    worker.start()                                # the worker process takes objects from inputQueue
    inputQueue.put(41)
    stats = worker.stop()                         # the processor's getStats() from the worker

Names and semantics are pvaPy's (``pvapy.hpc.userMpDataProcessor``,
``userMpWorker``, ``userMpWorkerController``): a processor written against
those runs unchanged with these. The controller talks to its worker through
a request and a response queue; a worker that does not answer within
``WAIT_SECONDS`` raises ``ProcessNotResponding``. The worker process ignores
SIGINT (the consumer that owns it stops it) and is a daemon process: it ends
when its owner exits. ``logLevel`` and ``logFile`` are taken for pvaPy's
signatures; the worker logs as its parent set logging up.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import queue
import signal
import threading
from typing import Any

logger = logging.getLogger(__name__)

WAIT_SECONDS = 5.0  # a worker's answer to a command
POLL_SECONDS = 0.1  # how often a worker looks at its stop flag while its input queue is empty
CONFIGURE, RESET_STATS, GET_STATS, STOP = "configure", "reset_stats", "get_stats", "stop"
SUCCESS, ERROR = 0, 1


class UserMpDataProcessor:
    """Base of a class that processes objects taken from a multiprocessing queue, in a worker process."""

    def __init__(self, processorId: int = 1) -> None:  # noqa: N803 (pvaPy's name)
        self.logger = logging.getLogger(type(self).__name__)
        self.processorId = processorId

    def start(self) -> None:
        """Called in the worker process before the first object."""

    def configure(self, configDict: dict[str, Any]) -> None:  # noqa: N803
        """Called on a runtime configuration change."""

    def process(self, mpqObject: Any) -> Any:  # noqa: N803
        """Process one object from the input queue."""
        self.logger.debug("processor %s processing object %s", self.processorId, mpqObject)

    def stop(self) -> None:
        """Called in the worker process at shutdown."""

    def resetStats(self) -> None:  # noqa: N802
        """Called on a statistics reset."""

    def getStats(self) -> dict[str, Any]:  # noqa: N802
        """The processor's statistics (picklable values)."""
        return {}


class UserMpWorker(mp.Process):
    """The worker process: takes objects from ``inputDataQueue`` into the processor; answers commands."""

    def __init__(self, workerId: int, userMpDataProcessor: UserMpDataProcessor, commandRequestQueue: Any,  # noqa: N803
                 commandResponseQueue: Any, inputDataQueue: Any, logLevel: str | None = None,  # noqa: N803
                 logFile: str | None = None) -> None:  # noqa: N803
        super().__init__(name=f"UserMpWorker-{workerId}", daemon=True)
        self.workerId = workerId
        self.processor = userMpDataProcessor
        self.requests = commandRequestQueue
        self.responses = commandResponseQueue
        self.inputDataQueue = inputDataQueue
        self.stopped = threading.Event()  # in the worker process

    def run(self) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the owner stops its workers
        self.processor.start()
        commands = threading.Thread(target=self.answer_commands, name="mp-worker-commands", daemon=True)
        commands.start()
        while not self.stopped.is_set():
            try:
                item = self.inputDataQueue.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            try:
                self.processor.process(item)
            except Exception as ex:  # noqa: BLE001 (a user processor may raise anything: logged, goes on)
                logger.error("worker %s: process() failed: %s: %s", self.workerId, type(ex).__name__, ex)
        commands.join(WAIT_SECONDS)

    def answer_commands(self) -> None:
        """The worker's command thread: runs each request and puts the response."""
        while True:
            request = self.requests.get()
            command = request.get("command")
            response: dict[str, Any] = {"requestId": request.get("requestId"), "returnCode": SUCCESS}
            try:
                if command == CONFIGURE:
                    self.processor.configure(request.get("configDict", {}))
                elif command == RESET_STATS:
                    self.processor.resetStats()
                elif command == GET_STATS:
                    response["returnValue"] = self.processor.getStats()
                elif command == STOP:
                    self.stopped.set()
                    self.processor.stop()
                    response["returnValue"] = self.processor.getStats()
                else:
                    raise ValueError(f"unknown command {command!r}")
            except Exception as ex:  # noqa: BLE001 (the answer carries the error to the controller)
                response = {"requestId": request.get("requestId"), "returnCode": ERROR,
                            "error": f"{type(ex).__name__}: {ex}"}
            self.responses.put(response)
            if command == STOP:
                return


class UserMpWorkerController:
    """Starts and commands one worker process (in the process that owns the input queue)."""

    WAIT_TIME = WAIT_SECONDS

    class ProcessNotResponding(Exception):  # noqa: N818 (pvaPy's name)
        """The worker did not answer a command within WAIT_TIME seconds."""

    def __init__(self, workerId: int, userMpDataProcessor: UserMpDataProcessor, inputDataQueue: Any,  # noqa: N803
                 logLevel: str | None = None, logFile: str | None = None) -> None:  # noqa: N803
        self.workerId = workerId
        self.inputDataQueue = inputDataQueue
        self.commandRequestQueue: Any = mp.Queue()
        self.commandResponseQueue: Any = mp.Queue()
        self.requestId = 0
        self.uwProcess = UserMpWorker(workerId, userMpDataProcessor, self.commandRequestQueue,
                                      self.commandResponseQueue, inputDataQueue, logLevel, logFile)
        self.statsDict: dict[str, Any] = {}
        self.isStopped = True

    def _invokeCommandRequest(self, command: str, args: dict[str, Any] | None = None) -> Any:  # noqa: N802
        self.requestId += 1
        request = {"requestId": self.requestId, "command": command, **(args or {})}
        self.commandRequestQueue.put(request)
        try:
            response = self.commandResponseQueue.get(timeout=self.WAIT_TIME)
        except queue.Empty:
            raise self.ProcessNotResponding(f"No response from worker {self.workerId}") from None
        if response.get("returnCode") != SUCCESS:
            raise RuntimeError(f"Error response from worker {self.workerId}: {response.get('error', '')}")
        if response.get("requestId") != self.requestId:
            raise RuntimeError(f"Invalid response from worker {self.workerId}: request id {self.requestId} != "
                               f"{response.get('requestId')}")
        return response.get("returnValue")

    @staticmethod
    def _renameDictKeys(d: dict[str, Any], keyPrefix: str | None) -> dict[str, Any]:  # noqa: N802, N803
        return {f"{keyPrefix}{key}": value for key, value in d.items()} if keyPrefix else d

    def start(self) -> None:
        self.uwProcess.start()
        self.isStopped = False

    def _request_or_log(self, command: str, args: dict[str, Any] | None = None,
                        level: int = logging.ERROR) -> Any:
        """The worker's answer to ``command``, or None with a log line when it fails (pvaPy logs and goes on)."""
        try:
            return self._invokeCommandRequest(command, args)
        except Exception as ex:  # noqa: BLE001 (no answer, or an error in the worker)
            logger.log(level, "worker %s: %s failed: %s", self.workerId, command, ex)
            return None

    def _keep_stats(self, stats: Any) -> None:
        if isinstance(stats, dict):
            self.statsDict = stats

    def configure(self, configDict: dict[str, Any]) -> None:  # noqa: N803
        if not self.isStopped:
            self._request_or_log(CONFIGURE, {"configDict": configDict})

    def resetStats(self) -> None:  # noqa: N802
        if not self.isStopped:
            self._request_or_log(RESET_STATS)

    def getStats(self, statsKeyPrefix: str | None = None) -> dict[str, Any]:  # noqa: N802, N803
        if not self.isStopped:
            self._keep_stats(self._request_or_log(GET_STATS, level=logging.WARNING))
        return self._renameDictKeys(self.statsDict, statsKeyPrefix)

    def stop(self, statsKeyPrefix: str | None = None) -> dict[str, Any]:
        """Stop the worker (its processor's stop() runs there); its last statistics."""
        if not self.isStopped:
            self.isStopped = True
            self._keep_stats(self._request_or_log(STOP, level=logging.WARNING))
            self.uwProcess.join(self.WAIT_TIME)
            if self.uwProcess.is_alive():
                self.uwProcess.kill()
                self.uwProcess.join(self.WAIT_TIME)
        return self._renameDictKeys(self.statsDict, statsKeyPrefix)
