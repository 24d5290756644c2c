"""Test helper: run ``pvaflow ARGS...`` with files limited to LIMIT bytes (a disk that fills up at once).

    python limited_files.py LIMIT ARGS...
"""

import resource
import signal
import sys

from pvaflow.cli import main

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
sys.exit(main(sys.argv[2:]))
