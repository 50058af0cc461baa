"""The expressions the stub DynamoDB endpoint evaluates: conditions, updates and projections, the subset the engine
sends, each parsed once (the engine repeats a handful of expressions, with positional placeholders).

Conditions: `attribute_exists(p)`, `attribute_not_exists(p)`, comparisons (`= <> < <= > >=`) of two operands,
`AND`, `OR`, `NOT` and parentheses. Updates: `SET p = operand` or `SET p = if_not_exists(p, operand)`, and `REMOVE p`.
Projections: a list of paths. A path is a top-level attribute (`#name` or a plain name; no `a.b` or `a[0]`), an
operand a path or a `:value`. Anything else raises `ExpressionError` (the stub answers ValidationException), so an
expression the engine starts sending fails loudly here instead of being half understood.

Comparisons follow DynamoDB: strings by their UTF-8 bytes (which order as the code points do), numbers by value,
binary by bytes; `<`, `<=`, `>`, `>=` of two types, or of any type but those three, are false; `=` is false and `<>`
true for values of two types. A comparison with an attribute the item lacks is false (whatever the operator).
"""

from __future__ import annotations

import base64
import functools
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

Item = dict[str, Any]  # an item (or a key): attribute name -> DynamoDB JSON value, e.g. {"S": "x"}
Names = Mapping[str, str]  # ExpressionAttributeNames
Values = Mapping[str, Any]  # ExpressionAttributeValues
Condition = Callable[[Item, Names, Values], bool]


class ExpressionError(ValueError):
    """An expression the stub does not evaluate, or one DynamoDB would refuse (the message says which)."""


# Anything else, `.` and `[` of nested paths, `+` and `-` of arithmetic included, is a token the stub does not read.
_TOKEN = re.compile(r"\s*(?:(#\w+)|(:\w+)|(<>|<=|>=|=|<|>)|([(),])|([A-Za-z_]\w*)|(\S))")
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _tokens(expression: str) -> list[str]:
    tokens = []
    for match in _TOKEN.finditer(expression):
        if match.group(6):
            raise ExpressionError(f"the stub does not read {match.group(6)!r} in {expression!r}")
        tokens.append(match.group(match.lastindex or 0))
    return tokens


class _Parser:
    """A recursive-descent reader of one expression's tokens; records the placeholders it meets."""

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens = _tokens(expression)
        self.at = 0
        self.names: set[str] = set()
        self.values: set[str] = set()

    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def keyword(self, *words: str) -> str | None:
        """The next token if it is one of `words` (any case), consumed; else None."""
        token = self.peek()
        if token is not None and token.upper() in words:
            self.at += 1
            return token.upper()
        return None

    def expect(self, token: str) -> None:
        if self.peek() != token:
            raise ExpressionError(f"expected {token!r} at token {self.at} of {self.expression!r}")
        self.at += 1

    def end(self) -> None:
        if self.peek() is not None:
            raise ExpressionError(f"the stub does not read {self.peek()!r} in {self.expression!r}")

    def path(self) -> str:
        """A top-level attribute: its `#placeholder` or its name."""
        token = self.peek()
        if token is None or not (token.startswith("#") or token[0].isalpha() or token[0] == "_"):
            raise ExpressionError(f"expected an attribute at token {self.at} of {self.expression!r}")
        self.at += 1
        if token.startswith("#"):
            self.names.add(token)
        return token

    def operand(self) -> str:
        """A path, or a `:placeholder` of ExpressionAttributeValues."""
        token = self.peek()
        if token is not None and token.startswith(":"):
            self.at += 1
            self.values.add(token)
            return token
        return self.path()


# Paths and operands stay tokens: `#n` and `:v` are looked up in the request's ExpressionAttributeNames and Values
# (which `check_placeholders` has checked hold them), anything else is an attribute's name.


def resolve(path: str, names: Names) -> str:
    """The attribute a path names."""
    return names[path] if path[0] == "#" else path


def _operand(operand: str, item: Item, names: Names, values: Values) -> Any:
    if operand[0] == ":":
        return values[operand]
    return item.get(names[operand] if operand[0] == "#" else operand)


