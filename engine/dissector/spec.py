"""Protocol specs: read JSON or YAML, validate every part, build typed dataclasses.

A spec describes a binary protocol once (see ``examples/README.md``); the Lua
generator, the checker and the draft writer all work from the
:class:`ProtocolSpec` built here. A spec is untrusted input: every name must be
a plain identifier, every number is range-checked, every text has a length
limit, and an error names the place in the spec and the problem, e.g.
``fields[3].length: refers to unknown field "len"``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.dissector import expr as expressions
from engine.dissector.expr import Expr, ExpressionError
from engine.dissector.model import (
    _NAME,
    BYTE_ORDERS,
    DEFAULT_MAX_MESSAGE,
    DISPLAYS,
    FIELD_TYPES,
    FIXED_TYPES,
    INTEGER_TYPES,
    MAX_BITS,
    MAX_CASES,
    MAX_DEPTH,
    MAX_ENUM,
    MAX_FIELDS,
    MAX_FIXED_LENGTH,
    MAX_LABEL,
    MAX_MESSAGE,
    MAX_PORTS,
    MAX_SPEC_BYTES,
    MAX_STRUCTS,
    MAX_TEXT,
    PREFIX_TYPES,
    REST,
    TEXT_TYPES,
    TRANSPORTS,
    BitSpec,
    FieldSpec,
    Framing,
    InfoPart,
    Length,
    ProtocolSpec,
    Repeat,
    StructSpec,
    SwitchSpec,
    default_label,
    fixed_offsets,
    fixed_size,
    int_range,
    is_valid_name,
    magic_text,
    walk_fields,
)
from engine.errors import BadInputError, NotFoundError, from_os_error

_TOP_KEYS = frozenset(
    {
        "$schema",
        "comment",
        "protocol",
        "description",
        "transport",
        "ports",
        "heuristic",
        "byte_order",
        "info",
        "framing",
        "fields",
        "structs",
    }
)
_FIELD_KEYS = frozenset(
    {
        "comment",
        "name",
        "type",
        "label",
        "description",
        "byte_order",
        "display",
        "enum",
        "bits",
        "magic",
        "length",
        "length_prefix",
        "struct",
        "fields",
        "on",
        "cases",
        "default",
        "repeat",
    }
)
_BIT_KEYS = frozenset({"comment", "name", "mask", "label", "description", "enum"})
_STRUCT_KEYS = frozenset({"comment", "description", "fields"})
_FRAMING_KEYS = frozenset({"comment", "length", "max_length"})
_REPEAT_KEYS = frozenset({"count", "until"})


class SpecError(BadInputError):
    """A spec that cannot be used; the message names the place and the problem."""

    def __init__(self, source: str, path: str, problem: str) -> None:
        where = f"{path}: " if path else ""
        super().__init__(f"{source}: {where}{problem}")
        self.source = source
        self.path = path
        self.problem = problem


class _Invalid(Exception):
    """Raised inside validation; turned into a SpecError with the source name."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


# --------------------------------------------------------------------------- loading


