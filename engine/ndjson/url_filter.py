"""URL filters: ``*`` wildcards over the whole URL, ``!`` patterns exclude and win.

URLs come from the browser (a page chooses them), so matching must stay linear:
a regular expression of ``.*`` per star backtracks polynomially (``*a*a*b``
against a long URL of ``a`` took seconds per request). Only ``*`` is special,
so a greedy leftmost search of each literal piece in turn is exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.errors import UsageError

MAX_PATTERN = 2048


@dataclass(frozen=True, slots=True)
class _Glob:
    """One wildcard pattern as its literal pieces: the first and last are anchored."""

    pieces: tuple[str, ...]

    def fullmatch(self, text: str) -> bool:
        """True when the whole text matches, in time linear in its length per piece."""
        pieces = self.pieces
        if len(pieces) == 1:
            return text == pieces[0]
        first, last = pieces[0], pieces[-1]
        if len(text) < len(first) + len(last) or not text.startswith(first):
            return False
        if not text.endswith(last):
            return False
        position, end = len(first), len(text) - len(last)
        for piece in pieces[1:-1]:
            found = text.find(piece, position, end)
            if found < 0:
                return False
            position = found + len(piece)
        return True


def _compile(pattern: str) -> _Glob:
    """A wildcard pattern (``*`` is the only wildcard) split into its literal pieces."""
    return _Glob(tuple(pattern.split("*")))


@dataclass(frozen=True)
class UrlFilter:
    """Which request URLs a capture keeps: any include matches and no exclude does."""

    patterns: tuple[str, ...] = ()
    _includes: tuple[_Glob, ...] = field(default=(), repr=False, compare=False)
    _excludes: tuple[_Glob, ...] = field(default=(), repr=False, compare=False)

    @classmethod
    def parse(cls, patterns: list[str] | tuple[str, ...]) -> UrlFilter:
        """Check and compile the patterns as given on the command line."""
        includes, excludes = [], []
        for pattern in patterns:
            if not pattern or pattern == "!":
                raise UsageError("a URL filter pattern cannot be empty")
            if len(pattern) > MAX_PATTERN or any(ord(c) < 32 for c in pattern):
                raise UsageError(
                    f"URL filter {pattern[:40]!r} is too long or has control characters"
                )
            if pattern.startswith("!"):
                excludes.append(_compile(pattern[1:]))
            else:
                includes.append(_compile(pattern))
        return cls(tuple(patterns), tuple(includes), tuple(excludes))

    def allows(self, url: str) -> bool:
        """True when the URL is kept."""
        if any(p.fullmatch(url) for p in self._excludes):
            return False
        return not self._includes or any(p.fullmatch(url) for p in self._includes)

    def describe(self) -> str | list[str] | None:
        """The patterns as the start report shows them: one string, a list, or null."""
        if not self.patterns:
            return None
        return self.patterns[0] if len(self.patterns) == 1 else list(self.patterns)