@dataclass(frozen=True, slots=True)
class Parsed:
    """What an expression does, and the placeholders it uses (a request's unused ones are an error)."""

    names: frozenset[str]
    values: frozenset[str]


@dataclass(frozen=True, slots=True)
class ParsedCondition(Parsed):
    holds: Condition


@functools.lru_cache(maxsize=1024)
def condition(expression: str) -> ParsedCondition:
    parser = _Parser(expression)
    holds = _disjunction(parser)
    parser.end()
    return ParsedCondition(frozenset(parser.names), frozenset(parser.values), holds)


def _disjunction(parser: _Parser) -> Condition:
    terms = [_conjunction(parser)]
    while parser.keyword("OR"):
        terms.append(_conjunction(parser))
    if len(terms) == 1:
        return terms[0]
    return lambda item, names, values: any(term(item, names, values) for term in terms)


def _conjunction(parser: _Parser) -> Condition:
    terms = [_negation(parser)]
    while parser.keyword("AND"):
        terms.append(_negation(parser))
    if len(terms) == 1:
        return terms[0]
    return lambda item, names, values: all(term(item, names, values) for term in terms)


def _negation(parser: _Parser) -> Condition:
    if parser.keyword("NOT"):
        term = _negation(parser)
        return lambda item, names, values: not term(item, names, values)
    if parser.peek() == "(":
        parser.expect("(")
        inner = _disjunction(parser)
        parser.expect(")")
        return inner
    function = parser.keyword("ATTRIBUTE_EXISTS", "ATTRIBUTE_NOT_EXISTS")
    if function:
        parser.expect("(")
        path = parser.path()
        parser.expect(")")
        if function == "ATTRIBUTE_EXISTS":
            return lambda item, names, values: resolve(path, names) in item
        return lambda item, names, values: resolve(path, names) not in item
    return _comparison(parser)


def _comparison(parser: _Parser) -> Condition:
    left = parser.operand()
    comparator = parser.peek()
    if comparator == "(":
        raise ExpressionError(f"the stub does not evaluate {left}(): {parser.expression!r}")
    if comparator not in ("=", "<>", "<", "<=", ">", ">="):
        raise ExpressionError(f"expected a comparison at token {parser.at} of {parser.expression!r}")
    parser.at += 1
    right = parser.operand()
    return lambda item, names, values: compare(
        comparator, _operand(left, item, names, values), _operand(right, item, names, values)
    )


def compare(comparator: str, left: Any, right: Any) -> bool:
    """`left comparator right` for two DynamoDB values (None: an attribute the item lacks), as the module says."""
    if left is None or right is None:
        return False
    ((left_type, left_content),) = left.items()
    ((right_type, right_content),) = right.items()
    if comparator in ("=", "<>"):
        equal = left_type == right_type and _ordered(left_type, left_content) == _ordered(right_type, right_content)
        return equal if comparator == "=" else not equal
    if left_type != right_type or left_type not in ("S", "N", "B"):
        return False
    return _COMPARISONS[comparator](_ordered(left_type, left_content), _ordered(right_type, right_content))


def _ordered(kind: str, content: Any) -> Any:
    """A value's content as it compares: numbers by value, binary by its bytes, the rest as they are."""
    if kind == "N":
        return Decimal(content)
    if kind == "B":
        return base64.b64decode(content)
    return content


# -- updates ----------------------------------------------------------------------------------------------------

_ABSENT_OPERAND = "The provided expression refers to an attribute that does not exist in the item"
_OVERLAP = "Two document paths overlap with each other; must remove or rewrite one of these paths"
Action = tuple[str, str | None, bool]  # the path set, its operand (None: REMOVE), whether under if_not_exists


