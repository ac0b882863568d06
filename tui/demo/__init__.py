"""``livetap demo``: real traffic on this machine only, so the app shows something at once.

A small web site on 127.0.0.1, a headless Chromium browsing it in a loop, and a
little UDP/DNS/ICMP chatter plus packets of the example "sensor" protocol
(``examples/sensor.json``), all to 127.0.0.1 at a fixed rate.
"""
