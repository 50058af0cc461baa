"""The settings of what rows are written as and how files are read, as the stack's context, the function's
environment and the command line give them: each accepted spelling, the default, the message for a bad value.
Pure, no AWS; every schema is built inside its test, so a mutation run sees it."""

from __future__ import annotations

import pytest

from csv_ingest_engine.constants import DEFAULT_MAX_CELLS, DEFAULT_ORDER_ATTRIBUTE, MAX_CELLS_CEILING
from csv_ingest_engine.schema import (
    MAX_ORDER_ATTRIBUTE_BYTES,
    CsvFormat,
    KeyAttribute,
    Schema,
    SchemaError,
    column_types,
    delimiter,
    encoding,
    gzipped,
    key_type,
    max_cells,
    order_attribute,
    type_option,
)

COLUMN_TYPE_LIST = "S, N, BOOL, JSON"
ENCODING_LIST = "utf-8, cp1252, latin-1, utf-16"


def refusal(error: pytest.ExceptionInfo[SchemaError]) -> str:
    return str(error.value)


# -- the key schema -----------------------------------------------------------------------------------------------


def test_the_default_schema_is_a_string_partition_key_named_customer_id_and_nothing_else() -> None:
    """With nothing configured: `customer_id`, a string, no sort key, no column types; files are UTF-8 CSV."""
    schema = Schema.keyed_on()
    assert (schema.partition_key, schema.sort_key, dict(schema.column_types)) == (
        KeyAttribute("customer_id", "S"),
        None,
        {},
    )
    assert schema.key_names == ("customer_id",)
    assert schema.is_default_key
    assert schema.describe() == "a string (S) partition key named 'customer_id', and no sort key"
    assert CsvFormat() == CsvFormat(delimiter=",", encoding="utf-8")


def test_a_schema_keyed_on_a_column_keeps_its_column_types() -> None:
    """`keyed_on(column, types)`: that column as a string partition key, the other columns typed as given."""
    schema = Schema.keyed_on("id", {"age": "N", "active": "BOOL"})
    assert schema.partition_key == KeyAttribute("id", "S")
    assert schema.sort_key is None
    assert dict(schema.column_types) == {"age": "N", "active": "BOOL"}
    assert schema.describe() == "a string (S) partition key named 'id', and no sort key"


@pytest.mark.parametrize(
    ("partition", "sort", "described"),
    [
        (
            KeyAttribute("customer_id", "N"),
            KeyAttribute("order_date"),
            "a number (N) partition key named 'customer_id', and a string (S) sort key named 'order_date'",
        ),
        (
            KeyAttribute("blob", "B"),
            KeyAttribute("seq", "N"),
            "a binary (B) partition key named 'blob', and a number (N) sort key named 'seq'",
        ),
        (KeyAttribute("sku", "N"), None, "a number (N) partition key named 'sku', and no sort key"),
    ],
)
def test_a_schema_describes_its_key_by_type_and_name(
    partition: KeyAttribute, sort: KeyAttribute | None, described: str
) -> None:
    """Messages name the key as DynamoDB has it: each attribute's type in words and letter, and its column."""
    assert Schema(partition, sort).describe() == described


def test_a_schema_finds_each_key_attribute_by_its_column() -> None:
    """The partition key, then the sort key, each found by its column's name."""
    schema = Schema(KeyAttribute("customer_id", "N"), KeyAttribute("order_date", "S"))
    assert schema.key_names == ("customer_id", "order_date")
    assert schema.key("customer_id") == KeyAttribute("customer_id", "N")
    assert schema.key("order_date") == KeyAttribute("order_date", "S")
    assert not schema.is_default_key


def test_a_sort_key_on_the_partition_keys_column_is_refused() -> None:
    """One column cannot be both keys: the message names it and says to pick another."""
    with pytest.raises(SchemaError) as error:
        Schema(KeyAttribute("customer_id"), KeyAttribute("customer_id", "N"))
    assert refusal(error) == "the sort key's column 'customer_id' is the partition key's: name another column"


@pytest.mark.parametrize(
    ("column", "key_letter"),
    [("customer_id", "N"), ("order_date", "S")],
)
def test_a_column_type_for_a_key_column_is_refused_naming_the_keys_type(column: str, key_letter: str) -> None:
    """A key column's type is set as the key's: a column type for it (partition or sort key) is an error."""
    with pytest.raises(SchemaError) as error:
        Schema(KeyAttribute("customer_id", "N"), KeyAttribute("order_date"), {column: "JSON"})
    assert refusal(error) == (
        f"column '{column}' is a key column, whose type is the key's ({key_letter}); remove it from the column types "
        "(a key's type is set as the key's)"
    )