@dataclass(frozen=True, slots=True)
class ParsedUpdate(Parsed):
    actions: tuple[Action, ...]

    def apply(self, item: Item, names: Names, values: Values, *, key_names: frozenset[str]) -> Item:
        """The item `item` becomes (a new dict; `item` is left as it was)."""
        updated = dict(item)
        targets = []
        for path, operand, only_if_absent in self.actions:
            target = names[path] if path[0] == "#" else path
            targets.append(target)
            if operand is None:
                updated.pop(target, None)
            elif not (only_if_absent and target in item):
                value = _operand(operand, item, names, values)
                if value is None:
                    raise ExpressionError(_ABSENT_OPERAND)
                updated[target] = value
        if len(set(targets)) != len(targets):
            raise ExpressionError(_OVERLAP)
        if not key_names.isdisjoint(targets):
            raise ExpressionError("Cannot update attribute: this attribute is part of the key")
        return updated


@functools.lru_cache(maxsize=1024)
def update(expression: str) -> ParsedUpdate:
    """An UpdateExpression: SET and REMOVE clauses, each at most once (an empty expression does nothing)."""
    parser = _Parser(expression)
    actions: list[Action] = []
    seen: set[str] = set()
    while (clause := parser.keyword("SET", "REMOVE", "ADD", "DELETE")) is not None:
        if clause in ("ADD", "DELETE"):
            raise ExpressionError(f"the stub does not apply {clause} clauses: {expression!r}")
        if clause in seen:
            raise ExpressionError(f'The "{clause}" section can only be used once in an update expression')
        seen.add(clause)
        actions.append(_set_action(parser) if clause == "SET" else (parser.path(), None, False))
        while parser.peek() == ",":
            parser.at += 1
            actions.append(_set_action(parser) if clause == "SET" else (parser.path(), None, False))
    parser.end()
    return ParsedUpdate(frozenset(parser.names), frozenset(parser.values), tuple(actions))


def _set_action(parser: _Parser) -> Action:
    target = parser.path()
    parser.expect("=")
    if parser.keyword("IF_NOT_EXISTS"):
        parser.expect("(")
        checked = parser.path()
        parser.expect(",")
        value = parser.operand()
        parser.expect(")")
        # `SET a = if_not_exists(a, :v)` is the only form the stub applies: keep a, else set it.
        if checked != target:
            raise ExpressionError(f"the stub reads if_not_exists only of the attribute set: {parser.expression!r}")
        return target, value, True
    return target, parser.operand(), False


# -- projections ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParsedProjection(Parsed):
    paths: tuple[str, ...]

    def attributes(self, names: Names) -> tuple[str, ...]:
        return tuple(names[path] if path[0] == "#" else path for path in self.paths)


@functools.lru_cache(maxsize=1024)
def projection(expression: str) -> ParsedProjection:
    parser = _Parser(expression)
    paths = [parser.path()]
    while parser.peek() == ",":
        parser.at += 1
        paths.append(parser.path())
    parser.end()
    return ParsedProjection(frozenset(parser.names), frozenset(parser.values), tuple(paths))


def check_placeholders(names: Names, values: Values, *expressions: Parsed | None) -> None:
    """DynamoDB refuses a request whose expressions use a placeholder its ExpressionAttributeNames or Values do not
    define, or that defines one no expression uses (`expressions`: the request's, None for one it does not have)."""
    used_names: set[str] = set()
    used_values: set[str] = set()
    for expression in expressions:
        if expression is not None:
            used_names |= expression.names
            used_values |= expression.values
    if used_names.symmetric_difference(names) or used_values.symmetric_difference(values):
        _placeholder_problem(names, values, used_names, used_values)


def _placeholder_problem(names: Names, values: Values, used_names: set[str], used_values: set[str]) -> None:
    """Raise DynamoDB's words for the first placeholder missing or unused."""
    undefined = sorted(used_names.difference(names))
    if undefined:
        raise ExpressionError(
            f"An expression attribute name used in the document path is not defined; attribute name: {undefined[0]}"
        )
    undefined = sorted(used_values.difference(values))
    if undefined:
        raise ExpressionError(
            f"An expression attribute value used in expression is not defined; attribute value: {undefined[0]}"
        )
    for kind, unused in (("Names", set(names) - used_names), ("Values", set(values) - used_values)):
        if unused:
            keys = "{" + ", ".join(sorted(unused)) + "}"
            raise ExpressionError(f"Value provided in ExpressionAttribute{kind} unused in expressions: keys: {keys}")
