"""A CSV cell's text as a DynamoDB attribute value of its column's type, checked against DynamoDB's rules, and
the size DynamoDB counts for a value."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any, Final, NoReturn, assert_never

from csv_ingest_engine.constants import ColumnType, KeyType

# A value in the low-level form boto3's client takes: {"S": "x"}, {"N": "42"}, {"M": {...}}, {"B": b"..."}, ...
AttributeValue = dict[str, Any]


class ValueProblem(ValueError):
    """Why a cell cannot become its column's type; str(exc) is the problem, e.g. "'3O' is not a number", and
    `without_value` the same problem without the cell's text in it ("the value is not a number"), for a log."""

    def __init__(self, problem: str, *, without_value: str | None = None) -> None:
        super().__init__(problem)
        self.without_value = problem if without_value is None else without_value


def _problem(text: str, problem: str) -> ValueProblem:
    """`text` (a cell, quoted) followed by `problem`, which words what is wrong after a subject."""
    return ValueProblem(f"{_quote(text)} {problem}", without_value=f"the value {problem}")


# DynamoDB's Number ("Data types" in the developer guide's quotas page): "A Number can have up to 38 digits of
# precision ... Positive range: 1E-130 to 9.9999999999999999999999999999999999999E+125". With at most 38 digits, a
# number is in range exactly when its first significant digit's power of ten is within these two.
MAX_DIGITS: Final = 38
MIN_EXPONENT: Final = -130
MAX_EXPONENT: Final = 125
# "Numbers can be positive, negative, or zero": the range is the non-zero numbers'; a zero is one whatever its
# exponent (`0E-200`), and DynamoDB takes it (ScyllaDB's alternator tests, run against DynamoDB, send `0e1000`).
# What `_parse` gives for any zero.
_ZERO: Final = (False, "", 0)
_LARGEST: Final = "9.9999999999999999999999999999999999999E+125"
# "DynamoDB supports nested attributes up to 32 levels deep." Counted as DynamoDB counts them when tried (an
# attribute's value is level 1, anything inside a list or map one level below it): a scalar inside 31 maps is
# accepted, inside 32 refused. So at most 31 lists or maps inside one another; an empty one counts as holding a
# level too, since whether DynamoDB takes an empty 32nd is not documented and refusing it never fails a write.
MAX_DEPTH: Final = 32

# The grammar is not documented; what DynamoDB is seen to accept and refuse decides it (the ScyllaDB and dynoxide
# test suites, checked against DynamoDB): a sign, `+` included; digits with an optional point, `.5` and `5.` both
# accepted; an exponent. No spaces, separators, NaN, Infinity or hexadecimal. ASCII digits only: `\d` would take
# other scripts' digits.
_NUMBER: Final = re.compile(
    r"(?P<sign>[+-]?)(?=\.?[0-9])(?P<whole>[0-9]*)(?:\.(?P<fraction>[0-9]*))?(?:[eE](?P<exponent>[+-]?[0-9]+))?"
)
_GROUPED: Final = re.compile(r"[+-]?[0-9]{1,3}(?:[,_][0-9]{3})+(?:\.[0-9]*)?")
_DECIMAL_COMMA: Final = re.compile(r"[+-]?[0-9]*,[0-9]+")
_NOT_FINITE: Final = frozenset({"nan", "inf", "infinity", "snan"})
_BOOLEANS: Final = {"true": True, "false": False}
# Quoted values longer than this are cut, so a message stays one readable line.
_SHOWN_CHARS: Final = 24
# canonical_number writes positionally (1000, 0.001) within these powers of ten and in E notation beyond them, so
# that 1E+125 stays short.
_POSITIONAL_EXPONENTS: Final = range(-20, 40)


