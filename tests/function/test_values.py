"""Cell text -> DynamoDB values and DynamoDB's sizes: pure functions, no AWS."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import pytest

from csv_ingest_engine.constants import ColumnType, KeyType
from csv_ingest_engine.values import MAX_DEPTH, ValueProblem, canonical_number, size_of, to_attribute, to_key

DIGITS_38 = "12345678901234567890123456789012345678"
LARGEST = "9.9999999999999999999999999999999999999E+125"


def problem(text: str, kind: ColumnType) -> str:
    with pytest.raises(ValueProblem) as raised:
        to_attribute(text, kind)
    return str(raised.value)


def nested_arrays(levels: int, inner: str = "1") -> str:
    return "[" * levels + inner + "]" * levels


# Strings


def test_a_string_is_kept_exactly_as_written() -> None:
    """S cells are not trimmed or changed in any way."""
    assert to_attribute("  Ann \t", "S") == {"S": "  Ann \t"}


# Numbers


@pytest.mark.parametrize("text", ["42", "-7.25", "1e5", "-17.4E37", "1e+5", ".5", "5.", "0001.23", "1E-130", LARGEST])
def test_a_number_is_sent_as_written(text: str) -> None:
    """No float round trip: the text DynamoDB gets is the cell's (`1e5` stays `1e5`)."""
    assert to_attribute(text, "N") == {"N": text}


def test_a_decimal_fraction_stays_exact() -> None:
    """`0.1` is not turned into 0.1000000000000000055511151231257827 or `1e-1`."""
    assert to_attribute("0.1", "N") == {"N": "0.1"}


def test_surrounding_whitespace_is_trimmed_from_a_number() -> None:
    """A padded number cell is still the number."""
    assert to_attribute(" 42 ", "N") == {"N": "42"}


def test_a_leading_plus_is_dropped() -> None:
    """DynamoDB accepts `+3` and stores 3; the text sent is the plain one."""
    assert to_attribute("+3", "N") == {"N": "3"}


def test_negative_zero_is_a_number() -> None:
    """`-0` is zero, which DynamoDB accepts; sent as `0`, as every zero is."""
    assert to_attribute("-0", "N") == {"N": "0"}


def test_38_significant_digits_are_accepted() -> None:
    """38 digits is DynamoDB's precision."""
    assert to_attribute(DIGITS_38, "N") == {"N": DIGITS_38}


def test_39_significant_digits_are_rejected() -> None:
    """The message gives the count and the limit."""
    message = problem(DIGITS_38 + "9", "N")
    assert message == "'12345678901234567890...' has 39 significant digits; DynamoDB keeps at most 38"


@pytest.mark.parametrize("text", ["000" + DIGITS_38, DIGITS_38 + "000", "0.000" + DIGITS_38, "1" + "0" * 100])
def test_leading_and_trailing_zeros_are_not_significant(text: str) -> None:
    """Only the digits from the first to the last non-zero one count toward 38."""
    assert to_attribute(text, "N") == {"N": text}


def test_the_smallest_magnitude_is_accepted() -> None:
    """1E-130 is the smallest non-zero magnitude DynamoDB stores, negative too."""
    assert to_attribute("-1E-130", "N") == {"N": "-1E-130"}


def test_a_magnitude_below_1e_minus_130_is_rejected() -> None:
    """The message says the number is too small and what the smallest is."""
    assert problem("1E-131", "N") == "'1E-131' is too small for DynamoDB (the smallest non-zero magnitude is 1E-130)"


def test_the_largest_magnitude_is_accepted() -> None:
    """9.99...E+125 (38 nines) is the largest DynamoDB stores, negative too."""
    assert to_attribute("-" + LARGEST, "N") == {"N": "-" + LARGEST}


@pytest.mark.parametrize("text", ["1E+126", "10E+125", "1e9999999999999999999999"])
def test_a_magnitude_over_the_largest_is_rejected(text: str) -> None:
    """The message says the number is too large and what the largest is."""
    assert problem(text, "N").endswith(f"is too large for DynamoDB (the largest magnitude is {LARGEST})")