# -- key types ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("S", "S"), ("s", "S"), ("N", "N"), (" n ", "N"), ("B", "B"), ("b\n", "B")],
)
def test_a_key_type_is_read_in_any_case_and_trimmed(text: str, expected: str) -> None:
    """`s`, ` n `, `B`: the three types DynamoDB allows for a key attribute."""
    assert key_type(text, origin="context key_type") == expected


@pytest.mark.parametrize(
    ("kind", "shown"),
    [("BOOL", "'BOOL'"), ("string", "'string'"), ("", "''"), (None, "None"), (1, "1")],
)
def test_a_key_type_dynamodb_does_not_allow_is_refused(kind: object, shown: str) -> None:
    """BOOL is a column type, not a key type; the message names the setting and lists S, N, B."""
    with pytest.raises(SchemaError) as error:
        key_type(kind, origin="context key_type")
    assert refusal(error) == f"context key_type: {shown} is not a key type; DynamoDB keys are one of S, N, B"


# -- column types -------------------------------------------------------------------------------------------------


def test_column_types_are_read_from_json_text_with_names_trimmed_in_nfc_and_types_in_any_case() -> None:
    """The context's, environment's or --types-file's JSON: ` age ` is `age`, `e` + combining acute is `é`."""
    text = '{" age ": "n", "active": " Bool ", "caf\\u0065\\u0301": "json", "note": "s"}'
    assert column_types(text, origin="COLUMN_TYPES") == {"age": "N", "active": "BOOL", "café": "JSON", "note": "S"}


def test_column_types_are_read_from_json_bytes_and_from_a_mapping() -> None:
    """A file's bytes and the context's already-parsed object give the same types as JSON text."""
    assert column_types(b'{"age": "N"}', origin="types.json") == {"age": "N"}
    assert column_types({"age": "n", "tags": "JSON"}, origin="context column_types") == {"age": "N", "tags": "JSON"}


@pytest.mark.parametrize("blank", ["", "   ", "\n", b"", b" \n"])
def test_blank_column_types_mean_every_column_is_a_string(blank: str | bytes) -> None:
    """An unset or blank setting (an empty environment variable, an empty types file) types nothing."""
    assert column_types(blank, origin="COLUMN_TYPES") == {}


def test_column_types_that_are_not_json_are_refused_with_the_parsers_reason() -> None:
    """The message names where the text came from, where the JSON broke, and shows a valid example."""
    with pytest.raises(SchemaError) as error:
        column_types("{age: N}", origin="types.json")
    assert refusal(error) == (
        "types.json is not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1)); "
        'give a JSON object, e.g. {"age": "N", "active": "BOOL"}'
    )


@pytest.mark.parametrize(
    ("value", "kind"),
    [('["age", "N"]', "list"), ('"N"', "str"), ("7", "int"), (["age"], "list"), (None, "NoneType")],
)
def test_column_types_that_are_not_an_object_are_refused_naming_what_they_are(value: object, kind: str) -> None:
    """A list, a string, a number: the message says a JSON object of column -> type is wanted, and what came."""
    with pytest.raises(SchemaError) as error:
        column_types(value, origin="context column_types")
    assert refusal(error) == (
        f'context column_types must be a JSON object of column -> type, e.g. {{"age": "N"}}, not {kind}'
    )


@pytest.mark.parametrize("name", ["", "  ", "\t"])
def test_a_blank_column_name_in_the_types_is_refused(name: str) -> None:
    """A type for no column is a mistake, not something to ignore."""
    with pytest.raises(SchemaError) as error:
        column_types({"age": "N", name: "S"}, origin="COLUMN_TYPES")
    assert refusal(error) == f"COLUMN_TYPES: {name!r} is not a column name"


@pytest.mark.parametrize(
    ("kind", "shown"),
    [("INT", "'INT'"), ("", "''"), ("B", "'B'"), (5, "5"), (None, "None"), (["N"], "['N']")],
)
def test_a_column_type_that_is_not_one_of_the_four_is_refused_naming_the_column(kind: object, shown: str) -> None:
    """B is a key type only; a number or a list is no type: the message names the column and lists the types."""
    with pytest.raises(SchemaError) as error:
        column_types({"age": "N", "score": kind}, origin="context column_types")
    assert refusal(error) == (
        f"context column_types, column 'score': {shown} is not a column type; use one of {COLUMN_TYPE_LIST}"
    )


