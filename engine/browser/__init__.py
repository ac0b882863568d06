"""The browser source: a Chromium's network traffic over the Chrome DevTools Protocol.

The engine owns the CDP connection (:mod:`engine.browser.session`); protocol
events are folded into immutable :class:`~engine.browser.records.RequestRecord`
snapshots (:mod:`engine.browser.network`). No websocket or CDP object reaches the UI.
"""