@pytest.mark.parametrize(
    "text", ["0e125", "-0.00E-130", "0E-200", "0.000E+500", "-0e10", "+0e126", " 0e999999999999 ", "00.00"]
)
def test_zero_with_any_exponent_is_zero_sent_as_0(text: str) -> None:
    """DynamoDB's numbers are "positive, negative, or zero": its range is the non-zero numbers', so `0E-200` is
    zero, and is sent as `0` (the value DynamoDB stores), as the key `0E-200` is the item `0`."""
    assert to_attribute(text, "N") == {"N": "0"}
    assert to_key(text.strip(), "N") == {"N": "0"}
    assert canonical_number(text) == "0"


def test_a_json_zero_with_any_exponent_is_sent_as_0() -> None:
    """A JSON number follows N's rules: `0E-200` inside JSON is zero too."""
    assert to_attribute('{"a": 0E-200, "b": [-0.0e500]}', "JSON") == {"M": {"a": {"N": "0"}, "b": {"L": [{"N": "0"}]}}}


@pytest.mark.parametrize(
    ("cell", "where"),
    [
        ('"\\ud800"', ""),
        ('{"\\udfff": 1}', ""),
        ('["ok", "x\\ud83d"]', " at $[1]"),
        ('{"a": {"\\udfff": 1}}', " at $.a"),
    ],
)
def test_json_with_half_a_surrogate_pair_is_rejected_not_a_crash(cell: str, where: str) -> None:
    """`\\ud800` alone parses to a string no UTF-8 can hold: the row is rejected, the file goes on, and the message
    says where the string (or a map's name) is, unless it is the whole cell."""
    assert problem(cell, "JSON") == f"a JSON string{where} has half of a surrogate pair (\\ud800-\\udfff), not text"


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "inf", "-inf"])
def test_nan_and_infinity_are_rejected(text: str) -> None:
    """Python's float() takes them; DynamoDB does not."""
    assert problem(text, "N") == f"'{text}' is not a number (DynamoDB has no NaN or infinity)"


@pytest.mark.parametrize("text", ["1,000", "1_000", "-12,345.5"])
def test_thousands_separators_are_rejected(text: str) -> None:
    """Decimal() takes `1_000`; DynamoDB takes neither form, and the message says why."""
    assert problem(text, "N") == f"'{text}' is not a number (no thousands separators)"


def test_a_decimal_comma_is_rejected_with_the_fix() -> None:
    """`1,5` is one and a half in much of Europe: the message asks for a dot."""
    assert problem("1,5", "N") == "'1,5' is not a number (write the decimal point as a dot)"


@pytest.mark.parametrize("text", ["0x10", "-0x10", "+0X1F"])
def test_hexadecimal_is_rejected(text: str) -> None:
    """Only decimal digits, whatever the sign or the case of the x."""
    assert problem(text, "N") == f"'{text}' is not a number (decimal digits only)"


@pytest.mark.parametrize("text", ["3O", "", ".", "e5", "1e", "1.2.3", "++5", "1 000", "٣", "12abc"])
def test_text_that_is_not_a_number_is_rejected(text: str) -> None:
    """The message quotes the value."""
    assert problem(text, "N") == f"'{text}' is not a number"


@pytest.mark.parametrize(("kind", "what"), [("N", "a number"), ("BOOL", "a boolean (use true or false)")])
def test_a_cell_of_only_spaces_is_quoted_as_written(kind: ColumnType, what: str) -> None:
    """A typed cell of spaces is not empty (so not skipped): the message shows its spaces, not ''."""
    assert problem("   ", kind) == f"'   ' is not {what}"
    assert problem(" \t", kind) == f"' \\t' is not {what}"


def test_a_long_value_is_cut_in_the_message() -> None:
    """A message quotes at most a readable start of the value."""
    assert problem("x" * 1000, "N") == "'xxxxxxxxxxxxxxxxxxxx...' is not a number"


@pytest.mark.parametrize(("text", "shown"), [("x" * 24, "x" * 24), ("x" * 25, "x" * 20 + "...")])
def test_a_value_of_24_characters_is_quoted_whole_and_one_more_is_cut(text: str, shown: str) -> None:
    """24 characters is the longest value a message quotes whole; a longer one shows its first 20 and `...`."""
    assert problem(text, "N") == f"'{shown}' is not a number"


def test_a_value_holding_a_single_quote_is_quoted_with_it_escaped() -> None:
    """`1'000` (thousands as the Swiss write them) is quoted in single quotes like any value, its own one escaped."""
    assert problem("1'000", "N") == "'1\\'000' is not a number"


