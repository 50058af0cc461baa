"""The condition expressions the stub DynamoDB endpoint evaluates, as DynamoDB evaluates them."""

from __future__ import annotations

from typing import Any

import pytest
from stub_expressions import ExpressionError, compare, condition, update

ITEM = {"s": {"S": "b"}, "n": {"N": "10"}, "flag": {"BOOL": True}, "bin": {"B": "AQI="}}


def holds(expression: str, values: dict[str, Any], item: dict[str, Any] = ITEM) -> bool:
    return condition(expression).holds(item, {"#s": "s", "#n": "n", "#x": "missing"}, values)


@pytest.mark.parametrize(
    ("left", "comparator", "right", "expected"),
    [
        ({"N": "9"}, "<", {"N": "10"}, True),  # numbers by value, not as text
        ({"N": "10.0"}, "=", {"N": "1E1"}, True),
        ({"S": "9"}, "<", {"S": "10"}, False),  # strings by their bytes
        ({"S": "Z"}, "<", {"S": "a"}, True),
        ({"S": "é"}, ">", {"S": "z"}, True),  # UTF-8: é (C3 A9) after z (7A)
        ({"B": "AQ=="}, "<", {"B": "Ag=="}, True),  # binary by bytes: 01 < 02
        ({"S": "1"}, "=", {"N": "1"}, False),  # two types: never equal...
        ({"S": "1"}, "<>", {"N": "1"}, True),
        ({"S": "1"}, "<", {"N": "2"}, False),  # ...nor ordered
        ({"BOOL": True}, "=", {"BOOL": True}, True),
        ({"BOOL": False}, "<", {"BOOL": True}, False),  # booleans have no order
        (None, "=", {"S": "x"}, False),  # an attribute the item lacks compares false
        (None, "<>", {"S": "x"}, False),
    ],
)
def test_values_compare_as_dynamodb_compares_them(left: Any, comparator: str, right: Any, expected: bool) -> None:
    """Numbers by value, strings and binary by their bytes, values of two types never equal nor ordered."""
    assert compare(comparator, left, right) is expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("attribute_exists(#s)", True),
        ("attribute_not_exists(#s)", False),
        ("attribute_not_exists(#x)", True),
        ("#n <= :ten", True),
        ("#n < :ten", False),
        ("#n >= :ten AND #s = :b", True),
        ("#n > :ten AND #s = :b", False),
        ("#n > :ten OR #s = :b", True),
        ("NOT #n > :ten", True),
        ("not (#n > :ten or #s <> :b)", True),  # keywords in any case
        ("attribute_not_exists(#x) AND (#n > :ten OR #s = :b)", True),
        ("(attribute_not_exists(#x) AND #n > :ten) OR #s = :c", False),  # AND binds tighter than OR
        ("attribute_not_exists(#x) AND #n > :ten OR #s = :b", True),
        ("s = :b", True),  # a name without a placeholder
    ],
)
def test_conditions_combine_as_dynamodb_combines_them(expression: str, expected: bool) -> None:
    """Functions, comparisons, AND over OR, NOT, parentheses."""
    assert holds(expression, {":ten": {"N": "10"}, ":b": {"S": "b"}, ":c": {"S": "c"}}) is expected


@pytest.mark.parametrize(
    "expression",
    ["begins_with(#s, :b)", "#n BETWEEN :a AND :b", "#s IN (:a)", "#m.x = :a", "#l[0] = :a", "#n = :a +"],
)
def test_what_the_stub_does_not_evaluate_is_refused(expression: str) -> None:
    """A condition beyond the stub's subset is an error, never a guess."""
    with pytest.raises(ExpressionError):
        condition(expression)


@pytest.mark.parametrize(
    "expression", ["SET #a = #a + :one", "SET #a = list_append(#a, :l)", "SET #a = if_not_exists(#b, :v)", "SET #a :v"]
)
def test_an_update_beyond_set_and_remove_is_refused(expression: str) -> None:
    """Arithmetic, list_append and if_not_exists of another attribute are refused, as is a malformed action."""
    with pytest.raises(ExpressionError):
        update(expression)
