"""``python -m pvaflow``: the same as the ``pvaflow`` command."""

from .cli.main import main

raise SystemExit(main())
