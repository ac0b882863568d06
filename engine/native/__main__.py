"""``python -m engine.native build``: see :mod:`engine.native.build`."""

from engine.native.build import main

raise SystemExit(main())