@pytest.mark.parametrize(("text", "canonical"), [("1E-0000000000130", "1E-130"), ("-1e+0000000000125", "-1E+125")])
def test_zeros_leading_an_exponent_do_not_count(text: str, canonical: str) -> None:
    """An exponent written with many leading zeros is still DynamoDB's smallest or largest power of ten."""
    assert to_attribute(text, "N") == {"N": text}
    assert canonical_number(text) == canonical


def test_an_exponent_with_leading_zeros_past_the_smallest_is_rejected() -> None:
    """One power of ten below 1E-130 is refused however the exponent is written."""
    assert problem("1E-0000000000131", "N") == (
        "'1E-0000000000131' is too small for DynamoDB (the smallest non-zero magnitude is 1E-130)"
    )


# Booleans


@pytest.mark.parametrize(("text", "value"), [("TRUE", True), ("False", False), (" true ", True), ("false\t", False)])
def test_true_and_false_in_any_case_are_booleans(text: str, value: bool) -> None:
    """Case and surrounding whitespace do not matter."""
    assert to_attribute(text, "BOOL") == {"BOOL": value}


@pytest.mark.parametrize("text", ["1", "0", "yes", "no", "", "t"])
def test_anything_else_is_not_a_boolean(text: str) -> None:
    """1/0 and yes/no are ambiguous; the message gives the fix."""
    assert problem(text, "BOOL") == f"'{text}' is not a boolean (use true or false)"


# JSON


def test_a_json_object_becomes_a_map_of_dynamodb_values() -> None:
    """Each JSON type maps to its DynamoDB type, nested ones included."""
    text = '{"name": "Ann", "tags": ["a", 2, true, null], "address": {"city": "Oslo", "zip": {"code": 150}}}'
    assert to_attribute(text, "JSON") == {
        "M": {
            "name": {"S": "Ann"},
            "tags": {"L": [{"S": "a"}, {"N": "2"}, {"BOOL": True}, {"NULL": True}]},
            "address": {"M": {"city": {"S": "Oslo"}, "zip": {"M": {"code": {"N": "150"}}}}},
        }
    }


def test_a_json_array_becomes_a_list() -> None:
    """Surrounding whitespace is allowed."""
    assert to_attribute(' [1, "x", false] ', "JSON") == {"L": [{"N": "1"}, {"S": "x"}, {"BOOL": False}]}


def test_json_decimals_are_kept_exactly() -> None:
    """A JSON number is sent as its text, not through float."""
    assert to_attribute('{"price": 19.99}', "JSON") == {"M": {"price": {"N": "19.99"}}}


def test_json_big_integers_are_kept() -> None:
    """30 digits fit DynamoDB's 38, though not a float's 17."""
    assert to_attribute("123456789012345678901234567890", "JSON") == {"N": "123456789012345678901234567890"}


def test_json_null_is_null() -> None:
    """null becomes DynamoDB's NULL."""
    assert to_attribute("null", "JSON") == {"NULL": True}


@pytest.mark.parametrize(("text", "value"), [('""', {"S": ""}), ("{}", {"M": {}}), ("[]", {"L": []})])
def test_empty_json_strings_objects_and_arrays_are_accepted(text: str, value: dict[str, object]) -> None:
    """DynamoDB allows empty strings in non-key attributes, and empty lists and maps."""
    assert to_attribute(text, "JSON") == value


def test_a_json_number_out_of_range_rejects_the_cell() -> None:
    """The message says it is a JSON number and where it is."""
    message = problem('{"a": {"b": [1, 1e400]}}', "JSON")
    assert message == f"JSON number '1e400' at $.a.b[1] is too large for DynamoDB (the largest magnitude is {LARGEST})"


def test_a_json_cell_that_is_one_number_out_of_range_names_no_place() -> None:
    """The number is the whole cell: the message has no `at ...`."""
    message = problem("1e400", "JSON")
    assert message == f"JSON number '1e400' is too large for DynamoDB (the largest magnitude is {LARGEST})"


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"x": -Infinity}'])
def test_json_nan_and_infinity_are_rejected(text: str) -> None:
    """json.loads takes them by default; they are not JSON and DynamoDB has no such numbers."""
    assert problem(text, "JSON").endswith("is not a JSON number, and DynamoDB has no NaN or infinity)")


