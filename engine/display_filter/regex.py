"""``matches`` patterns: compiled once, refused when they could backtrack for ever."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from engine.display_filter.fields import BYTES, FieldSpec
from engine.display_filter.lexer import (
    MAX_AMBIGUITY,
    MAX_PATTERN,
    MAX_SUBJECT,
    DisplayFilterError,
    Token,
)

_REPEATS = frozenset({"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"})
UNBOUNDED = 0xFFFFFFFF
"""The upper bound of ``*``, ``+`` and ``{m,}``, as Python's ``re`` writes it."""
_QUANTIFIER = re.compile(r"\{(\d*)(,?)(\d*)\}")

Item = tuple[str, Any]
"""One element of a pattern's structure: (kind, value), the shape ``re`` itself uses."""


def structure(pattern: str) -> list[Item]:
    """The shape of a pattern that ``re`` compiled: repetitions, groups, branches, lookarounds.

    Only what the backtracking estimate needs is kept (a literal, a class or an anchor is
    one step); the syntax was already checked by ``re.compile``. Written here so nothing
    depends on the standard library's private regular expression parser.
    """
    items, position = _sequence(pattern, 0)
    if position != len(pattern):
        raise re.error("unbalanced parenthesis")
    return items


def _sequence(pattern: str, position: int) -> tuple[list[Item], int]:
    """Items up to a closing parenthesis or the end, alternatives as one BRANCH."""
    branches: list[list[Item]] = [[]]
    size = len(pattern)
    while position < size:
        char = pattern[position]
        if char == ")":
            break
        if char == "|":
            branches.append([])
            position += 1
            continue
        if char in "*+?{" and branches[-1]:
            quantified = _quantifier(pattern, position)
            if quantified is not None:
                low, high, position = quantified
                kind = "MAX_REPEAT"
                if position < size and pattern[position] == "?":
                    kind, position = "MIN_REPEAT", position + 1
                elif position < size and pattern[position] == "+":
                    kind, position = "POSSESSIVE_REPEAT", position + 1
                last = branches[-1].pop()
                branches[-1].append((kind, (low, high, [last])))
                continue
        item, position = _atom(pattern, position)
        if item is not None:
            branches[-1].append(item)
    if len(branches) == 1:
        return branches[0], position
    return [("BRANCH", (None, branches))], position


def _quantifier(pattern: str, position: int) -> tuple[int, int, int] | None:
    """(low, high, position after) of a quantifier at ``position``; None for a literal brace."""
    char = pattern[position]
    if char == "*":
        return 0, UNBOUNDED, position + 1
    if char == "+":
        return 1, UNBOUNDED, position + 1
    if char == "?":
        return 0, 1, position + 1
    match = _QUANTIFIER.match(pattern, position)
    if match is None or not (match.group(1) or match.group(3)):
        return None
    low = int(match.group(1) or 0)
    if match.group(2):
        return low, int(match.group(3)) if match.group(3) else UNBOUNDED, match.end()
    return low, low, match.end()


def _atom(pattern: str, position: int) -> tuple[Item | None, int]:
    """One literal, class, escape, anchor or group, and the position after it."""
    char = pattern[position]
    if char == "(":
        return _group(pattern, position + 1)
    if char == "[":
        return ("IN", None), _class_end(pattern, position + 1)
    if char == "\\":
        return ("LITERAL", None), _escape_end(pattern, position + 1)
    if char == ".":
        return ("ANY", None), position + 1
    if char in "^$":
        return ("AT", None), position + 1
    return ("LITERAL", None), position + 1


def _group(pattern: str, position: int) -> tuple[Item | None, int]:
    """A parenthesised group: capturing, non-capturing, lookaround, atomic, conditional."""
    kind = "SUBPATTERN"
    if pattern.startswith("?", position):
        following = pattern[position + 1 : position + 4]
        if following.startswith("#"):  # a comment
            return None, pattern.index(")", position) + 1
        if following.startswith(("=", "!")):
            kind = "ASSERT" if following[0] == "=" else "ASSERT_NOT"
            position += 2
        elif following.startswith(("<=", "<!")):
            kind = "ASSERT" if following[1] == "=" else "ASSERT_NOT"
            position += 3
        elif following.startswith(">"):
            kind = "ATOMIC_GROUP"
            position += 2
        elif following.startswith("P="):  # a back reference by name
            return ("LITERAL", None), pattern.index(")", position) + 1
        elif following.startswith("P<"):
            position = pattern.index(">", position) + 1
        elif following.startswith("("):  # (?(group)yes|no)
            position = pattern.index(")", position + 2) + 1
            inner, position = _sequence(pattern, position)
            branches = inner[0][1][1] if inner and inner[0][0] == "BRANCH" else [inner, []]
            return ("GROUPREF_EXISTS", (None, branches[0], branches[1])), position + 1
        else:  # inline flags: (?i) alone, or (?i:...) scoped
            end = position + 1
            while end < len(pattern) and pattern[end] not in ":)":
                end += 1
            if end < len(pattern) and pattern[end] == ")":
                return None, end + 1
            position = end + 1
    inner, position = _sequence(pattern, position)
    if position >= len(pattern):
        raise re.error("missing ), unterminated subpattern")
    position += 1
    if kind == "SUBPATTERN":
        return (kind, (None, 0, 0, inner)), position
    if kind == "ATOMIC_GROUP":
        return (kind, inner), position
    return (kind, (1, inner)), position


