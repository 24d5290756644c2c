"""The host: owns the processor's life cycle and the one loop that feeds it. The frame path, end to end:

1. **receive** (stream/receiver.py, stream/served_input.py): a pvaccess monitor on the input channel (or a
   served record for pvas/rpc input). pvAccess's monitor queue on the server (``-sqs``) is the first place
   a frame can wait; a full one is counted as an overrun (``receiverStats.nOverruns``).
2. **queue** (optional): with a receiver queue (``-rqs >= 0``, ``-ao``) the monitor puts each frame into
   pvaccess's bounded ``PvObjectQueue``, full: rejected and counted (``queueStats``); the host thread takes
   frames out in :meth:`Host.take_from_queue`. Without one (the default, as pvaPy), the monitor callback
   calls :meth:`Host.handle_object` itself on pvaccess's thread: no hand-over per frame.
3. **reorder** (collector only): ``CollectingReceiver`` has pvaccess queue each producer's frames in a
   bounded ``PvObjectQueue`` of its own; its ``get`` (called by take_from_queue) puts them into the reorder
   cache (stream/reorder.py), which releases them in id order once the gap before them is filled or has
   waited its time (the ids skipped: ``collectorStats.nMissing``).
4. **handle** (:meth:`Host.handle_object`): read the id, create the output record from the first frame,
   skip the initial updates (``-siu``) and the value a reconnect sends, call ``processor.process`` under
   the host's lock, and count the outcome in the id accounting (accounting.py: missed ids, id restarts).
5. **publish**: ``process()`` calls ``updateOutputChannel``, which the publisher (stream/publisher.py)
   sends to the output record (or puts to another server's channel); failures are counted in
   ``publisherStats``.

Control commands (control.py's command table), status snapshots (stats.status_snapshot) and the
connection watch run on the host thread between frames (:meth:`Host.run`). Every processor method is
called with ``lock`` held, so none runs concurrently with another (docs/decisions/0002-one-host-thread.md).
"""

from __future__ import annotations

import logging
import operator
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from ..accounting import MissedObjects
from ..errors import FramesLostError, IntegrityError, ProcessorLoadError, PvaflowError, describe, location
from .config import HostConfig
from .control import CONFIGURE_FAILED, CONFIGURED, Command, execute
from .parts import MetadataSource, Receiver, SnapshotSink
from .publisher import CountingPublisher
from .receiving_threads import ReceivingThreadPolicy
from .stale_channel import Delivered
from .stats import ProcessorCounters, status_snapshot, user_stats
from .watchdog import EXIT_STUCK, ShutdownWatchdog, call_with_timeout, where

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.05
STOP_REPLY_GRACE = 1.0  # seconds the channels stay up after a stop command
PROCESSOR_STOP_TIMEOUT = 10.0  # seconds processor.stop() may take at shutdown
STATUS_PERIOD = 1.0  # seconds between status channel updates (or the report period if shorter)
LOCK_WAIT = 1.0  # seconds the host thread waits for a process() call to end before it reports without it
EXIT_PROCESSOR_ENDED = 1  # the processor raised SystemExit or KeyboardInterrupt
# what the host catches from processor methods other than process(): sys.exit() or an interrupt raised in
# configure() or getStats() is an error of that call, not the end of the consumer
USER_ERRORS = (Exception, SystemExit, KeyboardInterrupt)


def reconnect_value_skip(held_back: bool, object_id: Any, previous_id: Any, skips_initial: int) -> str | None:
    """Why the current value a reconnected or renewed monitor sends first is skipped, or None to process it.

    ``held_back``: the monitor was renewed because the old one held back an update, which this value is
    (unless the old monitor delivered it after all: then it repeats the last id handled, ``previous_id``).
    """
    if held_back:
        return "a repeat of the last one handled" if object_id == previous_id else None
    return "the input's current value sent on reconnecting" if skips_initial > 0 else None


# scalar type of the id field -> the typed getter (about 3x faster than pv[field])
TYPED_GETTERS = {
    "INT": "getInt", "UINT": "getUInt", "LONG": "getLong", "ULONG": "getULong",
    "SHORT": "getShort", "USHORT": "getUShort", "BYTE": "getByte", "UBYTE": "getUByte",
}