def to_attribute(text: str, kind: ColumnType) -> AttributeValue:
    """The cell `text` as a value of type `kind`, or ValueProblem saying why it cannot be one.

    S: the text exactly as written. N: a number as DynamoDB accepts it, surrounding whitespace trimmed and sent as
    written (no float round trip; a zero as `0`). BOOL: `true` or `false` in any case, surrounding whitespace
    trimmed; nothing else (not 1/0 or yes/no: which of them means true is a guess). JSON: the parsed value in
    DynamoDB's types (object M, array L, number N, string S, true/false BOOL, null NULL), each number checked like N.
    """
    if kind == "S":
        return {"S": text}
    if kind == "N":
        return {"N": _number(text.strip(), written=text)}
    if kind == "BOOL":
        boolean = _BOOLEANS.get(text.strip().lower())
        if boolean is None:
            # Quoted as written: a cell of spaces shows as '  ', not as an empty ''.
            raise _problem(text, "is not a boolean (use true or false)")
        return {"BOOL": boolean}
    if kind == "JSON":
        return _json_attribute(text)
    assert_never(kind)


def delete_marker(text: str) -> bool:
    """A delete-marker cell: True for `true` (the row deletes its item), False for `false` or an empty cell (the row
    is written), in any case and with surrounding whitespace trimmed, as a BOOL cell is read; ValueProblem for
    anything else (which of `yes`, `1` or `x` means delete would be a guess)."""
    marker = text.strip().lower()
    if not marker:
        return False
    deletes = _BOOLEANS.get(marker)
    if deletes is None:
        raise _problem(text, "is not a delete marker (use true, false or an empty cell, in any case)")
    return deletes


def to_key(text: str, kind: KeyType) -> AttributeValue:
    """A key cell's `text` (already trimmed by the caller) as a key value of type `kind`: S as written, N as for
    `to_attribute`, B decoded from strict base64 (and not empty: DynamoDB refuses an empty binary key)."""
    if kind == "S":
        return {"S": text}
    if kind == "N":
        return {"N": _number(text)}
    if kind == "B":
        try:
            data = base64.b64decode(text, validate=True)
        except binascii.Error:
            raise _problem(text, "is not base64") from None
        if not data:
            raise ValueProblem("the key is empty once decoded from base64; DynamoDB refuses an empty binary key")
        return {"B": data}
    assert_never(kind)


def canonical_number(text: str) -> str:
    """The one spelling of the value of `text`, a number that passed the N rules: `1`, `1.0`, `1e0`, `+1` and `01`
    all give "1", and `-0` and `0.00` give "0" (DynamoDB compares numbers by value)."""
    parsed = _parse(text.strip())
    if parsed is None:
        raise _problem(text, "is not a number")
    negative, digits, exponent = parsed
    if not digits:
        return "0"
    sign = "-" if negative else ""
    if exponent not in _POSITIONAL_EXPONENTS:
        point = f"{digits[0]}.{digits[1:]}" if len(digits) > 1 else digits
        return f"{sign}{point}E{exponent:+d}"
    if exponent < 0:
        return f"{sign}0.{'0' * (-exponent - 1)}{digits}"
    if exponent + 1 >= len(digits):
        return f"{sign}{digits}{'0' * (exponent + 1 - len(digits))}"
    return f"{sign}{digits[: exponent + 1]}.{digits[exponent + 1 :]}"


def size_of(value: AttributeValue) -> int:
    """The bytes DynamoDB counts for `value` (without its attribute's name), per the developer guide's "DynamoDB
    item sizes and formats"; nested lists and maps included."""
    ((kind, content),) = value.items()
    if kind == "S":
        # "The size of a string is (number of UTF-8-encoded bytes of attribute name) + (number of UTF-8-encoded
        # bytes)."
        return len(content.encode())
    if kind == "N":
        return _number_size(content)
    if kind == "B":
        # "the value's raw byte length is used for calculating size"
        return len(content)
    if kind in ("BOOL", "NULL"):
        # "The size of a null attribute or a Boolean attribute is (... attribute name) + (1 byte)."
        return 1
    # "An attribute of type List or Map requires 3 bytes of overhead, regardless of its contents." and "Each List
    # or Map element also requires 1 byte of overhead."; a map's element has a name, counted like an attribute's.
    if kind == "L":
        return 3 + sum(size_of(item) + 1 for item in content)
    if kind == "M":
        return 3 + sum(len(name.encode()) + size_of(item) + 1 for name, item in content.items())
    raise ValueError(f"{kind!r} is not a DynamoDB type this module measures")


