"""This run's processes, told apart from other test runs on the same machine.

"No livetap Chromium left" used to mean none on the machine, so a second run (another
checkout, another user's suite) failed the first. Every Chromium livetap launches lives
in a fresh ``livetap-chromium-*`` directory under TMPDIR, and that path is on its
command line; the suite gives itself a TMPDIR of its own (``use_own_temp``, called by
conftest before any test), inherited by every livetap it starts. A process whose command
line names that directory is this run's, even one orphaned and adopted by init, which a
check of the test's process tree would miss: the check is scoped, not weakened.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

_own: list[Path] = []


def use_own_temp() -> Path:
    """Make a temporary directory this run's TMPDIR (also for tempfile in this process).

    It is world-writable and sticky like /tmp, since tools livetap runs as another user
    (setpriv) make their files under TMPDIR too. pytest's own ``tmp_path`` folders stay
    where they were (its documented PYTEST_DEBUG_TEMPROOT): paths under them, such as
    the NDJSON control socket's, are near the 107-byte limit of a Unix socket's name.
    """
    if not _own:
        os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", tempfile.gettempdir())
        run = Path(tempfile.mkdtemp(prefix="livetap-tests-"))
        run.chmod(0o1777)
        os.environ["TMPDIR"] = str(run)
        tempfile.tempdir = str(run)
        _own.append(run)
    return _own[0]


def own_temp() -> Path:
    """This run's TMPDIR (made on first use)."""
    return use_own_temp()


def remove_own_temp() -> None:
    """Remove this run's TMPDIR and what is left in it, at the end of the run."""
    if _own:
        shutil.rmtree(_own[0], ignore_errors=True)


def own_processes(*names: str) -> str:
    """Pids (one a line) of this run's processes whose command line names one of ``names``
    inside this run's TMPDIR (by default a Chromium profile: ``livetap-chromium-``)."""
    wanted = "|".join(re.escape(name) for name in names or ("livetap-chromium-",))
    pattern = f"{re.escape(str(own_temp()))}/({wanted})"
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True, check=False)
    return found.stdout.strip()