def id_getter(pv: Any, field: str) -> Callable[[Any], Any]:
    """The fastest way to read ``field`` from objects structured like ``pv``."""
    if "." not in field:
        try:
            scalar_type = pv.getIntrospectionDict().get(field)
            method = TYPED_GETTERS.get(getattr(scalar_type, "name", ""))
            if method:
                return operator.methodcaller(method, field)
        except Exception:  # noqa: BLE001 (structures without introspection: fall back)
            pass
    return operator.itemgetter(field)


class Host:
    """Runs one processor: start, objects, commands, reports, stop."""

    def __init__(
        self,
        settings: HostConfig,
        processor: Any,
        receiver: Receiver,
        publisher: CountingPublisher,
        user_types: dict[str, Any],
        status: SnapshotSink | None = None,
        report: SnapshotSink | None = None,
        metadata: MetadataSource | None = None,
    ) -> None:
        self.settings = settings
        self.processor = processor
        self.receiver = receiver
        self.publisher = publisher
        self.status = status  # refreshed every status period and on get_stats
        self.report = report  # the terminal view, every report period
        self.metadata = metadata  # metadata channels, started before and stopped after the receiver
        self.lock = threading.Lock()
        self.inbox: queue.Queue[tuple[Command, Callable[[str], None]]] = queue.Queue()
        self.stop_event = threading.Event()
        self.oid_field = settings.oid_field
        self.read_id: Callable[[Any], Any] | None = None  # chosen from the first object
        self.skip_remaining = settings.host_skips_initial_updates
        self.accounting = MissedObjects(settings.oid_offset, settings.updates)
        self.counters = ProcessorCounters()
        self.user_types = user_types  # the processor's getStatsPvaTypes()
        self.error_kinds: set[str] = set()
        self.n_snapshots = 0
        self.busy: tuple[Any, int, float] | None = None  # (object id, thread, since) while process() runs
        # the id of the last object handled, and since when (time.monotonic()) the host is idle (None while
        # handling one): what the receiver's stale-channel check needs to see a monitor holding back an update
        self.last_id: Any = None
        self.idle_since: float | None = None
        self.exit_code = 0  # EXIT_PROCESSOR_ENDED when the processor ended the run, EXIT_STUCK when it hung
        self.stuck_reported = False
        # pvAccess's receiving threads out of real time, looked at every status refresh: where the host thread
        # processes a consumer's queue (in callback mode the receiving thread processes; the collector's host
        # thread is preempted by the sending thread, which keeps real time: stream/receiving_threads.py)
        self.receiving_threads = ReceivingThreadPolicy() \
            if receiver.queue is not None and settings.input_mode != "collect" else None

    # --- the per-object path ----------------------------------------------
    def handle_object(self, pv: Any) -> None:
        """Account for one input object and hand it to the processor."""
        self.idle_since = None
        try:
            self._handle_object(pv)
        finally:
            self.idle_since = time.monotonic()

    def delivered(self) -> Delivered | None:
        """The last id handled while the host is idle and nothing is queued; None when ids cannot be compared
        with the input record's (a server-side filter, such as the distributor, picks the updates we get)."""
        last_id = self.last_id  # read before idle_since: handle_object clears idle_since before changing it
        idle_since = self.idle_since
        if idle_since is None or last_id is None or self.settings.input_filtered or self.receiver.queued():
            return None
        return Delivered(last_id, idle_since)

    def _handle_object(self, pv: Any) -> None:
        with self.lock:
            counters = self.counters
            try:
                object_id = self.read_id(pv)
            except Exception:  # noqa: BLE001 (first object, or the structure changed)
                try:
                    self.read_id = id_getter(pv, self.oid_field)
                    object_id = self.read_id(pv)
                except Exception as ex:  # noqa: BLE001 (pvaccess raises FieldNotFound and others)
                    self.receiver_error(ex)
                    return
            previous_id, self.last_id = self.last_id, object_id
            if not self.publisher.ready:
                self.prepare_output(pv)
            if self.skip_remaining > 0:
                self.skip_remaining -= 1
                counters.n_skipped += 1
                return
            if self.receiver.initial_in is not None and self.skip_reconnect_value(object_id, previous_id):
                return
            self.busy = (object_id, threading.get_ident(), time.monotonic())
            started = time.perf_counter()
            try:
                self.processor.process(pv)
            except IntegrityError as ex:  # not authentic (forged, tampered, replayed): its id means nothing
                counters.n_rejected += 1
                self.log_once(ex, f"rejected {self.oid_field} {object_id} (not counted in the id accounting)")
            except Exception as ex:  # noqa: BLE001 (a user processor may raise anything)
                self.observe(object_id)
                counters.n_errors += 1
                if isinstance(ex, FramesLostError):
                    counters.lost_after_processing(ex.n_lost)
                self.log_once(ex, f"process() failed on {self.oid_field} {object_id}")
            except BaseException as ex:  # SystemExit, KeyboardInterrupt: must not escape into pvAccess's thread
                self.observe(object_id)
                counters.n_errors += 1
                self.end_on_request(ex, f"process() on {self.oid_field} {object_id}")
            else:
                self.observe(object_id)
                counters.n_processed += 1
            finally:
                self.busy = None
                counters.processing_time += time.perf_counter() - started

    def observe(self, object_id: Any) -> None:
        """Count an input object in the id accounting (after process(): a rejected object is not counted)."""
        counters = self.counters
        now = time.time()
        if counters.first_object_id is None:
            counters.first_object_id = object_id
            counters.first_object_time = now
        restarts = self.accounting.restarts
        self.accounting.observe(object_id)
        if self.accounting.restarts != restarts:
            logger.warning("%s went back from %s to %s: the input restarted its numbering "
                           "(counted in nIdRestarts)", self.oid_field, counters.last_object_id, object_id)
        counters.last_object_id = object_id
        counters.last_object_time = now

    def end_on_request(self, ex: BaseException, where: str) -> None:
        """A processor raised SystemExit or KeyboardInterrupt: the host stops cleanly (exit code 1)."""
        if self.exit_code == EXIT_PROCESSOR_ENDED:
            return  # objects that arrived before the input stopped: counted in nErrors, logged once
        what = f"sys.exit({ex.code!r})" if isinstance(ex, SystemExit) else type(ex).__name__
        logger.error("%s raised %s (at %s): stopping (counted in nErrors)", where, what, location(ex))
        self.exit_code = EXIT_PROCESSOR_ENDED
        self.stop_event.set()

    def skip_reconnect_value(self, object_id: Any, previous_id: Any) -> bool:
        """With -siu > 0, skip the current value a channel sends on reconnecting, as on connecting.

        A restarted server holds a placeholder (an areaDetector IOC before acquisition: an empty array,
        id 0), the repeat of its last frame (a mirror), or an object it never processed (a restarted
        consumer's output record is created from its first, skipped, input). The current value a new monitor
        sends in place of one that held back an update is that update: processed, unless it repeats the
        last id handled (the old monitor delivered it after all).
        """
        if not self.receiver.is_initial_update():
            return False
        held_back, self.receiver.initial_held_back = self.receiver.initial_held_back, False
        reason = reconnect_value_skip(held_back, object_id, previous_id, self.settings.host_skips_initial_updates)
        if reason is None:
            return False
        self.counters.n_skipped += 1
        logger.info("skipped %s %s, %s", self.oid_field, object_id, reason)
        return True

    def prepare_output(self, first_object: Any) -> None:
        try:
            self.publisher.prepare(self.processor, first_object)
        except USER_ERRORS as ex:
            self.publisher.count_error()
            self.log_once(ex, "cannot create the output channel")

    def prepare_from_sample(self) -> None:
        """Create the output channel before the first object is processed, if the receiver can tell its type."""
        sample = self.receiver.sample()
        if sample is not None:
            with self.lock:
                self.prepare_output(sample)

    def receiver_error(self, ex: BaseException) -> None:
        self.receiver.count_error()
        self.log_once(ex, f"input object without '{self.oid_field}'")

    def log_once(self, ex: BaseException, what: str) -> None:
        """Log an error kind (type and place) the first time; later ones are only counted."""
        where = location(ex)
        kind = f"{type(ex).__name__}@{where}"
        if kind in self.error_kinds:
            logger.debug("%s: %s", what, ex)
            return
        self.error_kinds.add(kind)
        # pvaflow's own errors say what is wrong in their message; the place matters in a user's code
        place = "" if isinstance(ex, PvaflowError) else f"at {where}; "
        logger.error("%s: %s: %s (%sfurther errors of this kind are counted only)",
                     what, type(ex).__name__, ex, place)

    # --- commands (from the control channel thread) ------------------------
    def submit(self, command: Command, reply: Callable[[str], None]) -> None:
        """Queue a command for the host thread; ``reply`` gets its outcome (any thread may call)."""
        self.inbox.put((command, reply))

    def run_commands(self, wait: float) -> None:
        """Run queued commands; wait up to ``wait`` seconds for the first."""
        try:
            command, reply = self.inbox.get(timeout=wait) if wait > 0 else self.inbox.get_nowait()
        except queue.Empty:
            return
        while True:
            try:
                reply(execute(command, self))
            except Exception as ex:  # noqa: BLE001
                self.log_once(ex, f"command {command.name} failed")
            try:
                command, reply = self.inbox.get_nowait()
            except queue.Empty:
                return

    def publish_stats(self) -> None:
        """get_stats: the status channel and the report, now."""
        self.publish_snapshot((self.status, self.report))

    def request_stop(self) -> None:
        self.stop_event.set()

    def configure(self, config: dict[str, Any]) -> str:
        if not self.lock.acquire(timeout=LOCK_WAIT):
            return f"{CONFIGURE_FAILED}busy: {self.stuck()}"
        try:
            if "receiverQueueSize" in config:
                try:
                    self.receiver.set_queue_size(config["receiverQueueSize"])
                except (ValueError, TypeError, OverflowError) as ex:
                    return f"{CONFIGURE_FAILED}receiverQueueSize: {ex}"
            if "skipInitialUpdates" in config:
                self.skip_remaining = config["skipInitialUpdates"]
            if "objectIdOffset" in config or "nSequentialUpdates" in config:
                self.accounting.configure(config.get("objectIdOffset", self.accounting.offset),
                                          config.get("nSequentialUpdates", self.accounting.updates))
            try:
                self.processor.configure(config)
            except FramesLostError as ex:  # the configure closed a file that could not be completed
                self.counters.lost_after_processing(ex.n_lost)
                self.log_once(ex, "configure() lost frames")
                return f"{CONFIGURE_FAILED}configure() lost frames: {ex}"
            except USER_ERRORS as ex:
                self.log_once(ex, "configure() failed")
                return f"{CONFIGURE_FAILED}{type(ex).__name__}: {ex}"
        finally:
            self.lock.release()
        return CONFIGURED

    def reset_stats(self) -> bool:
        """Zero every count; False if a process() call held the host up too long to do it."""
        if not self.lock.acquire(timeout=LOCK_WAIT):
            return False
        try:
            self.counters = ProcessorCounters()
            self.accounting.reset()
            self.receiver.reset_stats()
            self.publisher.reset_stats()
            if self.metadata is not None:
                self.metadata.reset_stats()
            try:
                self.processor.resetStats()
            except USER_ERRORS as ex:
                self.log_once(ex, "resetStats() failed")
        finally:
            self.lock.release()
        return True

    # --- statistics ---------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """The status of now; without the processor's own statistics while a process() call is stuck."""
        locked = self.lock.acquire(timeout=LOCK_WAIT)
        try:
            now = time.time()
            counters = self.counters
            own_stats: dict[str, Any] = {}
            if locked:
                try:
                    own_stats = user_stats(self.processor.getStats() or {}, self.user_types)
                except USER_ERRORS as ex:
                    self.log_once(ex, "getStats() failed")
            elif not self.stuck_reported:
                self.stuck_reported = True
                logger.warning("status without the processor's statistics until it returns: %s", self.stuck())
            self.n_snapshots += 1
            return status_snapshot(self.settings.role, self.settings.host_id, self.n_snapshots, now, self.receiver,
                                   self.publisher.counts(), counters.snapshot(self.accounting, now), own_stats,
                                   self.metadata.stats() if self.metadata is not None else {})
        finally:
            if locked:
                self.lock.release()

    def stuck(self) -> str:
        """What holds the host up: the process() call running now, if any."""
        busy = self.busy
        if busy is None:
            return "no process() call is running"
        object_id, thread_id, since = busy
        return (f"process() has not returned for {time.monotonic() - since:.1f} s on {self.oid_field} {object_id} "
                f"(at {where(thread_id)})")

    def publish_snapshot(self, sinks: tuple[SnapshotSink | None, ...]) -> dict[str, Any]:
        snapshot = self.snapshot()
        for sink in sinks:
            if sink is None:
                continue
            try:
                sink.publish(snapshot)
            except Exception as ex:  # noqa: BLE001
                self.log_once(ex, "cannot publish statistics")
        return snapshot

    # --- life cycle (host thread) ------------------------------------------
    def start(self) -> None:
        with self.lock:
            try:
                self.processor.start()
            except USER_ERRORS as ex:
                raise ProcessorLoadError(f"{location(ex)}: processor start() failed: {describe(ex)}") from ex
            self.counters = ProcessorCounters()
            self.publisher.prepare_at_start(self.processor)
        if self.metadata is not None:
            self.metadata.start()
        self.receiver.start(self.handle_object)
        if not self.publisher.ready:
            self.prepare_from_sample()  # a served input knows its type: the output can exist before any object

    def stop_processor(self) -> None:
        """``processor.stop()``, given PROCESSOR_STOP_TIMEOUT seconds: a stop() that hangs must not keep
        the consumer (and a pipeline waiting for it) from exiting."""
        try:
            if not call_with_timeout(self.processor.stop, PROCESSOR_STOP_TIMEOUT, "processor-stop"):
                logger.error("processor stop() did not return within %.0f s: exiting without waiting for it",
                             PROCESSOR_STOP_TIMEOUT)
        except USER_ERRORS as ex:
            if isinstance(ex, FramesLostError):
                self.counters.lost_after_processing(ex.n_lost)
            self.log_once(ex, "stop() failed")

    def take_from_queue(self) -> None:
        """Process queued objects, honouring accumulation; waits at most POLL_SECONDS."""
        settings = self.settings
        if settings.accumulate_objects > 0:
            queued = self.receiver.queued()
            if queued < settings.accumulate_objects and (
                queued == 0 or self.receiver.seconds_since_put() < settings.accumulation_timeout
            ):
                time.sleep(POLL_SECONDS)
                return
            for _ in range(queued):
                pv = self.receiver.get(0)
                if pv is None:
                    return
                self.handle_object(pv)
            return
        pv = self.receiver.get(POLL_SECONDS)
        budget_end = time.monotonic() + POLL_SECONDS  # then commands, reports and stop are looked at
        while pv is not None:
            self.handle_object(pv)
            if not self.inbox.empty() or time.monotonic() > budget_end:
                return
            pv = self.receiver.get(0)

    def run(self, stop: threading.Event, force: threading.Event | None = None) -> dict[str, Any]:
        """Start, serve until ``stop``, a stop command or the runtime, then stop; the final snapshot.

        Once a stop is under way, a watchdog ends the process if it does not finish in time, or at once when
        ``force`` is set (see :mod:`pvaflow.stream.watchdog`).
        """
        settings = self.settings
        started = time.monotonic()

        def stop_asked() -> bool:
            return stop.is_set() or self.stop_event.is_set() or (
                settings.runtime > 0 and time.monotonic() - started >= settings.runtime)

        watchdog = ShutdownWatchdog(stop_asked, force or threading.Event(), self.stuck)
        watchdog.start()
        try:
            self.start()
        except BaseException:
            watchdog.done()
            raise
        if self.receiving_threads is not None:
            self.receiving_threads.apply()
        status_period = min(STATUS_PERIOD, settings.report_period) if settings.report_period > 0 else STATUS_PERIOD
        next_status = started + status_period
        next_report = started + settings.report_period
        queued_mode = self.receiver.queue is not None
        try:
            while not (stop.is_set() or self.stop_event.is_set()):
                self.receiver.watch_connection(self.delivered())
                if queued_mode:
                    self.take_from_queue()
                    self.run_commands(0)
                    if not self.publisher.ready:
                        self.prepare_from_sample()
                else:
                    self.run_commands(POLL_SECONDS)
                now = time.monotonic()
                due_report = settings.report_period > 0 and now >= next_report
                if due_report or now >= next_status:
                    if self.receiving_threads is not None:
                        self.receiving_threads.apply()  # new connections have new threads
                    self.publish_snapshot((self.status, self.report if due_report else None))
                    next_status = now + status_period
                    if due_report:
                        next_report = now + settings.report_period
                if settings.runtime > 0 and now - started >= settings.runtime:
                    break
        finally:
            self.receiver.stop()
            if self.metadata is not None:
                self.metadata.stop()
            if self.lock.acquire(timeout=LOCK_WAIT):
                try:
                    self.counters.end_time = time.time()
                    self.stop_processor()
                finally:
                    self.lock.release()
            else:
                self.exit_code = EXIT_STUCK
                logger.error("processor stop() not called: %s (exit code %d)", self.stuck(), EXIT_STUCK)
            self.run_commands(0)  # answer commands that arrived meanwhile
        if self.stop_event.is_set():
            time.sleep(STOP_REPLY_GRACE)  # let the client that sent stop read the reply
        final = self.publish_snapshot((self.status,))
        watchdog.done()
        return final