def _number_size(text: str) -> int:
    # "Numbers are variable length, with up to 38 significant digits. Leading and trailing zeroes are trimmed. The
    # size of a number is approximately (number of UTF-8-encoded bytes of attribute name) + (1 byte per two
    # significant digits) + (1 byte)." Taken as: ceil(significant digits / 2) + 1, so 12345 is 4 bytes and 0
    # (no significant digits) is 1. The guide calls it approximate: keep a margin under hard limits.
    parsed = _parse(text.strip())
    if parsed is None:
        raise _problem(text, "is not a number")
    digits = len(parsed[1])
    return (digits + 1) // 2 + 1


def _number(text: str, *, written: str | None = None) -> str:
    """`text` (trimmed) as sent for an N value: as written without a leading `+`, and any zero as `0`; or
    ValueProblem quoting the cell as `written` (default: `text`)."""
    problem = _number_problem(text)
    if problem is not None:
        raise _problem(text if written is None else written, problem)
    return _sent_number(text)


def _sent_number(text: str) -> str:
    """A valid number's text as sent. A zero is sent as `0` whatever its spelling: `0E-200` is zero, which
    DynamoDB documents as a Number, though its exponent is outside the range documented for non-zero numbers."""
    if _parse(text) == _ZERO:
        return "0"
    return text.removeprefix("+")


def _number_problem(text: str) -> str | None:
    """What keeps `text` from being a DynamoDB number, worded to follow the quoted value; None when it is one."""
    parsed = _parse(text)
    if parsed is None:
        return f"is not a number{_number_hint(text)}"
    _, digits, exponent = parsed
    if len(digits) > MAX_DIGITS:
        return f"has {len(digits)} significant digits; DynamoDB keeps at most {MAX_DIGITS}"
    if digits and exponent > MAX_EXPONENT:
        return f"is too large for DynamoDB (the largest magnitude is {_LARGEST})"
    if digits and exponent < MIN_EXPONENT:
        return f"is too small for DynamoDB (the smallest non-zero magnitude is 1E{MIN_EXPONENT})"
    return None


def _number_hint(text: str) -> str:
    """Why a text that looks like a number is not one for DynamoDB, as a parenthesis; "" when nothing is clear."""
    if text.lower().lstrip("+-") in _NOT_FINITE:
        return " (DynamoDB has no NaN or infinity)"
    if _GROUPED.fullmatch(text):
        return " (no thousands separators)"
    if _DECIMAL_COMMA.fullmatch(text):
        return " (write the decimal point as a dot)"
    if text.lower().lstrip("+-").startswith("0x"):
        return " (decimal digits only)"
    return ""


def _parse(text: str) -> tuple[bool, str, int] | None:
    """(negative, significant digits, power of ten of the first of them) for a number's text; None when `text` is
    not one. Zero, whatever its sign and exponent, is (False, "", 0)."""
    match = _NUMBER.fullmatch(text)
    if match is None:
        return None
    whole = match["whole"]
    mantissa = whole + (match["fraction"] or "")
    digits = mantissa.lstrip("0")
    leading_zeros = len(mantissa) - len(digits)
    digits = digits.rstrip("0")
    if not digits:
        return _ZERO
    exponent = _exponent(match["exponent"]) + len(whole) - leading_zeros - 1
    return (match["sign"] == "-", digits, exponent)


def _exponent(text: str | None) -> int:
    if text is None:
        return 0
    magnitude = text.lstrip("+-").lstrip("0")
    # Far out of range either way, and int() refuses texts over 4,300 digits.
    if len(magnitude) > 9:
        magnitude = "1" + "0" * 9
    value = int(magnitude or "0")
    return -value if text.startswith("-") else value


class _JsonNumber(str):
    """A JSON number's text as written (json.loads' parse_int and parse_float hooks), checked once placed."""

    __slots__ = ()


