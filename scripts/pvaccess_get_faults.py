"""pvaccess's Channel.get when its server goes away during the get: the two faults, with pvaccess alone.

Each client process runs a PvaServer in a child that exits abruptly after 0.3-1 s, and while it lives asks it
with ``get`` again and again (a new Channel each time, 0.5 s timeout), then starts the next server. Reported
per client: ``segfault`` (the process ended by SIGSEGV: boost.python translated pvaccess's exception while
the GIL was released), ``hung`` (one get had not returned 10 s after its 0.5 s timeout), or ``ok`` with the
number of gets. With ``--p4p`` the clients ask with p4p instead, for comparison. Loopback only.

    .venv/bin/python scripts/pvaccess_get_faults.py                  # 3 clients, 120 s
    .venv/bin/python scripts/pvaccess_get_faults.py --p4p --seconds 60
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time

from pvaflow.loopback import loopback_env, server_env

GET_TIMEOUT = 0.5
HUNG_AFTER = 10.0  # seconds past the get's timeout
SERVER = """
import os, sys, time
import pvaccess as pva
server = pva.PvaServer(sys.argv[1], pva.PvObject({"value": pva.INT}, {"value": 1}))
time.sleep(float(sys.argv[2]))
os._exit(0)
"""


def client(seconds: float, use_p4p: bool) -> None:
    """One client: servers that come and go, asked until ``seconds`` are over; prints its outcome."""
    import random

    name = f"getfault:{os.getpid()}"
    asking_since: list[float | None] = [None]

    def watch() -> None:
        while True:
            time.sleep(1.0)
            since = asking_since[0]
            if since is not None and time.monotonic() - since > GET_TIMEOUT + HUNG_AFTER:
                print(f"hung: a get has not returned in {time.monotonic() - since:.0f} s", flush=True)
                os._exit(3)

    threading.Thread(target=watch, daemon=True).start()
    if use_p4p:
        from p4p.client.thread import Context

        context = Context("pva", nt=False)

        def get() -> None:
            try:
                context.get(name, timeout=GET_TIMEOUT)
            except Exception:  # noqa: BLE001 (p4p: TimeoutError, Disconnected)
                context.disconnect(name)
    else:
        import pvaccess as pva

        def get() -> None:
            channel = pva.Channel(name)
            channel.setTimeout(GET_TIMEOUT)
            try:
                channel.get("field()")
            except pva.PvaException:
                pass

    n_gets = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        server = subprocess.Popen([sys.executable, "-c", SERVER, name, str(random.uniform(0.3, 1.0))],
                                  env=server_env(dict(os.environ)))
        while server.poll() is None:
            asking_since[0] = time.monotonic()
            get()
            asking_since[0] = None
            n_gets += 1
        server.wait()
    print(f"ok: {n_gets} gets", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=3, help="client processes at once")
    parser.add_argument("--seconds", type=float, default=120.0, help="how long each client asks")
    parser.add_argument("--p4p", action="store_true", help="ask with p4p rather than pvaccess")
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.update(loopback_env())
    if args.client:
        client(args.seconds, args.p4p)
        return 0
    command = [sys.executable, __file__, "--client", "--seconds", str(args.seconds), *(["--p4p"] if args.p4p else [])]
    clients = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
               for _ in range(args.clients)]
    for number, process in enumerate(clients, start=1):
        try:
            output, _ = process.communicate(timeout=args.seconds + HUNG_AFTER + 30)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        lines = output.strip().splitlines()
        outcome = "segfault" if process.returncode == -signal.SIGSEGV else (lines[-1] if lines else "no output")
        print(f"client {number}: {outcome} (exit code {process.returncode})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