def _class_end(pattern: str, position: int) -> int:
    """The position after a character class that starts at ``position`` (after its [)."""
    if pattern.startswith("^", position):
        position += 1
    if pattern.startswith("]", position):  # a ] first is a literal
        position += 1
    while position < len(pattern):
        char = pattern[position]
        if char == "\\":
            position += 2
        elif char == "]":
            return position + 1
        else:
            position += 1
    raise re.error("unterminated character set")


def _escape_end(pattern: str, position: int) -> int:
    """The position after an escape whose backslash came before ``position``."""
    if position >= len(pattern):
        raise re.error("bad escape (end of pattern)")
    char = pattern[position]
    if char == "x":
        return position + 3
    if char == "u":
        return position + 5
    if char == "U":
        return position + 9
    if char == "N" and pattern.startswith("{", position + 1):
        return pattern.index("}", position) + 1
    if char == "0" or (char.isdigit() and pattern[position : position + 3].isdigit()):
        end = position + 1
        while end < len(pattern) and end < position + 3 and pattern[end] in "01234567":
            end += 1
        return end
    return position + 1


def _regex(spec: FieldSpec, token: Token) -> re.Pattern[str] | re.Pattern[bytes]:
    """Compile a ``matches`` pattern once; refuse the ones that can take exponential time."""
    if token.kind not in ("string", "word"):
        raise DisplayFilterError(token.column, "matches needs a regular expression in quotes")
    pattern = token.text
    if len(pattern) > MAX_PATTERN:
        raise DisplayFilterError(
            token.column, f"the regular expression is longer than {MAX_PATTERN} characters"
        )
    try:
        compiled: re.Pattern[str] | re.Pattern[bytes]
        if spec.kind == BYTES:
            raw = pattern.encode("utf-8", "surrogatepass")
            compiled = re.compile(raw, re.IGNORECASE | re.DOTALL)
        else:
            compiled = re.compile(pattern, re.IGNORECASE)
        parsed = structure(pattern)
        if _nested_repeat(parsed, False):
            raise DisplayFilterError(
                token.column,
                "the regular expression repeats a repetition (like (a+)+), "
                "which can take forever: simplify it",
            )
        if _ambiguity(parsed) > MAX_AMBIGUITY:
            raise DisplayFilterError(
                token.column,
                "the regular expression can match in too many ways (like .*a.*b, a*a*b or "
                "(a|aa)*), which can take minutes per packet: keep one open-ended repetition, "
                "bound the others ({1,10}), or use and with contains",
            )
        return compiled
    except DisplayFilterError:
        raise
    except (re.error, RecursionError, OverflowError, ValueError, TypeError, IndexError) as error:
        reason = getattr(error, "msg", None) or type(error).__name__
        raise DisplayFilterError(token.column, f"invalid regular expression: {reason}") from None


def _nested_repeat(items: Iterable[Any], inside: bool) -> bool:
    """Whether an unbounded repetition contains another repetition (catastrophic backtracking)."""
    for op, value in items:
        name = str(op)
        if name in _REPEATS:
            low, high, sub = value
            unbounded = high > 1000 or high - low > 100
            if inside and (unbounded or _has_repeat(sub)):
                return True
            if _nested_repeat(sub, inside or unbounded):
                return True
        elif name == "SUBPATTERN":
            if _nested_repeat(value[-1], inside):
                return True
        elif name == "BRANCH":
            if any(_nested_repeat(branch, inside) for branch in value[1]):
                return True
        elif name in ("ASSERT", "ASSERT_NOT"):
            if _nested_repeat(value[1], inside):
                return True
        elif name == "ATOMIC_GROUP" and _nested_repeat(value, inside):
            return True
    return False


def _has_repeat(items: Iterable[Any]) -> bool:
    return _nested_repeat(items, True)


def _ambiguity(items: Iterable[Any]) -> int:
    """How many ways the backtracking matcher may try to match at one position, capped.

    Python's ``re`` cannot be interrupted, so the cost is bounded before matching:
    each repetition multiplies by the lengths it can take (an open-ended one by
    MAX_SUBJECT), an alternation adds its branches, a repeated ambiguous item is
    raised to the power of its count. Sequential open-ended repetitions
    (``.*a.*b``) multiply, which is the polynomial blow-up a single one avoids.
    """
    cost = 1
    for op, value in items:
        name = str(op)
        if name in _REPEATS:
            low, high, sub = value
            high = min(high, MAX_SUBJECT)
            step = max(1, high - min(low, high) + 1)
            inner = _ambiguity(sub)
            for _ in range(high if inner > 1 else 0):
                step *= inner
                if step > MAX_AMBIGUITY:
                    break
            cost *= step
        elif name == "BRANCH":
            cost *= sum(_ambiguity(branch) for branch in value[1])
        elif name == "SUBPATTERN":
            cost *= _ambiguity(value[-1])
        elif name in ("ASSERT", "ASSERT_NOT"):
            cost *= _ambiguity(value[1])
        elif name == "ATOMIC_GROUP":
            cost *= _ambiguity(value)
        elif name == "GROUPREF_EXISTS":
            cost *= _ambiguity(value[1]) + (_ambiguity(value[2]) if value[2] else 1)
        if cost > MAX_AMBIGUITY:
            return cost
    return cost