def read_spec_data(path: str | Path) -> dict[str, Any]:
    """The raw mapping in a JSON or YAML spec file (not validated yet).

    JSON is read for ``.json`` files and any file that starts with ``{``;
    YAML (safe loading, no aliases) otherwise.
    """
    path = Path(path)
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_SPEC_BYTES + 1)
    except FileNotFoundError:
        raise NotFoundError(f"{path} does not exist: check the spec file's path") from None
    except IsADirectoryError:
        raise BadInputError(f"{path} is a directory, not a spec file") from None
    except OSError as error:
        raise from_os_error(error, f"read {path}") from None
    except ValueError:  # a NUL in the name: no file can have it
        raise BadInputError(
            f"{str(path)!r} is not a usable file name: it contains a NUL character"
        ) from None
    if len(raw) > MAX_SPEC_BYTES:
        raise BadInputError(f"{path}: a spec file may be at most {MAX_SPEC_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInputError(f"{path}: the spec is not UTF-8 text") from None
    if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        data = _load_json(text, str(path))
    else:
        data = _load_yaml(text, str(path))
    if not isinstance(data, dict):
        raise SpecError(str(path), "", "the spec must be a mapping (a JSON object) at the top")
    return data


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the key {key!r} appears twice in one object")
        result[key] = value
    return result


def _load_json(text: str, source: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as error:
        raise BadInputError(
            f"{source}: not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except (ValueError, RecursionError) as error:
        raise BadInputError(f"{source}: not a usable JSON spec: {error}") from None


def _load_yaml(text: str, source: str) -> Any:
    import yaml

    try:
        # aliases let a small file expand into a huge structure: refuse them
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                raise BadInputError(f"{source}: YAML aliases (*name) are not allowed in a spec")
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        raise BadInputError(f"{source}: not valid YAML: {error.problem}{where}") from None
    except (yaml.YAMLError, RecursionError, ValueError) as error:
        raise BadInputError(f"{source}: not valid YAML: {error}") from None


def load_spec(path: str | Path) -> ProtocolSpec:
    """Read and validate a spec file (JSON or YAML).

    Raises :class:`NotFoundError` for a missing file and :class:`SpecError`
    (a :class:`BadInputError`) naming the field path and the problem.
    """
    return parse_spec(read_spec_data(path), source=str(path))


def override(
    data: Mapping[str, Any], protocol_name: str | None = None, port: int | None = None
) -> dict[str, Any]:
    """A copy of raw spec data with the protocol name and/or the ports replaced."""
    result = dict(data)
    if protocol_name is not None:
        result["protocol"] = protocol_name
    if port is not None:
        result["ports"] = [port]
    return result


def parse_spec(data: Mapping[str, Any], source: str = "<spec>") -> ProtocolSpec:
    """Validate raw spec data (from JSON or YAML) into a :class:`ProtocolSpec`.

    Raises :class:`SpecError` with the path of the first problem found.
    """
    try:
        return _Validator(data).protocol(source)
    except _Invalid as problem:
        raise SpecError(source, problem.path, problem.problem) from None
    except RecursionError:
        raise SpecError(source, "", "the spec nests too deeply") from None


# --------------------------------------------------------------------------- validation


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _quote(text: str) -> str:
    """Text from the spec, quoted for an error message: printable and short."""
    shown = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text[:60])
    return '"' + shown.replace('"', '\\"') + ('…"' if len(text) > 60 else '"')


@dataclass(slots=True)
class _Scope:
    """Names visible to expressions at one point: this struct's so far, then enclosing ones."""

    names: dict[str, FieldSpec | BitSpec]
    later: set[str]
    parent: _Scope | None = None

    def lookup(self, name: str) -> FieldSpec | BitSpec | None:
        scope: _Scope | None = self
        while scope is not None:
            if name in scope.names:
                return scope.names[name]
            scope = scope.parent
        return None

    def declared_later(self, name: str) -> bool:
        return name in self.later

    def referenceable(self) -> frozenset[str]:
        found: set[str] = set()
        scope: _Scope | None = self
        while scope is not None:
            found.update(scope.names)
            scope = scope.parent
        return frozenset(found)


class _Validator:
    """Walks raw spec data once, building dataclasses and raising _Invalid on the first fault."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.protocol_name = ""
        self.little_endian = False
        self.field_count = 0
        self.raw_structs: dict[str, Any] = {}
        self.structs: dict[str, StructSpec] = {}
        self.building: list[str] = []
        self.checked_uses: set[tuple[str, frozenset[str]]] = set()
        self.abbrevs: dict[str, str] = {}
        self.all_fields: dict[str, FieldSpec | BitSpec] = {}
        self.repeated_bits: set[BitSpec] = set()

    # ----------------------------------------------------------------- primitives

    def keys(self, value: Any, path: str, allowed: frozenset[str], what: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _Invalid(path, f"must be an object ({what}), not {_kind(value)}")
        for key in value:
            if not isinstance(key, str):
                raise _Invalid(path, f"has a key that is not a string: {key!r}")
            if key not in allowed:
                known = ", ".join(sorted(k for k in allowed if k != "$schema"))
                raise _Invalid(path, f"unknown key {_quote(key)} (known keys: {known})")
        return value

    def name(self, value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise _Invalid(path, f"must be a string, not {_kind(value)}")
        if not _NAME.match(value):
            raise _Invalid(
                path,
                f"{_quote(value)} is not a valid name: use 1 to 64 lower-case letters, digits "
                "and underscores, starting with a letter",
            )
        return value

    def text(self, value: Any, path: str, limit: int, allow_empty: bool = True) -> str:
        if not isinstance(value, str):
            raise _Invalid(path, f"must be a string, not {_kind(value)}")
        if len(value) > limit:
            raise _Invalid(path, f"is longer than {limit} characters")
        if not allow_empty and not value:
            raise _Invalid(path, "must not be empty")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _Invalid(path, "is not valid Unicode text (lone surrogate)") from None
        return value

    def integer(self, value: Any, path: str, low: int, high: int) -> int:
        """An integer given as a number or as a decimal / 0x hex string, within [low, high]."""
        number: int | None = None
        if isinstance(value, bool):
            number = None
        elif isinstance(value, int):
            number = value
        elif isinstance(value, str):
            text = value.strip()
            try:
                if re.fullmatch(r"-?0[xX][0-9a-fA-F]{1,16}", text):
                    number = int(text, 16)
                elif re.fullmatch(r"-?[0-9]{1,20}", text):
                    number = int(text)
            except ValueError:  # pragma: no cover - the patterns only pass valid numbers
                number = None
        if number is None:
            raise _Invalid(path, f"must be an integer, not {_kind(value)}")
        if not low <= number <= high:
            raise _Invalid(path, f"{number} is out of range ({low} to {high})")
        return number

    def choice(self, value: Any, path: str, options: Sequence[str]) -> str:
        if not isinstance(value, str) or value not in options:
            shown = _quote(value) if isinstance(value, str) else _kind(value)
            raise _Invalid(path, f"{shown} is not one of: {', '.join(options)}")
        return value

    def count_field(self, path: str) -> None:
        self.field_count += 1
        if self.field_count > MAX_FIELDS:
            raise _Invalid(path, f"the spec has more than {MAX_FIELDS} fields")

    def claim_abbrev(self, abbrev: str, path: str) -> None:
        other = self.abbrevs.get(abbrev)
        if other is not None and other != path:
            raise _Invalid(
                path, f"its filter name {abbrev} is already used by {other}: rename one of them"
            )
        self.abbrevs[abbrev] = path

    # ----------------------------------------------------------------- protocol

    def protocol(self, source: str) -> ProtocolSpec:
        data = self.keys(self.data, "", _TOP_KEYS, "the spec")
        if "protocol" not in data:
            raise _Invalid("protocol", 'is required (the protocol\'s name, e.g. "sensor")')
        self.protocol_name = self.name(data["protocol"], "protocol")
        description = self.text(
            data.get("description", f"{self.protocol_name.upper()} protocol"),
            "description",
            MAX_LABEL,
            allow_empty=False,
        )
        if "transport" not in data:
            raise _Invalid("transport", "is required (udp or tcp)")
        transport = self.choice(data["transport"], "transport", TRANSPORTS)
        self.little_endian = (
            self.choice(data.get("byte_order", "big"), "byte_order", BYTE_ORDERS) == "little"
        )
        heuristic = data.get("heuristic", False)
        if not isinstance(heuristic, bool):
            raise _Invalid("heuristic", f"must be true or false, not {_kind(heuristic)}")
        ports = self.ports(data.get("ports", []))
        if not ports and not heuristic:
            raise _Invalid(
                "ports", 'give at least one port, or set "heuristic": true to find it by magic'
            )
        raw_structs = data.get("structs", {})
        if not isinstance(raw_structs, dict):
            raise _Invalid("structs", f"must be an object (name: struct), not {_kind(raw_structs)}")
        if len(raw_structs) > MAX_STRUCTS:
            raise _Invalid("structs", f"more than {MAX_STRUCTS} structs")
        for struct_name in raw_structs:
            if not isinstance(struct_name, str):
                raise _Invalid("structs", f"the struct name {struct_name!r} is not a string")
        for struct_name in sorted(raw_structs):
            self.name(struct_name, f"structs.{struct_name}")
            self.keys(raw_structs[struct_name], f"structs.{struct_name}", _STRUCT_KEYS, "a struct")
        self.raw_structs = raw_structs
        if "fields" not in data:
            raise _Invalid("fields", "is required (the message's fields, in order)")
        top = self.field_list(
            data["fields"], "fields", f"{self.protocol_name}", _Scope({}, set()), depth=0
        )
        for struct_name in sorted(raw_structs):  # structs nothing uses are still checked
            if struct_name not in self.structs:
                self.named_struct(struct_name, f"structs.{struct_name}", _Scope({}, set()), 0)
        self.claim_abbrev(self.protocol_name, "protocol")
        info = self.info(data.get("info"))
        framing = None
        if "framing" in data:
            if transport != "tcp":
                raise _Invalid("framing", "only TCP needs framing: remove it for udp")
            framing = self.framing(data["framing"], top)
        checks = self.heuristic_checks(top) if heuristic else ()
        if heuristic and not checks:
            raise _Invalid(
                "heuristic",
                'needs a field with "magic" at a fixed offset at the start of the message',
            )
        return ProtocolSpec(
            name=self.protocol_name,
            description=description,
            transport=transport,
            ports=tuple(ports),
            heuristic=heuristic,
            little_endian=self.little_endian,
            fields=top,
            structs=tuple(self.structs[name] for name in sorted(self.structs)),
            info=info,
            framing=framing,
            heuristic_checks=checks,
            source=source,
        )

    def ports(self, value: Any) -> list[tuple[int, int]]:
        if not isinstance(value, list):
            raise _Invalid(
                "ports", f'must be a list of ports and "first-last" ranges, not {_kind(value)}'
            )
        if len(value) > MAX_PORTS:
            raise _Invalid("ports", f"more than {MAX_PORTS} entries")
        result: list[tuple[int, int]] = []
        for index, item in enumerate(value):
            path = f"ports[{index}]"
            if isinstance(item, str) and "-" in item.strip().lstrip("-"):
                first_text, _, last_text = item.strip().partition("-")
                first = self.integer(first_text, path, 1, 65535)
                last = self.integer(last_text, path, 1, 65535)
                if first > last:
                    raise _Invalid(path, f"the range {_quote(item)} runs backwards")
                result.append((first, last))
            else:
                port = self.integer(item, path, 1, 65535)
                result.append((port, port))
        return result

    # ----------------------------------------------------------------- structs and fields

    def named_struct(self, name: str, path: str, scope: _Scope, depth: int) -> StructSpec:
        """Build a named struct once; check its expressions against each distinct use."""
        if name not in self.raw_structs:
            known = ", ".join(sorted(self.raw_structs)) or "none are defined"
            raise _Invalid(path, f"refers to unknown struct {_quote(name)} (structs: {known})")
        if name in self.building:
            chain = " → ".join([*self.building[self.building.index(name) :], name])
            raise _Invalid(path, f"struct {_quote(name)} contains itself ({chain})")
        if depth > MAX_DEPTH:
            raise _Invalid(path, f"structs nest more than {MAX_DEPTH} deep")
        key = (name, scope.referenceable())
        if name in self.structs and key in self.checked_uses:
            return self.structs[name]
        raw = self.raw_structs[name]
        struct_path = f"structs.{name}"
        description = self.text(raw.get("description", ""), f"{struct_path}.description", MAX_TEXT)
        self.building.append(name)
        try:
            saved_count = self.field_count
            fields = self.field_list(
                raw.get("fields"),
                f"{struct_path}.fields",
                f"{self.protocol_name}.{name}",
                scope,
                depth + 1,
            )
            if name in self.structs:
                self.field_count = saved_count  # checked again for another use: count it once
        finally:
            self.building.pop()
        self.checked_uses.add(key)
        built = StructSpec(name, description, fields)
        self.structs.setdefault(name, built)
        return built

    def field_list(
        self, value: Any, path: str, prefix: str, parent: _Scope, depth: int
    ) -> tuple[FieldSpec, ...]:
        if value is None:
            raise _Invalid(path, "is required (a list of fields)")
        if not isinstance(value, list):
            raise _Invalid(path, f"must be a list of fields, not {_kind(value)}")
        if not value:
            raise _Invalid(path, "must hold at least one field")
        raw_names = {
            str(item["name"])
            for item in value
            if isinstance(item, dict) and isinstance(item.get("name"), str)
        }
        scope = _Scope({}, raw_names, parent)
        result: list[FieldSpec] = []
        for index, raw in enumerate(value):
            item_path = f"{path}[{index}]"
            name = raw.get("name") if isinstance(raw, dict) else None
            if isinstance(name, str) and name in scope.names:  # a list or dict is no name
                raise _Invalid(
                    f"{item_path}.name",
                    f"the name {_quote(str(raw['name']))} is used twice in this struct",
                )
            built = self.field(raw, item_path, prefix, scope, depth)
            declared_items: list[FieldSpec | BitSpec] = [built, *built.bits]
            for declared in declared_items:
                if declared.name in scope.names:
                    raise _Invalid(
                        f"{declared.path}.name",
                        f"the name {_quote(declared.name)} is used twice in this struct",
                    )
                scope.names[declared.name] = declared
                self.all_fields.setdefault(declared.name, declared)
            if built.repeat is not None:
                self.repeated_bits.update(built.bits)
            result.append(built)
        return tuple(result)

    def field(self, raw: Any, path: str, prefix: str, scope: _Scope, depth: int) -> FieldSpec:
        data = self.keys(raw, path, _FIELD_KEYS, "a field")
        self.count_field(path)
        if "name" not in data:
            raise _Invalid(f"{path}.name", "is required")
        name = self.name(data["name"], f"{path}.name")
        if "type" not in data:
            raise _Invalid(f"{path}.type", "is required (e.g. uint16, string, struct)")
        kind = self.choice(data["type"], f"{path}.type", FIELD_TYPES)
        abbrev = f"{prefix}.{name}"
        self.claim_abbrev(abbrev, path)
        label = self.text(data.get("label", default_label(name)), f"{path}.label", MAX_LABEL, False)
        description = self.text(data.get("description", ""), f"{path}.description", MAX_TEXT)
        little = self.little_endian
        if "byte_order" in data:
            if (
                kind not in INTEGER_TYPES
                and kind not in ("float", "double")
                and "length_prefix" not in data
            ):
                raise _Invalid(
                    f"{path}.byte_order",
                    "only numbers and length prefixes have a byte order",
                )
            little = self.choice(data["byte_order"], f"{path}.byte_order", BYTE_ORDERS) == "little"
        size, signed = INTEGER_TYPES.get(kind, (0, False))
        display = "dec"
        if "display" in data:
            if kind not in INTEGER_TYPES:
                raise _Invalid(f"{path}.display", "only integers have a display base")
            display = self.choice(data["display"], f"{path}.display", DISPLAYS)
        elif "magic" in data and kind in INTEGER_TYPES:
            display = "hex"
        self.only_for(data, path, kind, "enum", INTEGER_TYPES)
        enum: tuple[tuple[int, str], ...] = ()
        if "enum" in data:
            if size > 4:
                raise _Invalid(f"{path}.enum", "enums need an integer type of 32 bits or fewer")
            low, high = int_range(size, signed)
            enum = self.enum(data["enum"], f"{path}.enum", low, high)
        bits: tuple[BitSpec, ...] = ()
        if "bits" in data:
            if kind not in INTEGER_TYPES or signed or size > 4:
                raise _Invalid(
                    f"{path}.bits", "bits need an unsigned integer type of 32 bits or fewer"
                )
            bits = self.bits(data["bits"], f"{path}.bits", abbrev, size)
        length = self.length(data, path, kind, scope)
        magic = self.magic(
            data, path, kind=kind, size=size, signed=signed, little=little, length=length
        )
        struct_name: str | None = None
        inline: tuple[FieldSpec, ...] = ()
        switch: SwitchSpec | None = None
        if kind == "struct":
            if ("struct" in data) == ("fields" in data):
                raise _Invalid(
                    path, 'a struct field needs either "struct" (a named struct) or "fields"'
                )
            if "struct" in data:
                struct_name = self.name(data["struct"], f"{path}.struct")
                self.named_struct(struct_name, f"{path}.struct", scope, depth)
            else:
                if depth + 1 > MAX_DEPTH:
                    raise _Invalid(path, f"structs nest more than {MAX_DEPTH} deep")
                inline = self.field_list(data["fields"], f"{path}.fields", abbrev, scope, depth + 1)
        else:
            for key in ("struct", "fields"):
                if key in data:
                    raise _Invalid(f"{path}.{key}", "only a struct field has this key")
        if kind == "switch":
            switch = self.switch(data, path, scope, depth)
        else:
            for key in ("on", "cases", "default"):
                if key in data:
                    raise _Invalid(f"{path}.{key}", "only a switch field has this key")
        repeat = (
            self.repeat(data.get("repeat"), f"{path}.repeat", scope) if "repeat" in data else None
        )
        if repeat is not None and kind == "switch":
            raise _Invalid(f"{path}.repeat", "a switch cannot repeat: repeat a struct holding it")
        return FieldSpec(
            name=name,
            type=kind,
            label=label,
            description=description,
            path=path,
            abbrev=abbrev,
            little_endian=little,
            display=display,
            enum=enum,
            bits=bits,
            magic=magic,
            length=length,
            struct=struct_name,
            fields=inline,
            switch=switch,
            repeat=repeat,
        )

    def only_for(
        self, data: Mapping[str, Any], path: str, kind: str, key: str, types: Iterable[str]
    ) -> None:
        if key in data and kind not in types:
            raise _Invalid(f"{path}.{key}", f"a {kind} field cannot have {_quote(key)}")

    def enum(self, value: Any, path: str, low: int, high: int) -> tuple[tuple[int, str], ...]:
        if not isinstance(value, dict):
            raise _Invalid(path, f"must be an object (value: name), not {_kind(value)}")
        if not value:
            raise _Invalid(path, "must hold at least one value")
        if len(value) > MAX_ENUM:
            raise _Invalid(path, f"more than {MAX_ENUM} values")
        result: dict[int, str] = {}
        for key, name in value.items():
            key_path = f"{path}.{key}"
            number = self.integer(key, key_path, low, high)
            if number in result:
                raise _Invalid(key_path, f"the value {number} is listed twice")
            result[number] = self.text(name, key_path, MAX_LABEL, allow_empty=False)
        return tuple(sorted(result.items()))

    def bits(self, value: Any, path: str, parent_abbrev: str, size: int) -> tuple[BitSpec, ...]:
        if not isinstance(value, list) or not value:
            raise _Invalid(path, "must be a non-empty list of {name, mask} objects")
        if len(value) > MAX_BITS:
            raise _Invalid(path, f"more than {MAX_BITS} entries")
        result: list[BitSpec] = []
        for index, raw in enumerate(value):
            item_path = f"{path}[{index}]"
            data = self.keys(raw, item_path, _BIT_KEYS, "a bit field")
            self.count_field(item_path)
            if "name" not in data:
                raise _Invalid(f"{item_path}.name", "is required")
            name = self.name(data["name"], f"{item_path}.name")
            if "mask" not in data:
                raise _Invalid(f"{item_path}.mask", 'is required (e.g. "0x0f")')
            mask = self.integer(data["mask"], f"{item_path}.mask", 1, (1 << (8 * size)) - 1)
            shift = (mask & -mask).bit_length() - 1
            width = mask.bit_length() - shift
            abbrev = f"{parent_abbrev}.{name}"
            self.claim_abbrev(abbrev, item_path)
            enum: tuple[tuple[int, str], ...] = ()
            if "enum" in data:
                enum = self.enum(data["enum"], f"{item_path}.enum", 0, mask >> shift)
            result.append(
                BitSpec(
                    name=name,
                    label=self.text(
                        data.get("label", default_label(name)),
                        f"{item_path}.label",
                        MAX_LABEL,
                        False,
                    ),
                    description=self.text(
                        data.get("description", ""), f"{item_path}.description", MAX_TEXT
                    ),
                    mask=mask,
                    shift=shift,
                    width=width,
                    enum=enum,
                    abbrev=abbrev,
                    path=item_path,
                )
            )
        return tuple(result)

    def length(self, data: Mapping[str, Any], path: str, kind: str, scope: _Scope) -> Length | None:
        has_length = "length" in data
        has_prefix = "length_prefix" in data
        if kind in TEXT_TYPES:
            if has_length == has_prefix:
                raise _Invalid(
                    path,
                    f'a {kind} field needs either "length" (a number, an expression or '
                    '"rest") or "length_prefix"',
                )
        elif kind in ("struct", "switch"):
            if has_prefix:
                raise _Invalid(
                    f"{path}.length_prefix", f"a {kind} field cannot have a length prefix"
                )
        else:
            for key in ("length", "length_prefix"):
                if key in data:
                    raise _Invalid(f"{path}.{key}", f"a {kind} field has a size of its own")
        if has_prefix:
            prefix = self.choice(data["length_prefix"], f"{path}.length_prefix", PREFIX_TYPES)
            return Length(prefix=prefix)
        if not has_length:
            return None
        value = data["length"]
        length_path = f"{path}.length"
        if value == REST:
            return Length(rest=True)
        if isinstance(value, int) and not isinstance(value, bool):
            return Length(fixed=self.integer(value, length_path, 0, MAX_FIXED_LENGTH))
        if isinstance(value, str):
            expression = self.expression(value, length_path, scope)
            if isinstance(expression, expressions.Num):
                return Length(
                    fixed=self.integer(expression.value, length_path, 0, MAX_FIXED_LENGTH)
                )
            return Length(expr=expression)
        raise _Invalid(
            length_path, f'must be a number, an expression or "rest", not {_kind(value)}'
        )

    def expression(self, text: str, path: str, scope: _Scope) -> Expr:
        try:
            parsed = expressions.parse_expression(text)
        except ExpressionError as error:
            raise _Invalid(path, str(error)) from None
        for name in expressions.names(parsed):
            self.reference(name, path, scope)
        return parsed

    def reference(self, name: str, path: str, scope: _Scope) -> FieldSpec | BitSpec:
        target = scope.lookup(name)
        if target is None:
            if scope.declared_later(name):
                raise _Invalid(path, f"refers to field {_quote(name)} before it is decoded")
            raise _Invalid(path, f"refers to unknown field {_quote(name)}")
        if isinstance(target, FieldSpec):
            if not target.is_integer:
                raise _Invalid(
                    path,
                    f"refers to field {_quote(name)}, which is a {target.type}, not an integer",
                )
            if target.repeat is not None:
                raise _Invalid(path, f"refers to field {_quote(name)}, which repeats")
        elif target in self.repeated_bits:
            raise _Invalid(path, f"refers to {_quote(name)}, part of a field that repeats")
        return target

    def magic(
        self,
        data: Mapping[str, Any],
        path: str,
        *,
        kind: str,
        size: int,
        signed: bool,
        little: bool,
        length: Length | None,
    ) -> bytes | None:
        if "magic" not in data:
            return None
        value = data["magic"]
        magic_path = f"{path}.magic"
        if "repeat" in data:
            raise _Invalid(magic_path, "a repeated field cannot be a magic constant")
        if kind in INTEGER_TYPES:
            low, high = int_range(size, signed)
            number = self.integer(value, magic_path, low, high)
            return number.to_bytes(size, "little" if little else "big", signed=signed)
        if kind in TEXT_TYPES:
            if length is None or length.fixed is None:
                raise _Invalid(magic_path, f'a magic {kind} needs a fixed "length"')
            if kind == "string":
                encoded = self.text(value, magic_path, MAX_LABEL, allow_empty=False).encode()
                if len(encoded) > length.fixed:
                    raise _Invalid(magic_path, f"is longer than the field ({length.fixed} bytes)")
                return encoded.ljust(length.fixed, b"\x00")
            if not isinstance(value, str) or not re.fullmatch(
                r"(0[xX])?([0-9a-fA-F]{2})+", value.replace(" ", "")
            ):
                raise _Invalid(magic_path, 'must be hex digits, e.g. "534e5352"')
            raw = bytes.fromhex(re.sub(r"^0[xX]", "", value.replace(" ", "")))
            if len(raw) != length.fixed:
                raise _Invalid(magic_path, f"has {len(raw)} bytes but the field has {length.fixed}")
            return raw
        raise _Invalid(magic_path, f"a {kind} field cannot be a magic constant")

    def switch(self, data: Mapping[str, Any], path: str, scope: _Scope, depth: int) -> SwitchSpec:
        if "on" not in data:
            raise _Invalid(f"{path}.on", "is required (the field whose value picks the case)")
        on = self.name(data["on"], f"{path}.on")
        target = self.reference(on, f"{path}.on", scope)
        if isinstance(target, FieldSpec) and target.size is not None and target.size > 4:
            raise _Invalid(f"{path}.on", "a switch needs an integer of 32 bits or fewer")
        raw_cases = data.get("cases")
        if not isinstance(raw_cases, dict) or not raw_cases:
            raise _Invalid(f"{path}.cases", "must be an object (value: struct name) with a case")
        if len(raw_cases) > MAX_CASES:
            raise _Invalid(f"{path}.cases", f"more than {MAX_CASES} cases")
        cases: dict[int, str] = {}
        for key, struct_name in raw_cases.items():
            case_path = f"{path}.cases.{key}"
            number = self.integer(key, case_path, -(2**31), 2**32 - 1)
            if number in cases:
                raise _Invalid(case_path, f"the value {number} is listed twice")
            cases[number] = self.name(struct_name, case_path)
            self.named_struct(cases[number], case_path, scope, depth)
        default = None
        if "default" in data and data["default"] is not None:
            default = self.name(data["default"], f"{path}.default")
            self.named_struct(default, f"{path}.default", scope, depth)
        return SwitchSpec(on, tuple(sorted(cases.items())), default)

    def repeat(self, value: Any, path: str, scope: _Scope) -> Repeat:
        data = self.keys(value, path, _REPEAT_KEYS, '{"count": ...} or {"until": "end"}')
        if ("count" in data) == ("until" in data):
            raise _Invalid(path, 'give either "count" or "until": "end"')
        if "until" in data:
            if data["until"] != "end":
                raise _Invalid(f"{path}.until", 'the only choice is "end"')
            return Repeat(None)
        count = data["count"]
        if isinstance(count, int) and not isinstance(count, bool):
            return Repeat(
                expressions.Num(self.integer(count, f"{path}.count", 0, MAX_FIXED_LENGTH))
            )
        if isinstance(count, str):
            return Repeat(self.expression(count, f"{path}.count", scope))
        raise _Invalid(f"{path}.count", f"must be a number or an expression, not {_kind(count)}")

    # ----------------------------------------------------------------- protocol-wide parts

    def info(self, value: Any) -> tuple[InfoPart, ...]:
        if value is None:
            return ()
        template = self.text(value, "info", MAX_TEXT)
        parts: list[InfoPart] = []
        literal: list[str] = []
        index = 0
        while index < len(template):
            char = template[index]
            if template.startswith("{{", index) or template.startswith("}}", index):
                literal.append(char)
                index += 2
                continue
            if char == "}":
                raise _Invalid("info", f'a lone "}}" at position {index + 1}: write "}}}}"')
            if char != "{":
                literal.append(char)
                index += 1
                continue
            end = template.find("}", index)
            if end < 0:
                raise _Invalid("info", f'the "{{" at position {index + 1} is never closed')
            name = template[index + 1 : end]
            if not _NAME.match(name):
                raise _Invalid("info", f"{_quote(name)} is not a field name")
            target = self.all_fields.get(name)
            if target is None:
                raise _Invalid("info", f"refers to unknown field {_quote(name)}")
            if isinstance(target, FieldSpec) and target.type in ("struct", "switch"):
                raise _Invalid("info", f"field {_quote(name)} is a {target.type}, not a value")
            if literal:
                parts.append(InfoPart("".join(literal)))
                literal = []
            parts.append(InfoPart("", name))
            index = end + 1
        if literal:
            parts.append(InfoPart("".join(literal)))
        return tuple(parts)

    def framing(self, value: Any, top: tuple[FieldSpec, ...]) -> Framing:
        data = self.keys(value, "framing", _FRAMING_KEYS, '{"length": ...}')
        if "length" not in data or not isinstance(data["length"], str):
            raise _Invalid(
                "framing.length",
                "is required: an expression over header fields giving the whole message's length",
            )
        offsets = fixed_offsets(top)
        scope = _Scope({item.name: item for item in top if item.name in offsets}, set())
        try:
            parsed = expressions.parse_expression(data["length"])
        except ExpressionError as error:
            raise _Invalid("framing.length", str(error)) from None
        used = expressions.names(parsed)
        if not used:
            raise _Invalid("framing.length", "must read at least one header field")
        header: list[tuple[FieldSpec, int]] = []
        for name in used:
            target = scope.lookup(name)
            if target is None or not isinstance(target, FieldSpec):
                known = any(item.name == name for item in top)
                problem = (
                    f"field {_quote(name)} must be at a fixed offset (every field before it "
                    "has a fixed size)"
                    if known
                    else f"refers to unknown field {_quote(name)} (only message fields count)"
                )
                raise _Invalid("framing.length", problem)
            if not target.is_integer or target.repeat is not None:
                raise _Invalid("framing.length", f"field {_quote(name)} is not a single integer")
            header.append((target, offsets[name]))
        header_size = max(offset + (item.size or 0) for item, offset in header)
        max_length = self.integer(
            data.get("max_length", DEFAULT_MAX_MESSAGE), "framing.max_length", 1, MAX_MESSAGE
        )
        return Framing(parsed, max_length, tuple(header), header_size)

    def heuristic_checks(self, top: tuple[FieldSpec, ...]) -> tuple[tuple[int, bytes], ...]:
        offsets = fixed_offsets(top)
        return tuple(
            (offsets[item.name], item.magic)
            for item in top
            if item.magic is not None and item.name in offsets
        )


__all__ = [
    "BYTE_ORDERS",
    "FIELD_TYPES",
    "FIXED_TYPES",
    "INTEGER_TYPES",
    "BitSpec",
    "FieldSpec",
    "Framing",
    "InfoPart",
    "Length",
    "ProtocolSpec",
    "Repeat",
    "SpecError",
    "StructSpec",
    "SwitchSpec",
    "fixed_size",
    "is_valid_name",
    "load_spec",
    "magic_text",
    "override",
    "parse_spec",
    "read_spec_data",
    "walk_fields",
]