def _json_attribute(text: str) -> AttributeValue:
    try:
        parsed = json.loads(text, parse_int=_JsonNumber, parse_float=_JsonNumber, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise ValueProblem(f"not valid JSON ({error})") from None
    except RecursionError:
        # json's parser recurses per level: a value this deep cannot be loaded, let alone stored.
        raise ValueProblem(_too_deep(_bracket_depth(text))) from None
    depth = _depth(parsed)
    if depth > MAX_DEPTH:
        raise ValueProblem(_too_deep(depth))
    return _converted(parsed, "$")


def _refuse_constant(name: str) -> NoReturn:
    raise ValueProblem(f"not valid JSON ({name} is not a JSON number, and DynamoDB has no NaN or infinity)")


def _too_deep(depth: int) -> str:
    return (
        f"the JSON is nested {depth:,} levels deep; DynamoDB allows at most {MAX_DEPTH} "
        f"(at most {MAX_DEPTH - 1} arrays or objects inside one another)"
    )


def _depth(value: Any) -> int:
    """The level of `value`'s deepest part (the value itself is level 1), as DynamoDB counts nesting (see
    MAX_DEPTH); without recursion, whatever json.loads returned."""
    deepest = 0
    pending = [(value, 1)]
    while pending:
        part, level = pending.pop()
        if isinstance(part, dict):
            part = list(part.values())
        if not isinstance(part, list):
            deepest = max(deepest, level)
        elif not part:
            deepest = max(deepest, level + 1)
        else:
            pending.extend((child, level + 1) for child in part)
    return deepest


def _bracket_depth(text: str) -> int:
    """The nesting level (as `_depth` counts it) of JSON text too deep for json.loads, from its brackets."""
    deepest = open_brackets = 0
    in_string = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif in_string:
            escaped = char == "\\"
            in_string = char != '"'
        elif char == '"':
            in_string = True
        elif char in "[{":
            open_brackets += 1
            deepest = max(deepest, open_brackets)
        elif char in "]}":
            open_brackets -= 1
    return deepest + 1


def _converted(value: Any, path: str) -> AttributeValue:
    """A parsed JSON value (at most MAX_DEPTH deep) as a DynamoDB value; `path` says where it is, for messages."""
    if isinstance(value, _JsonNumber):
        problem = _number_problem(value)
        if problem is not None:
            where = "" if path == "$" else f" at {path}"
            # The path is made of the cell's own names: the log's words leave it out too.
            raise ValueProblem(
                f"JSON number {_quote(value)}{where} {problem}", without_value=f"a JSON number {problem}"
            )
        return {"N": _sent_number(str(value))}
    if isinstance(value, str):
        return {"S": _unicode(value, path)}
    if isinstance(value, bool):
        return {"BOOL": value}
    if value is None:
        return {"NULL": True}
    if isinstance(value, dict):
        return {"M": {_unicode(name, path): _converted(item, f"{path}.{name}") for name, item in value.items()}}
    return {"L": [_converted(item, f"{path}[{index}]") for index, item in enumerate(value)]}


def _unicode(text: str, path: str) -> str:
    """`text`, a JSON string or name, if it is Unicode text: JSON's `\\ud800` escapes can make half a surrogate
    pair, which no UTF-8 (and so no DynamoDB string) can hold."""
    try:
        text.encode()
    except UnicodeEncodeError:
        where = "" if path == "$" else f" at {path}"
        problem = "has half of a surrogate pair (\\ud800-\\udfff), not text"
        raise ValueProblem(f"a JSON string{where} {problem}", without_value=f"a JSON string {problem}") from None
    return text


def _quote(text: str) -> str:
    """`text` in single quotes, escaped as repr escapes it, cut to a readable length."""
    shown = text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 4] + "..."
    quoted = repr(shown)
    if quoted.startswith('"'):  # repr switches to double quotes for a text holding a single one
        quoted = "'" + quoted[1:-1].replace("'", "\\'") + "'"
    return quoted
