"""Reliability and security: hostile input, real faults, signals, privileges (issue 10).

Everything here is real: files on a tmpfs or an ext4 image that fills up or goes
read-only, a veth pair in a network namespace the test creates, a websocket server
that speaks nonsense, processes signalled at awkward moments. Traffic goes to
127.0.0.1 or stays inside the test's own namespace. SECURITY.md says what each
file covers; the long runs are ``benchmarks/fuzz.py`` and ``benchmarks/soak.py``.
"""