@pytest.mark.parametrize("text", ["{bad", "", "[1,]", "{'a': 1}", "01"])
def test_invalid_json_is_rejected_with_the_parser_message(text: str) -> None:
    """The message says where the parser stopped."""
    assert problem(text, "JSON").startswith("not valid JSON (")


def test_json_at_the_nesting_limit_is_accepted() -> None:
    """A value inside 31 arrays is at level 32, DynamoDB's limit."""
    value = to_attribute(nested_arrays(MAX_DEPTH - 1), "JSON")
    for _ in range(MAX_DEPTH - 1):
        value = value["L"][0]
    assert value == {"N": "1"}


@pytest.mark.parametrize("inner", ["1", ""])
def test_json_past_the_nesting_limit_is_rejected(inner: str) -> None:
    """A 32nd array is refused, empty or not; the message gives the depth and the limit."""
    message = problem(nested_arrays(MAX_DEPTH, inner), "JSON")
    assert message == (
        "the JSON is nested 33 levels deep; DynamoDB allows at most 32 "
        "(at most 31 arrays or objects inside one another)"
    )


def test_json_too_deep_to_parse_is_rejected_as_too_deep() -> None:
    """json.loads' RecursionError becomes a problem with the cell, not a crash."""
    assert problem("[" * 100_000, "JSON").startswith("the JSON is nested 100,001 levels deep;")


@pytest.mark.parametrize(
    ("cell", "levels"),
    [
        # Closed arrays and objects end their levels: the second, deeper array is 3,000 inside the outer two.
        ("[[" + '[{"a": 1}],' + "[" * 3000 + "]" * 3000 + "]]", "3,003"),
        # Brackets inside a string are text, and an escaped quote does not end the string.
        ("[" * 3000 + '"[{\\"[{", [[[1]]]' + "]" * 3000, "3,004"),
        # Only brackets count, whatever else the cell holds past where the parser gave up.
        ("[" * 3000 + "XXX" + "[" * 3, "3,004"),
    ],
)
def test_json_too_deep_to_parse_reports_the_depth_of_its_brackets(cell: str, levels: str) -> None:
    """A cell too deep for json.loads is measured from its brackets, as deep as a parser would count it."""
    assert problem(cell, "JSON").startswith(f"the JSON is nested {levels} levels deep;")


# Keys


@pytest.mark.parametrize("text", ["1", "1.0", "1e0", "+1", "01", "0.1E1", "1.000"])
def test_spellings_of_one_number_have_one_canonical_form(text: str) -> None:
    """DynamoDB compares numbers by value, so these are one key."""
    assert canonical_number(text) == "1"


@pytest.mark.parametrize("text", ["0", "-0", "0.00", "+0e5"])
def test_every_zero_is_canonically_zero(text: str) -> None:
    """Zero has no sign or exponent."""
    assert canonical_number(text) == "0"


@pytest.mark.parametrize(
    ("text", "canonical"),
    [("100", "100"), ("-12e-3", "-0.012"), ("123.4500", "123.45"), ("1E+125", "1E+125"), ("25e-31", "2.5E-30")],
)
def test_canonical_numbers_are_positional_unless_far_from_one(text: str, canonical: str) -> None:
    """Positional within 1E-20..1E+39, E notation beyond, so keys stay short."""
    assert canonical_number(text) == canonical


def test_a_number_key_follows_the_number_rules() -> None:
    """A key is checked like a number cell."""
    assert to_key("007", "N") == {"N": "007"}
    with pytest.raises(ValueProblem, match="'1,000' is not a number"):
        to_key("1,000", "N")


def test_a_string_key_is_kept_as_given() -> None:
    """The caller has already cleaned it."""
    assert to_key("café", "S") == {"S": "café"}


def test_a_binary_key_is_decoded_from_base64() -> None:
    """DynamoDB gets the bytes."""
    assert to_key("AQL/", "B") == {"B": b"\x01\x02\xff"}


@pytest.mark.parametrize("text", ["not base64!", "AQI", "AQ I="])
def test_a_binary_key_that_is_not_strict_base64_is_rejected(text: str) -> None:
    """Missing padding and stray characters are not skipped."""
    with pytest.raises(ValueProblem) as raised:
        to_key(text, "B")
    assert str(raised.value) == f"'{text}' is not base64"