@pytest.mark.parametrize(
    ("types", "column"),
    [({"age": "N", " age": "S"}, "age"), ({"café": "S", "cafe\u0301": "N"}, "café")],
)
def test_column_types_naming_one_column_twice_are_refused(types: dict[str, str], column: str) -> None:
    """Two spellings of one column (spaces around it, another Unicode form) are an error, not a silent overwrite."""
    with pytest.raises(SchemaError) as error:
        column_types(types, origin="context column_types")
    assert refusal(error) == (
        f"context column_types names column {column!r} twice (names are trimmed and compared in NFC)"
    )


# -- the command line's --type COLUMN=TYPE --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("age=N", ("age", "N")),
        (" age = bool ", ("age", "BOOL")),
        ("cafe\u0301=json", ("café", "JSON")),
        ("a=b=S", ("a=b", "S")),
    ],
)
def test_a_type_option_is_a_column_and_its_type(text: str, expected: tuple[str, str]) -> None:
    """The column is what comes before the last `=` (trimmed, NFC), the type what comes after (any case)."""
    assert type_option(text) == expected


@pytest.mark.parametrize("text", ["age", "=N", "", "ageN"])
def test_a_type_option_without_a_column_and_an_equals_sign_is_refused(text: str) -> None:
    """The message shows the form, an example, and the types."""
    with pytest.raises(SchemaError) as error:
        type_option(text)
    assert refusal(error) == f"{text!r} is not COLUMN=TYPE (e.g. age=N); types: {COLUMN_TYPE_LIST}"


def test_a_type_option_with_a_blank_column_is_refused() -> None:
    """Spaces before the `=` are no column."""
    with pytest.raises(SchemaError) as error:
        type_option("  =N")
    assert refusal(error) == "'  =N': '  ' is not a column name"


@pytest.mark.parametrize(("text", "shown"), [("age=", "''"), ("age=int", "'int'"), ("age=B", "'B'")])
def test_a_type_option_with_an_unknown_type_is_refused(text: str, shown: str) -> None:
    """The message quotes the option as given and lists the types."""
    with pytest.raises(SchemaError) as error:
        type_option(text)
    assert refusal(error) == f"{text!r}: {shown} is not a column type; use one of {COLUMN_TYPE_LIST}"


# -- the file format: delimiter and encoding -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [(",", ","), (";", ";"), ("|", "|"), ("tab", "\t"), ("TAB", "\t"), ("Tab", "\t"), ("\t", "\t")],
)
def test_a_delimiter_is_named_by_its_character_or_tab(text: str, expected: str) -> None:
    """`,` `;` `|` as themselves; a tab as `tab` in any case or a literal tab."""
    assert delimiter(text, origin="--delimiter") == expected


@pytest.mark.parametrize("unset", [None, ""])
def test_an_unset_delimiter_is_a_comma(unset: str | None) -> None:
    """No setting (or an empty environment variable) reads comma-separated files."""
    assert delimiter(unset, origin="CSV_DELIMITER") == ","


@pytest.mark.parametrize(("text", "shown"), [(":", "':'"), ("tabs", "'tabs'"), (",,", "',,'"), (9, "9")])
def test_a_delimiter_this_pipeline_does_not_read_is_refused(text: object, shown: str) -> None:
    """The message names the setting and lists the delimiters read."""
    with pytest.raises(SchemaError) as error:
        delimiter(text, origin="--delimiter")
    assert refusal(error) == f"--delimiter: {shown} is not a delimiter this pipeline reads; use one of , ; | tab"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("utf-8", "utf-8"),
        ("UTF-8", "utf-8"),
        ("utf8", "utf-8"),
        ("UTF_8", "utf-8"),
        (" utf-8\n", "utf-8"),
        ("cp1252", "cp1252"),
        ("windows-1252", "cp1252"),
        ("Windows_1252", "cp1252"),
        ("latin-1", "latin-1"),
        ("latin1", "latin-1"),
        ("LATIN_1", "latin-1"),
        ("iso-8859-1", "latin-1"),
        ("ISO_8859_1", "latin-1"),
        ("utf-16", "utf-16"),
        ("UTF_16", "utf-16"),
    ],
)
def test_an_encoding_is_read_by_its_common_names(text: str, expected: str) -> None:
    """Any case, `_` for `-`, spaces around, and the usual aliases (utf8, windows-1252, latin1, iso-8859-1)."""
    assert encoding(text, origin="--encoding") == expected


