"""The packet model: a frame parsed in one place, read by every part of livetap.

:func:`walk` reads a frame's headers once into :class:`Layers`; :class:`Packet` wraps
a frame and fills the rest of its fields lazily from the bytes (a TTL, a window, a
DNS question) for the display filter, the Info column, the reports and the exports.
"""

from engine.packet.walk import KNOWN_LINKTYPES, Layers, Outer, reassembled, walk, walk_ethernet

__all__ = ["KNOWN_LINKTYPES", "Layers", "Outer", "reassembled", "walk", "walk_ethernet"]