def test_an_empty_binary_key_is_rejected() -> None:
    """DynamoDB refuses empty binary keys; the message says why."""
    with pytest.raises(ValueProblem) as raised:
        to_key("", "B")
    assert str(raised.value) == "the key is empty once decoded from base64; DynamoDB refuses an empty binary key"


# Sizes


@pytest.mark.parametrize(("value", "size"), [({"S": "héllo"}, 6), ({"S": ""}, 0), ({"B": b"\x00\x01\x02"}, 3)])
def test_strings_and_binaries_count_their_bytes(value: dict[str, object], size: int) -> None:
    """UTF-8 bytes for a string, raw bytes for a binary."""
    assert size_of(value) == size


@pytest.mark.parametrize(
    ("number", "size"), [("12345", 4), ("1234", 3), ("0.0012300", 3), ("-1E-130", 2), ("0", 1), (DIGITS_38, 20)]
)
def test_a_number_counts_a_byte_per_two_significant_digits_plus_one(number: str, size: int) -> None:
    """ceil(significant digits / 2) + 1: leading and trailing zeros are trimmed first."""
    assert size_of({"N": number}) == size


@pytest.mark.parametrize("value", [{"BOOL": True}, {"NULL": True}])
def test_booleans_and_nulls_are_one_byte(value: dict[str, object]) -> None:
    """Whatever the value."""
    assert size_of(value) == 1


def test_a_nested_map_counts_names_overheads_and_elements() -> None:
    """3 bytes per list or map, 1 per element, and each map element's name."""
    value = {"M": {"ab": {"S": "xyz"}, "l": {"L": [{"N": "12345"}, {"NULL": True}, {"M": {}}]}}}
    ab = 2 + 3 + 1  # name, value, element
    inner_list = 3 + (4 + 1) + (1 + 1) + (3 + 1)  # overhead, then each element and its byte
    assert size_of(value) == 3 + ab + (1 + inner_list + 1)


def test_a_converted_json_cell_is_measured_as_dynamodb_would() -> None:
    """The sizes apply to what to_attribute returns."""
    assert size_of(to_attribute('{"price": 19.99}', "JSON")) == 3 + len("price") + (2 + 1) + 1


# Callers' mistakes


@pytest.mark.parametrize("measure", [canonical_number, lambda text: size_of({"N": text})])
def test_spelling_or_measuring_text_that_is_not_a_number_names_it(measure: Callable[[str], object]) -> None:
    """Given text that never passed the N rules, canonical_number and size_of refuse it, quoting it, rather than
    return a wrong key or size."""
    with pytest.raises(ValueProblem) as raised:
        measure("3O")
    assert str(raised.value) == "'3O' is not a number"


def test_a_type_size_of_does_not_measure_is_named() -> None:
    """A set type (SS), which no column converts to, is an error naming the type, not a guessed size."""
    with pytest.raises(ValueError) as raised:
        size_of({"SS": ["a"]})
    assert str(raised.value) == "'SS' is not a DynamoDB type this module measures"


def test_a_type_the_conversions_do_not_know_is_named() -> None:
    """A column or key type outside ColumnType / KeyType (which mypy refuses) fails naming the type."""
    with pytest.raises(AssertionError, match="'SS'"):
        to_attribute("a", cast(ColumnType, "SS"))
    with pytest.raises(AssertionError, match="'SS'"):
        to_key("a", cast(KeyType, "SS"))


# -- the words a problem has for the log, without the value ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "without_value"),
    [
        (
            '{"a": 1e999}',
            "a JSON number is too large for DynamoDB (the largest magnitude is "
            "9.9999999999999999999999999999999999999E+125)",
        ),
        ("[1e-999]", "a JSON number is too small for DynamoDB (the smallest non-zero magnitude is 1E-130)"),
        ('{"a": "\\udc00"}', "a JSON string has half of a surrogate pair (\\ud800-\\udfff), not text"),
    ],
)
def test_a_json_problem_has_words_for_the_log_without_the_value_or_its_path(text: str, without_value: str) -> None:
    """The log gets a JSON cell's problem without the value and without its path (a path is the cell's own keys)."""
    with pytest.raises(ValueProblem) as problem:
        to_attribute(text, "JSON")
    assert problem.value.without_value == without_value


def test_a_problem_that_quotes_no_value_is_logged_as_it_is() -> None:
    assert ValueProblem("the cell is empty").without_value == "the cell is empty"
