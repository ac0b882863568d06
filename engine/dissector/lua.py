"""The Lua generator: a :class:`ProtocolSpec` in, a Wireshark dissector script out.

The script is meant to be read: a header that says what it is, one table of
fields, one of expert infos, one function per struct and per inline struct,
comments naming the spec path of each field. It is deterministic (the same
spec gives the same bytes: no timestamps, spec order or sorted order
everywhere) and it runs on Wireshark 4.0 and later under Lua 5.1 to 5.4: no
``&``, ``//`` or ``bit32``; bit masks go through the ``bit`` library
Wireshark provides. Every read is bounds-checked first; truncation, bad
lengths, unknown enum values and wrong magic values become expert info, never
a Lua error.

Nothing from the spec reaches the script unescaped: names are identifiers
(checked by the spec validator) and every text goes through
:func:`lua_string`, which writes anything outside printable ASCII, plus
quotes, backslashes and brackets, as ``\\ddd`` decimal escapes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources

from engine.dissector import expr as expressions
from engine.dissector.expr import Expr
from engine.dissector.model import (
    INTEGER_TYPES,
    BitSpec,
    FieldSpec,
    ProtocolSpec,
    magic_text,
    walk_fields,
)

INDENT = "  "
_SAFE_COMMENT = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _.,:;()[]+*/=<>'#%-"
)
_DISPLAY = {
    "dec": "base.DEC",
    "hex": "base.HEX",
    "oct": "base.OCT",
    "dec_hex": "base.DEC_HEX",
    "hex_dec": "base.HEX_DEC",
}
_READERS = {"float": "float", "double": "float", "bool": "uint", "ipv4": "ipv4"}
_PROTOFIELD = {
    "float": "float",
    "double": "double",
    "bool": "bool",
    "ipv4": "ipv4",
    "ipv6": "ipv6",
    "ether": "ether",
    "bytes": "bytes",
    "string": "string",
    "stringz": "string",
    "struct": "none",
    "switch": "none",
}
EXPERTS = (
    ("truncated", "Truncated message", "MALFORMED", "ERROR"),
    ("bad_length", "Impossible length", "MALFORMED", "ERROR"),
    ("unknown_value", "Unknown value", "UNDECODED", "WARN"),
    ("magic_mismatch", "Magic value mismatch", "PROTOCOL", "WARN"),
    ("no_terminator", "String without a terminating NUL", "MALFORMED", "WARN"),
)
"""(key, summary, group, severity) of every expert info the script can add."""


def lua_string(text: str | bytes) -> str:
    """A double-quoted Lua string literal that is safe for any input.

    Printable ASCII is kept except ``\\``, ``"``, ``[`` and ``]``; everything
    else (control characters, NUL, newlines, UTF-8 bytes) becomes a 3-digit
    ``\\ddd`` escape, which every Lua version reads the same way.
    """
    data = text.encode("utf-8") if isinstance(text, str) else text
    out = ['"']
    for byte in data:
        if byte == 0x5C:
            out.append("\\\\")
        elif byte == 0x22:
            out.append('\\"')
        elif 0x20 <= byte < 0x7F and byte not in (0x5B, 0x5D):
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03d}")
    out.append('"')
    return "".join(out)


def _comment(text: str) -> str:
    """Text for a ``--`` comment: only characters that cannot end or open anything."""
    return "".join(c if c in _SAFE_COMMENT else "?" for c in text)


HELPERS = resources.files("engine.dissector").joinpath("helpers.lua").read_text("utf-8")
"""The Lua every generated dissector starts its functions with: length checks, masks, text."""


class _Writer:
    """Lines of Lua with indentation."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.level = 0

    def line(self, text: str = "") -> None:
        self.lines.append(INDENT * self.level + text if text else "")

    def comment(self, text: str) -> None:
        self.line("-- " + _comment(text))

    @contextmanager
    def block(self, opener: str, closer: str = "end") -> Iterator[None]:
        self.line(opener)
        self.level += 1
        try:
            yield
        finally:
            self.level -= 1
            self.line(closer)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


