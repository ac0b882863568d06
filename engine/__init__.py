"""livetap's engine: capture, decoding, filtering, writing and analysis.

Nothing in this package imports Textual: the UI consumes the plain, immutable
records defined in :mod:`engine.events` and calls the small API of
:class:`engine.session.CaptureSession`.
"""

from engine import native

native.install()