@pytest.mark.parametrize("unset", [None, ""])
def test_an_unset_encoding_is_utf_8(unset: str | None) -> None:
    """No setting (or an empty environment variable) reads UTF-8."""
    assert encoding(unset, origin="CSV_ENCODING") == "utf-8"


@pytest.mark.parametrize(
    ("text", "shown"),
    [("ascii", "'ascii'"), ("utf-32", "'utf-32'"), ("1252", "'1252'"), ("  ", "'  '"), (8, "8")],
)
def test_an_encoding_this_pipeline_does_not_read_is_refused(text: object, shown: str) -> None:
    """The message names the setting and lists the encodings read."""
    with pytest.raises(SchemaError) as error:
        encoding(text, origin="--encoding")
    assert refusal(error) == f"--encoding: {shown} is not an encoding this pipeline reads; use one of {ENCODING_LIST}"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("a.csv.gz", True), ("EXPORT.CSV.GZ", True), ("x.Gz", True), ("a.csv", False), ("a.gz.csv", False)],
)
def test_a_name_ending_in_gz_is_read_as_gzip(name: str, expected: bool) -> None:
    """`.gz` in any case, at the end of the name only."""
    assert gzipped(name) is expected


# -- the order attribute ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("unset", [None, ""])
def test_an_unset_order_attribute_is_the_bookkeeping_one(unset: str | None) -> None:
    """No setting stamps the pipeline's own attribute, `_csv_ingest_order`."""
    assert order_attribute(unset, origin="--order-attribute") == DEFAULT_ORDER_ATTRIBUTE == "_csv_ingest_order"


def test_an_order_attribute_is_trimmed_and_in_nfc() -> None:
    """The name is read as column names are."""
    assert order_attribute("  seq ", origin="--order-attribute") == "seq"
    assert order_attribute(" cafe\u0301", origin="--order-attribute") == "café"


@pytest.mark.parametrize(("text", "shown"), [("  ", "'  '"), (7, "7")])
def test_a_blank_order_attribute_is_refused(text: object, shown: str) -> None:
    """Spaces are no name (unset is the default, blank is a mistake)."""
    with pytest.raises(SchemaError) as error:
        order_attribute(text, origin="context order_attribute")
    assert refusal(error) == f"context order_attribute: {shown} is not a column name"


@pytest.mark.parametrize(
    "name",
    ["a" * MAX_ORDER_ATTRIBUTE_BYTES, " " + "a" * MAX_ORDER_ATTRIBUTE_BYTES + " ", "é" * 127 + "a"],
)
def test_an_order_attribute_of_255_bytes_is_accepted(name: str) -> None:
    """255 bytes of UTF-8 once trimmed, in ASCII or in two-byte characters."""
    assert len(order_attribute(name, origin="--order-attribute").encode()) == MAX_ORDER_ATTRIBUTE_BYTES == 255


@pytest.mark.parametrize("name", ["a" * 256, "é" * 128])
def test_an_order_attribute_over_255_bytes_is_refused(name: str) -> None:
    """256 bytes is one too many, whether 256 characters or 128 two-byte ones."""
    with pytest.raises(SchemaError) as error:
        order_attribute(name, origin="--order-attribute")
    assert refusal(error) == "--order-attribute: the order attribute's name may be at most 255 bytes"


# -- the widest row ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, DEFAULT_MAX_CELLS),
        ("", DEFAULT_MAX_CELLS),
        (" 42 ", 42),
        (1, 1),
        (str(MAX_CELLS_CEILING), MAX_CELLS_CEILING),
    ],
)
def test_the_widest_row_is_a_whole_number_of_cells_from_1_to_the_ceiling(value: object, expected: int) -> None:
    assert max_cells(value, origin="--max-cells") == expected


@pytest.mark.parametrize("value", [0, "0", MAX_CELLS_CEILING + 1, "-1", "1.5", "many", True, " "])
def test_a_widest_row_outside_1_to_the_ceiling_is_refused_saying_why(value: object) -> None:
    with pytest.raises(SchemaError) as error:
        max_cells(value, origin="context csv_max_cells")
    assert refusal(error) == (
        f"context csv_max_cells: {value!r} is not a number of cells from 1 to 409,600 (an item is at most 400 KB, and "
        "each of its attributes takes at least a byte, so no row with more cells could be written)"
    )