class _Generator:
    """Builds the script for one spec; see :func:`generate_lua`."""

    def __init__(self, spec: ProtocolSpec) -> None:
        self.spec = spec
        self.out = _Writer()
        self.functions: dict[str, str] = {}
        """spec path of an inline struct field, or "struct:NAME" → its function name."""
        self.emitted: set[str] = set()
        self.inline_count = 0

    # ----------------------------------------------------------------- names

    def key(self, abbrev: str) -> str:
        """The key of a field in the F and VS tables: its abbreviation without the protocol."""
        return lua_string(abbrev[len(self.spec.name) + 1 :])

    def function_for(self, item: FieldSpec) -> str:
        if item.struct is not None:
            return f"dissect.struct_{item.struct}"
        name = self.functions.get(item.path)
        if name is None:
            self.inline_count += 1
            name = f"dissect.inline{self.inline_count}_{item.name}"
            self.functions[item.path] = name
        return name

    # ----------------------------------------------------------------- the script

    def script(self) -> str:
        spec, out = self.spec, self.out
        self.header()
        out.line(f"local proto = Proto({lua_string(spec.name)}, {lua_string(spec.description)})")
        out.line()
        self.value_strings()
        self.field_table()
        self.expert_table()
        self.helpers()
        out.comment("One function per struct: each decodes its fields from off up to limit and")
        out.comment("returns the offset after them and whether decoding may go on.")
        out.line("local dissect = {}")
        out.line()
        self.struct_functions()
        self.message_function()
        self.entry_points()
        return out.text()

    def header(self) -> None:
        spec, out = self.spec, self.out
        out.comment(f"{spec.name}.lua: a Wireshark dissector for the {spec.name.upper()} protocol.")
        out.line("--")
        out.comment("Generated by livetap from a protocol spec: change the spec and run")
        out.comment("'livetap dissector generate' again rather than editing this file.")
        out.comment("Runs on Wireshark and tshark 4.0 or later (Lua 5.1 to 5.4).")
        ports = ", ".join(
            str(first) if first == last else f"{first}-{last}" for first, last in spec.ports
        )
        out.comment(
            f"Transport: {spec.transport}; ports: {ports or 'none'}; "
            f"heuristic: {'yes' if spec.heuristic else 'no'}; "
            f"byte order: {'little' if spec.little_endian else 'big'} endian."
        )
        if spec.framing is not None:
            out.comment(
                f"Framing: each message is {expressions.render(spec.framing.length)} bytes long."
            )
        out.comment("Install: copy it to Wireshark's personal Lua plugins folder, or run")
        out.comment(f"  tshark -X lua_script:{spec.name}.lua -r capture.pcap")
        out.line()

    def all_fields(self) -> list[FieldSpec]:
        found = list(walk_fields(self.spec.fields))
        for named in self.spec.structs:
            found.extend(walk_fields(named.fields))
        return found

    def value_strings(self) -> None:
        out = self.out
        out.comment("Value strings: the names of enum values.")
        out.line("local VS = {}")
        items: list[tuple[str, tuple[tuple[int, str], ...]]] = []
        for item in self.all_fields():
            if item.enum:
                items.append((item.abbrev, item.enum))
            items.extend((bit.abbrev, bit.enum) for bit in item.bits if bit.enum)
        for abbrev, enum in items:
            with out.block(f"VS[{self.key(abbrev)}] = {{", "}"):
                for value, name in enum:
                    out.line(f"[{value}] = {lua_string(name)},")
        out.line()

    def field_table(self) -> None:
        out = self.out
        out.comment("Fields: F[key] is the field registered as <protocol>.<key>.")
        out.line("local F = {}")
        out.line("local field_list = {}")
        with out.block("local function field(key, protofield)"):
            out.line("F[key] = protofield")
            out.line("field_list[#field_list + 1] = protofield")
        seen: set[str] = set()
        for item in self.all_fields():
            if item.abbrev in seen:
                continue
            seen.add(item.abbrev)
            out.line(f"field({self.key(item.abbrev)}, {self.protofield(item)})")
            for bit in item.bits:
                out.line(f"field({self.key(bit.abbrev)}, {self.bitfield(item, bit)})")
        out.line("proto.fields = field_list")
        out.line()

    def protofield(self, item: FieldSpec) -> str:
        abbrev, label = lua_string(item.abbrev), lua_string(item.label)
        description = lua_string(item.description) if item.description else "nil"
        if item.type in INTEGER_TYPES:
            values = f"VS[{self.key(item.abbrev)}]" if item.enum else "nil"
            return (
                f"ProtoField.{item.type}({abbrev}, {label}, {_DISPLAY[item.display]}, {values}, "
                f"nil, {description})"
            )
        kind = _PROTOFIELD[item.type]
        if kind == "bool":
            return f"ProtoField.bool({abbrev}, {label}, base.NONE, nil, nil, {description})"
        if kind == "string":
            return f"ProtoField.string({abbrev}, {label}, base.UNICODE, {description})"
        if kind == "bytes":
            return f"ProtoField.bytes({abbrev}, {label}, base.NONE, {description})"
        if kind in ("float", "double"):
            return f"ProtoField.{kind}({abbrev}, {label}, nil, {description})"
        return f"ProtoField.{kind}({abbrev}, {label}, {description})"

    def bitfield(self, parent: FieldSpec, bit: BitSpec) -> str:
        abbrev, label = lua_string(bit.abbrev), lua_string(bit.label)
        description = lua_string(bit.description) if bit.description else "nil"
        size = INTEGER_TYPES[parent.type][0]
        mask = f"0x{bit.mask:0{2 * size}x}"
        if bit.is_flag:
            return f"ProtoField.bool({abbrev}, {label}, {8 * size}, nil, {mask}, {description})"
        values = f"VS[{self.key(bit.abbrev)}]" if bit.enum else "nil"
        return (
            f"ProtoField.{parent.type}({abbrev}, {label}, base.DEC, {values}, {mask}, "
            f"{description})"
        )

    def expert_table(self) -> None:
        out, name = self.out, self.spec.name
        out.comment("Expert info: what the dissector reports about broken or unexpected messages.")
        with out.block("local E = {", "}"):
            for key, summary, group, severity in EXPERTS:
                out.line(
                    f"{key} = ProtoExpert.new({lua_string(f'{name}._expert.{key}')}, "
                    f"{lua_string(summary)}, expert.group.{group}, expert.severity.{severity}),"
                )
        keys = ", ".join(f"E.{key}" for key, *_ in EXPERTS)
        out.line(f"proto.experts = {{ {keys} }}")
        out.line()

    def helpers(self) -> None:
        """The fixed helper functions every script has (engine/dissector/helpers.lua)."""
        for line in HELPERS.splitlines():
            self.out.lines.append(INDENT * self.out.level + line if line else "")

    # ----------------------------------------------------------------- struct functions

    def struct_functions(self) -> None:
        """Every struct function, each after the functions it calls (Lua needs that order)."""
        for item in self.spec.fields:
            self.dependencies(item)
        for named in self.spec.structs:
            self.named_function(named.name)

    def dependencies(self, item: FieldSpec) -> None:
        if item.type == "struct" and item.struct is not None:
            self.named_function(item.struct)
        elif item.type == "struct":
            for child in item.fields:
                self.dependencies(child)
            self.inline_function(item)
        elif item.switch is not None:
            for _, name in item.switch.cases:
                self.named_function(name)
            if item.switch.default is not None:
                self.named_function(item.switch.default)

    def named_function(self, name: str) -> None:
        marker = f"struct:{name}"
        if marker in self.emitted:
            return
        self.emitted.add(marker)
        named = self.spec.struct(name)
        for item in named.fields:
            self.dependencies(item)
        self.function(f"dissect.struct_{name}", f"struct {name}", named.fields, scoped=True)

    def inline_function(self, item: FieldSpec) -> None:
        if item.path in self.emitted:
            return
        self.emitted.add(item.path)
        self.function(self.function_for(item), f"the fields of {item.path}", item.fields, True)

    def message_function(self) -> None:
        self.function("dissect.message", "the message", self.spec.fields, scoped=False)

    def function(self, name: str, what: str, fields: tuple[FieldSpec, ...], scoped: bool) -> None:
        out = self.out
        out.comment(f"Decodes {what}.")
        with out.block(f"function {name}(tvb, pinfo, tree, off, limit, scope)"):
            if scoped:
                out.comment("v: the values of this struct's fields; outer ones are seen through it")
                out.line("local v = setmetatable({}, { __index = scope })")
            else:
                out.comment("v: the values of the message's fields, for lengths, counts and cases")
                out.line("local v = {}")
            for item in fields:
                self.field(item)
            out.line("return off, true")
        out.line()

    # ----------------------------------------------------------------- one field

    def field(self, item: FieldSpec) -> None:
        out = self.out
        out.comment(f"{item.path}: {item.name} ({item.type}){self.repeat_note(item)}")
        if item.repeat is None:
            self.element(item, store=True)
            return
        if item.repeat.count is None:
            with out.block("while off < limit do"):
                out.line("local before = off")
                self.element(item, store=False)
                with out.block("if off == before then"):
                    out.line("break")
            return
        with out.block("do"):
            out.line(f"local count = {self.expression(item.repeat.count)}")
            with out.block("if count < 0 then"):
                out.line(
                    f"tree:add_proto_expert_info(E.bad_length, {lua_string(item.label)} .. "
                    '": impossible count " .. tostring(count))'
                )
                out.line("return off, false")
            with out.block("for _ = 1, count do"):
                out.line("local before = off")
                self.element(item, store=False)
                with out.block("if off == before then"):
                    out.line("break")

    def repeat_note(self, item: FieldSpec) -> str:
        if item.repeat is None:
            return ""
        if item.repeat.count is None:
            return ", repeated until the end"
        return f", repeated {expressions.render(item.repeat.count)} times"

    def element(self, item: FieldSpec, store: bool) -> None:
        """One occurrence of a field at off: bounds check, tree item, values, off advanced."""
        if item.type in INTEGER_TYPES or item.size is not None:
            self.scalar(item, store)
        elif item.type in ("bytes", "string"):
            self.sized(item)
        elif item.type == "stringz":
            self.stringz(item)
        elif item.type == "struct":
            self.struct(item)
        elif item.type == "switch":
            self.switch(item)
        else:  # pragma: no cover - validation knows every type
            raise AssertionError(item.type)

    def adder(self, item: FieldSpec) -> str:
        numeric = item.type in INTEGER_TYPES or item.type in ("float", "double")
        return "add_le" if item.little_endian and numeric else "add"

    def scalar(self, item: FieldSpec, store: bool) -> None:
        out = self.out
        size = item.size
        assert size is not None
        label = lua_string(item.label)
        name = lua_string(item.name)
        out.line(f"if not need(tree, {label}, off, {size}, limit) then return off, false end")
        with out.block("do"):
            out.line(f"local range = tvb(off, {size})")
            out.line(f"local item = tree:{self.adder(item)}(F[{self.key(item.abbrev)}], range)")
            out.line(f"local value = range:{self.reader(item)}()")
            if item.type in INTEGER_TYPES:
                wide = INTEGER_TYPES[item.type][0] == 8
                if store:
                    out.line(f"v[{name}] = {'value:tonumber()' if wide else 'value'}")
                if item.enum:
                    values = f"VS[{self.key(item.abbrev)}]"
                    out.line(f"info[{name}] = enum_text({values}, value)")
                    self.unknown_check(values, label, "item")
                else:
                    out.line(f"info[{name}] = tostring(value)")
                for bit in item.bits:
                    self.bits(item, bit, store)
            elif item.type in ("float", "double"):
                out.line(f'info[{name}] = string.format("%g", value)')
            elif item.type == "bool":
                out.line(f'info[{name}] = (value ~= 0) and "true" or "false"')
            else:
                out.line(f"info[{name}] = tostring(value)")
            if item.magic is not None:
                self.magic_check(item, "range")
            out.line(f"off = off + {size}")

    def reader(self, item: FieldSpec) -> str:
        if item.type in INTEGER_TYPES:
            size, signed = INTEGER_TYPES[item.type]
            base = ("int" if signed else "uint") + ("64" if size == 8 else "")
            return ("le_" + base) if item.little_endian else base
        base = _READERS.get(item.type, item.type)
        if base == "float" and item.little_endian:
            return "le_float"
        return base

    def unknown_check(self, values: str, label: str, target: str) -> None:
        out = self.out
        with out.block(f"if {values}[value] == nil then"):
            out.line(
                f"{target}:add_proto_expert_info(E.unknown_value, {label} .. "
                '": unknown value " .. tostring(value))'
            )

    def magic_check(self, item: FieldSpec, range_name: str) -> None:
        assert item.magic is not None
        out = self.out
        with out.block(f"if {range_name}:raw() ~= {lua_string(item.magic)} then"):
            out.line(
                f"item:add_proto_expert_info(E.magic_mismatch, {lua_string(item.label)} .. "
                f"{lua_string(': expected ' + magic_text(item) + ', got 0x')} .. "
                f"string.lower(tostring({range_name}:bytes())))"
            )

    def bits(self, parent: FieldSpec, bit: BitSpec, store: bool) -> None:
        out = self.out
        with out.block("do"):
            out.line(
                f"local bit_item = item:{self.adder(parent)}(F[{self.key(bit.abbrev)}], range)"
            )
            out.line(f"local value = masked(value, 0x{bit.mask:x}, {bit.shift})")
            name = lua_string(bit.name)
            if store:
                out.line(f"v[{name}] = value")
            if bit.enum:
                values = f"VS[{self.key(bit.abbrev)}]"
                out.line(f"info[{name}] = enum_text({values}, value)")
                self.unknown_check(values, lua_string(bit.label), "bit_item")
            elif bit.is_flag:
                out.line(f'info[{name}] = (value ~= 0) and "true" or "false"')
            else:
                out.line(f"info[{name}] = tostring(value)")

    def size_expression(self, item: FieldSpec) -> str:
        length = item.length
        assert length is not None
        if length.fixed is not None:
            return str(length.fixed)
        if length.expr is not None:
            return self.expression(length.expr)
        return "limit - off"

    def sized(self, item: FieldSpec) -> None:
        """bytes and string: a fixed, computed, rest-of-message or prefixed length."""
        out = self.out
        length = item.length
        assert length is not None
        label = lua_string(item.label)
        name = lua_string(item.name)
        with out.block("do"):
            if length.prefix is not None:
                prefix = INTEGER_TYPES[length.prefix][0]
                reader = "le_uint" if item.little_endian else "uint"
                prefix_label = lua_string(item.label + " length")
                out.line(
                    f"if not need(tree, {prefix_label}, off, {prefix}, limit) then "
                    "return off, false end"
                )
                out.line(f"local size = tvb(off, {prefix}):{reader}()")
                out.line(
                    f"if not need(tree, {label}, off + {prefix}, size, limit) then "
                    "return off, false end"
                )
                out.line(f"local range = tvb(off, {prefix} + size)")
                out.line(f"local data_off = off + {prefix}")
                advance = f"{prefix} + size"
            else:
                out.line(f"local size = {self.size_expression(item)}")
                out.line(f"if not need(tree, {label}, off, size, limit) then return off, false end")
                out.line("local range = tvb(off, size)")
                out.line("local data_off = off")
                advance = "size"
            if item.type == "string":
                out.line('local text = ""')
                with out.block("if size > 0 then"):
                    out.line("text = cut_nul(tvb(data_off, size):string(ENC_UTF_8))")
                out.line(f"local item = tree:add(F[{self.key(item.abbrev)}], range, text)")
                out.line(f"info[{name}] = text")
            else:
                out.line(f"local item = tree:add(F[{self.key(item.abbrev)}], range)")
                out.line(f"info[{name}] = hex_text(tvb, data_off, size)")
            if item.magic is not None:
                self.magic_check(item, "range")
            out.line(f"off = off + {advance}")

    def stringz(self, item: FieldSpec) -> None:
        out = self.out
        label = lua_string(item.label)
        name = lua_string(item.name)
        key = self.key(item.abbrev)
        with out.block("do"):
            out.line("local left = limit - off")
            out.line('local raw = (left > 0) and tvb:raw(off, left) or ""')
            out.line(f"local nul = string.find(raw, {lua_string(bytes(1))}, 1, true)")
            with out.block("if nul == nil then"):
                with out.block("if left > 0 then"):
                    out.line(
                        f"tree:add(F[{key}], tvb(off, left), tvb(off, left):string(ENC_UTF_8))"
                    )
                out.line(
                    f"tree:add_proto_expert_info(E.no_terminator, {label} .. "
                    f"{lua_string(': no terminating NUL before the end')})"
                )
                out.line("return limit, false")
            out.line('local text = ""')
            with out.block("if nul > 1 then"):
                out.line("text = tvb(off, nul - 1):string(ENC_UTF_8)")
            out.line(f"tree:add(F[{key}], tvb(off, nul), text)")
            out.line(f"info[{name}] = text")
            out.line("off = off + nul")

    def struct(self, item: FieldSpec) -> None:
        out = self.out
        label = lua_string(item.label)
        key = self.key(item.abbrev)
        function = self.function_for(item)
        with out.block("do"):
            if item.length is not None:
                out.comment("a sized struct: its own errors stay inside it")
                out.line(f"local size = {self.size_expression(item)}")
                out.line(f"if not need(tree, {label}, off, size, limit) then return off, false end")
                out.line(f"local item = tree:add(F[{key}], tvb(off, size))")
                out.line(f"{function}(tvb, pinfo, item, off, off + size, v)")
                out.line("off = off + size")
                return
            out.line("local start = off")
            out.line(f"local item = tree:add(F[{key}], tvb(off, 0))")
            out.line(f"local stop, ok = {function}(tvb, pinfo, item, off, limit, v)")
            out.line("item:set_len(stop - start)")
            out.line("off = stop")
            out.line("if not ok then return off, false end")

    def switch(self, item: FieldSpec) -> None:
        out = self.out
        switch = item.switch
        assert switch is not None
        label = lua_string(item.label)
        key = self.key(item.abbrev)
        sized = item.length is not None and not item.length.rest
        with out.block("do"):
            if sized:
                out.line(f"local size = {self.size_expression(item)}")
                out.line(f"if not need(tree, {label}, off, size, limit) then return off, false end")
            else:
                out.line("local size = limit - off")
            out.line(f"local item = tree:add(F[{key}], tvb(off, size))")
            out.line(f"local selector = v[{lua_string(switch.on)}]")
            out.line("local stop, ok")
            for index, (value, name) in enumerate(switch.cases):
                keyword = "if" if index == 0 else "elseif"
                out.line(f"{keyword} selector == {value} then")
                out.level += 1
                out.line(f"item:append_text({lua_string(f' ({name})')})")
                out.line(f"stop, ok = dissect.struct_{name}(tvb, pinfo, item, off, off + size, v)")
                out.level -= 1
            out.line("else")
            out.level += 1
            if switch.default is not None:
                out.line(f"item:append_text({lua_string(f' ({switch.default})')})")
                out.line(
                    f"stop, ok = dissect.struct_{switch.default}(tvb, pinfo, item, off, "
                    "off + size, v)"
                )
            else:
                out.line(
                    f"item:add_proto_expert_info(E.unknown_value, {label} .. "
                    f"{lua_string(f': no case for {switch.on} = ')} .. tostring(selector))"
                )
                out.line("stop, ok = off + size, true")
            out.level -= 1
            out.line("end")
            if sized:
                out.line("off = off + size")
            else:
                out.line("item:set_len(stop - off)")
                out.line("off = stop")
                out.line("if not ok then return off, false end")

    def expression(self, expr: Expr) -> str:
        if isinstance(expr, expressions.Num):
            return str(expr.value)
        if isinstance(expr, expressions.Ref):
            return f"v[{lua_string(expr.name)}]"
        if isinstance(expr, expressions.Neg):
            return f"(-{self.expression(expr.operand)})"
        return f"({self.expression(expr.left)} {expr.op} {self.expression(expr.right)})"

    # ----------------------------------------------------------------- registration

    def info_expression(self) -> str:
        parts = []
        for part in self.spec.info:
            if part.field is None:
                parts.append(lua_string(part.text))
            else:
                parts.append(f'(info[{lua_string(part.field)}] or "?")')
        return " .. ".join(parts) if parts else '""'

    def entry_points(self) -> None:
        spec, out = self.spec, self.out
        out.comment("Decodes one message from off to limit into its own subtree.")
        with out.block("local function dissect_one(tvb, pinfo, tree, off, limit, index)"):
            out.line("info = {}")
            out.line("local item = tree:add(proto, tvb(off, limit - off))")
            out.line("dissect.message(tvb, pinfo, item, off, limit, nil)")
            if spec.info:
                out.line(f"local text = {self.info_expression()}")
                out.line('item:append_text(", " .. text)')
                out.comment("the first message replaces the Info text; later ones (also those")
                out.comment("of a later call for the same frame) are appended after a separator")
                with out.block("if index == 1 then"):
                    out.line("pinfo.cols.info:clear()")
                out.line('if tostring(pinfo.cols.info) == "" then')
                out.line(INDENT + "pinfo.cols.info:append(text)")
                out.line("else")
                out.line(INDENT + 'pinfo.cols.info:append(" | " .. text)')
                out.line("end")
        out.line()
        if spec.framing is not None:
            self.framed_dissector()
        else:
            self.plain_dissector()
        if spec.heuristic:
            self.heuristic()
        if spec.ports:
            out.comment("Registration by port.")
            out.line(f"local ports = DissectorTable.get({lua_string(spec.transport + '.port')})")
            for first, last in spec.ports:
                if first == last:
                    out.line(f"ports:add({first}, proto)")
                else:
                    out.line(f"ports:add({lua_string(f'{first}-{last}')}, proto)")

    def plain_dissector(self) -> None:
        out = self.out
        what = "datagram" if self.spec.transport == "udp" else "segment"
        out.comment(f"Each {what} holds one message.")
        with out.block("function proto.dissector(tvb, pinfo, tree)"):
            out.line("local size = tvb:len()")
            out.line("if size == 0 then return 0 end")
            out.line(f"pinfo.cols.protocol = {lua_string(self.spec.name.upper())}")
            out.line("dissect_one(tvb, pinfo, tree, 0, size, 1)")
            out.line("return size")
        out.line()

    def framed_dissector(self) -> None:
        spec, out = self.spec, self.out
        framing = spec.framing
        assert framing is not None
        out.comment("TCP framing: the length of the message that starts at off, from its header.")
        out.line(f"local HEADER_SIZE = {framing.header_size}")
        out.line(f"local MAX_MESSAGE = {framing.max_length}")
        with out.block("local function message_length(tvb, off)"):
            out.line("local v = {}")
            for item, offset in framing.header_fields:
                size = INTEGER_TYPES[item.type][0]
                value = f"tvb(off + {offset}, {size}):{self.reader(item)}()"
                if size == 8:
                    value += ":tonumber()"
                out.line(f"v[{lua_string(item.name)}] = {value}")
            out.line(f"return {self.expression(framing.length)}")
        out.line()
        out.comment("A segment can hold several messages, and a message can span segments:")
        out.comment("ask TCP for more bytes (desegment_len) until a whole message is there.")
        with out.block("function proto.dissector(tvb, pinfo, tree)"):
            out.line("local total = tvb:len()")
            out.line("local off = 0")
            out.line("local index = 0")
            with out.block("while off < total do"):
                out.line("local left = total - off")
                with out.block("if left < HEADER_SIZE then"):
                    out.line("pinfo.desegment_offset = off")
                    out.line("pinfo.desegment_len = DESEGMENT_ONE_MORE_SEGMENT")
                    out.line("return total")
                out.line("local size = message_length(tvb, off)")
                with out.block("if size < HEADER_SIZE or size > MAX_MESSAGE then"):
                    out.line(f"pinfo.cols.protocol = {lua_string(spec.name.upper())}")
                    out.line("local item = tree:add(proto, tvb(off, left))")
                    out.line(
                        "item:add_proto_expert_info(E.bad_length, "
                        f"{lua_string('message length ')} .. tostring(size) .. "
                        f"{lua_string(' is impossible (')} .. tostring(HEADER_SIZE) .. "
                        f"{lua_string(' to ')} .. tostring(MAX_MESSAGE) .. {lua_string(')')})"
                    )
                    out.line("return total")
                with out.block("if left < size then"):
                    out.line("pinfo.desegment_offset = off")
                    out.line("pinfo.desegment_len = size - left")
                    out.line("return total")
                out.line(f"pinfo.cols.protocol = {lua_string(spec.name.upper())}")
                out.line("index = index + 1")
                out.line("dissect_one(tvb, pinfo, tree, off, off + size, index)")
                out.line("off = off + size")
            out.line("return total")
        out.line()

    def heuristic(self) -> None:
        spec, out = self.spec, self.out
        need = max(offset + len(magic) for offset, magic in spec.heuristic_checks)
        out.comment("Heuristic registration: a packet is ours when its magic values match.")
        with out.block("local function heuristic(tvb, pinfo, tree)"):
            out.line(f"if tvb:len() < {need} then return false end")
            for offset, magic in spec.heuristic_checks:
                out.line(
                    f"if tvb:raw({offset}, {len(magic)}) ~= {lua_string(magic)} then "
                    "return false end"
                )
            if spec.transport == "tcp":
                out.comment("the rest of this TCP conversation is ours too")
                out.line("pinfo.conversation = proto")
            out.line("proto.dissector(tvb, pinfo, tree)")
            out.line("return true")
        out.line(f"proto:register_heuristic({lua_string(spec.transport)}, heuristic)")
        out.line()


def generate_lua(spec: ProtocolSpec) -> str:
    """The Wireshark Lua dissector for a validated spec (the same spec, the same text)."""
    return _Generator(spec).script()
