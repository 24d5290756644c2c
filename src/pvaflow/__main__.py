"""``python -m pvaflow``: the same as the ``pvaflow`` command."""

from .cli import main

raise SystemExit(main())
