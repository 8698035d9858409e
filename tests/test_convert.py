"""The converter without a database: exact wire output per type, and refused input.

Every expectation here is written out by hand in DynamoDB's AttributeValue format; the round
trips through a real DynamoDB live in ``test_roundtrip_dynamodb.py``.
"""

import enum
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

import attrs
import pytest
from samples import Color, Counter, Hooked, Kind, Level, Priority, Session, Spot, single

from dynamorm_async import (
    DeserializationError,
    GlobalIndex,
    ModelError,
    ValidationError,
    default_converter,
    field,
    from_item,
    make_converter,
    model,
    to_item,
)

UTC = timezone.utc
PK = {"pk": {"S": "k"}}


# --- one-field models ------------------------------------------------------------------------


def dump_one(tp: Any, value: Any) -> Any:
    """The stored AttributeValue of ``value`` in a field of type ``tp`` (None if left out)."""
    item = to_item(single(tp)("k", value))
    assert item.pop("pk") == {"S": "k"}
    assert set(item) <= {"v"}
    return item.get("v")


def load_one(tp: Any, av: Any) -> Any:
    """``av`` loaded into a field of type ``tp`` (``None`` means: the attribute is absent)."""
    item = dict(PK) if av is None else {**PK, "v": av}
    return from_item(single(tp), item).v


def roundtrip(tp: Any, value: Any) -> Any:
    """Dump ``value`` as ``tp``, load it back, check equality; return the AttributeValue."""
    av = dump_one(tp, value)
    back = load_one(tp, av)
    assert back == value
    return av


# --- models used by several tests ------------------------------------------------------------


@attrs.define
class Address:
    city: str
    zip_code: str | None = field(default=None, stored_as="zip")


@model(table="shipments", hash_key="pk")
@attrs.define
class Shipment:
    pk: str
    lines: list[Address] = attrs.Factory(list)
    by_name: dict[str, Address] = attrs.Factory(dict)
    home: Address | None = None


@model(
    table="orders",
    hash_key="customer",
    range_key="order_no",
    indexes=[GlobalIndex("by_status", hash_key="status")],
)
@attrs.define
class Order:
    customer: str = field(stored_as="PK")
    order_no: int = field(stored_as="SK")
    status: str | None = None
    note: str | None = field(default=None, store_none=True)
    tags: set[str] = attrs.Factory(set)
    total: Decimal = Decimal("0")


@model(table="blobs", hash_key="pk")
@attrs.define
class Blob:
    pk: bytes


@attrs.define
class Node:
    name: str
    children: list["Node"] = attrs.Factory(list)


@model(table="trees", hash_key="pk")
@attrs.define
class Tree:
    pk: str
    root: Node


@model(table="people", hash_key="pk")
@attrs.define
class Person:
    pk: str
    name: str
    age: int = 30


# --- scalars ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["hello", "", "żółw 🐢 \u0000 ok"])
def test_str_is_S(text: str) -> None:
    """str is stored as S, unchanged (empty and non-ASCII strings included)."""
    assert roundtrip(str, text) == {"S": text}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (-7, "-7"),
        (42, "42"),
        (10**38 - 1, "9" * 38),
        (-(10**38 - 1), "-" + "9" * 38),
    ],
)
def test_int_is_N(value: int, text: str) -> None:
    """int is stored as N with its exact decimal text, up to 38 digits either sign."""
    assert roundtrip(int, value) == {"N": text}
    assert type(load_one(int, {"N": text})) is int


def test_int_loads_exponent_form_and_refuses_fractions() -> None:
    """A stored integral N in exponent form loads as int; a fractional one is refused."""
    assert load_one(int, {"N": "1E+2"}) == 100
    with pytest.raises(DeserializationError) as info:
        load_one(int, {"N": "1.5"})
    assert info.value.field == "v"
    assert "not an integer" in str(info.value)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.1, "0.1"),
        (1.5, "1.5"),
        (2.0, "2.0"),
        (1e16, "1e+16"),
        (-2.5e-7, "-2.5e-07"),
        (1e-130, "1e-130"),
        (0.0, "0"),
        (-0.0, "0"),
    ],
)
def test_float_is_shortest_repr(value: float, text: str) -> None:
    """float is stored from its shortest repr (zero of either sign as "0") and loads as float."""
    assert roundtrip(float, value) == {"N": text}
    assert type(load_one(float, {"N": text})) is float


def test_float_field_takes_an_int() -> None:
    """An int in a float field is stored as its digits and loads back as a float."""
    assert dump_one(float, 3) == {"N": "3"}
    back = load_one(float, {"N": "3"})
    assert back == 3.0 and type(back) is float


@pytest.mark.parametrize(
    "text",
    ["1.10", "-0.001", "1E+125", "1E-130", "12345678901234567890123456789012345678", "3.000"],
)
def test_decimal_keeps_its_exact_text(text: str) -> None:
    """Decimal is stored as its exact text ("1.10" stays "1.10") and loads back identical."""
    assert roundtrip(Decimal, Decimal(text)) == {"N": text}
    assert str(load_one(Decimal, {"N": text})) == text


def test_decimal_zero_is_plain_zero() -> None:
    """Decimal zeros (negative, with an exponent) are all stored as "0"."""
    assert dump_one(Decimal, Decimal("-0")) == {"N": "0"}
    assert dump_one(Decimal, Decimal("0E-20")) == {"N": "0"}


@pytest.mark.parametrize("value", [True, False])
def test_bool_is_BOOL(value: bool) -> None:
    """bool is stored as BOOL and loads back as a bool, not a number."""
    assert roundtrip(bool, value) == {"BOOL": value}
    assert load_one(bool, {"BOOL": value}) is value


@pytest.mark.parametrize("tp", [int, float, Decimal])
def test_bool_refused_in_number_field(tp: Any) -> None:
    """True is not silently stored as 1 in an int, float or Decimal field."""
    with pytest.raises(ValidationError) as info:
        dump_one(tp, True)
    assert info.value.field == "v"
    assert info.value.value_type is bool


def test_bytes_is_B() -> None:
    """bytes (and bytearray) are stored as B; an empty non-key binary is allowed."""
    assert roundtrip(bytes, b"\x00\xff") == {"B": b"\x00\xff"}
    assert roundtrip(bytes, b"") == {"B": b""}
    assert dump_one(bytes, bytearray(b"ab")) == {"B": b"ab"}


@model(table="blobs", hash_key="pk")
@attrs.define
class Blobs:
    pk: str
    one: bytes
    many: set[bytes]
    listed: list[bytes]
    named: dict[str, bytes]
    anything: dict[str, Any]


def test_binary_in_dynamodb_json_loads_as_bytes() -> None:
    """Lambda hands stream records (and exports hold items) as DynamoDB JSON, with binary
    values as base64 text: they load as the same bytes botocore's answers give, at any
    depth, and text that is not base64 is refused by name."""
    wire = {
        "pk": {"S": "k"},
        "one": {"B": "AAH/"},
        "many": {"BS": ["aGk=", "AA=="]},
        "listed": {"L": [{"B": "eA=="}]},
        "named": {"M": {"a": {"B": "eQ=="}}},
        "anything": {"M": {"b": {"B": "eg=="}, "s": {"BS": ["AQ=="]}}},
    }
    expected = Blobs(
        "k", b"\x00\x01\xff", {b"hi", b"\x00"}, [b"x"], {"a": b"y"}, {"b": b"z", "s": {b"\x01"}}
    )
    assert from_item(Blobs, wire) == expected
    assert from_item(Blobs, to_item(expected)) == expected  # botocore's form: bytes
    for field_name, bad in (("one", {"B": "not base64!"}), ("many", {"BS": ["%%"]})):
        with pytest.raises(DeserializationError, match="not base64") as info:
            from_item(Blobs, {**wire, field_name: bad})
        assert field_name in str(info.value)


def test_none_is_left_out() -> None:
    """A None optional value is left out of the item and loads back as None."""
    assert dump_one(int | None, None) is None
    assert load_one(int | None, None) is None
    assert roundtrip(int | None, 5) == {"N": "5"}


@attrs.define
class Reading:
    value: float | None  # optional, but without a default


@model(table="readings", hash_key="pk")
@attrs.define
class Station:
    pk: str
    last: Reading
    unit: str | None


def test_optional_without_default_left_out() -> None:
    """None in an optional field without a default is left out too (nested or not)."""
    obj = Station("s", Reading(None), None)
    item = to_item(obj)
    assert item == {"pk": {"S": "s"}, "last": {"M": {}}}
    assert from_item(Station, item) == obj


def test_store_none_writes_NULL() -> None:
    """``field(store_none=True)`` writes None as NULL; plain optional fields are left out."""
    item = to_item(Order("c1", 7))
    assert item == {
        "PK": {"S": "c1"},
        "SK": {"N": "7"},
        "note": {"NULL": True},
        "total": {"N": "0"},
    }
    assert from_item(Order, item) == Order("c1", 7)
    assert to_item(Order("c1", 7, note="hi"))["note"] == {"S": "hi"}


# --- sets --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tp", "value", "tag", "members"),
    [
        (set[str], {"b", "a"}, "SS", ["a", "b"]),
        (set[int], {1, -2}, "NS", ["-2", "1"]),
        (set[float], {0.1, 2.5}, "NS", ["0.1", "2.5"]),
        (set[Decimal], {Decimal("1.10"), Decimal("7")}, "NS", ["1.10", "7"]),
        (set[bytes], {b"x", b"y"}, "BS", [b"x", b"y"]),
        (frozenset[str], frozenset({"z"}), "SS", ["z"]),
    ],
)
def test_sets(tp: Any, value: Any, tag: str, members: list[Any]) -> None:
    """set[str]/set[bytes]/numeric sets are stored as SS/BS/NS and load as the same kind of set."""
    av = roundtrip(tp, value)
    assert list(av) == [tag]
    assert sorted(av[tag]) == members
    assert type(load_one(tp, av)) is type(value)


@pytest.mark.parametrize("tp", [set[str], set[int], frozenset[bytes]])
def test_empty_set_left_out_and_loads_empty(tp: Any) -> None:
    """An empty set is left out of the item; an absent set attribute loads as an empty set."""
    empty = tp.__origin__()
    assert dump_one(tp, empty) is None
    back = load_one(tp, None)
    assert back == empty and type(back) is type(empty)


def test_empty_set_with_default_factory_left_out() -> None:
    """An empty set field whose default is ``Factory(set)`` is left out too."""
    assert "tags" not in to_item(Order("c1", 1))
    assert to_item(Order("c1", 1, tags={"x"}))["tags"] == {"SS": ["x"]}


def test_empty_set_inside_list_and_map_is_NULL() -> None:
    """Inside a list or map an empty set is stored as NULL and loads back as an empty set."""
    assert roundtrip(list[set[str]], [set(), {"a"}]) == {"L": [{"NULL": True}, {"SS": ["a"]}]}
    assert roundtrip(dict[str, set[int]], {"e": set()}) == {"M": {"e": {"NULL": True}}}


def test_set_member_of_wrong_type_refused() -> None:
    """A set member of the wrong type is refused, naming the field."""
    with pytest.raises(ValidationError) as info:
        dump_one(set[int], {1, "x"})
    assert info.value.field == "v"


# --- lists, tuples, maps, nested classes --------------------------------------------------------


def test_list_and_tuple_are_L() -> None:
    """list and tuple[X, ...] are stored as L; a tuple field loads back as a tuple."""
    assert roundtrip(list[int], [1, 2]) == {"L": [{"N": "1"}, {"N": "2"}]}
    assert roundtrip(list[str], []) == {"L": []}
    assert roundtrip(tuple[int, ...], (3, 4)) == {"L": [{"N": "3"}, {"N": "4"}]}
    assert type(load_one(tuple[int, ...], {"L": []})) is tuple


def test_heterogeneous_tuple() -> None:
    """tuple[int, str] is an L of one N and one S; wrong lengths are refused both ways."""
    assert roundtrip(tuple[int, str], (1, "a")) == {"L": [{"N": "1"}, {"S": "a"}]}
    with pytest.raises(ValidationError) as info:
        dump_one(tuple[int, str], (1, 2))
    assert info.value.field == "v[1]"
    with pytest.raises(ValidationError):
        dump_one(tuple[int, str], (1,))
    with pytest.raises(DeserializationError) as loading:
        load_one(tuple[int, str], {"L": [{"N": "1"}]})
    assert loading.value.field == "v"


def test_dict_is_M() -> None:
    """dict[str, X] is stored as M (an empty dict as an empty M)."""
    assert roundtrip(dict[str, int], {"a": 1, "b": -1}) == {
        "M": {"a": {"N": "1"}, "b": {"N": "-1"}}
    }
    assert roundtrip(dict[str, int], {}) == {"M": {}}


def test_dict_keys_str_enum_and_str_subclass() -> None:
    """Map keys may be str subclasses or str-valued Enum members; they are stored as plain str."""

    class Name(str):
        pass

    assert dump_one(dict[str, int], {Name("x"): 1}) == {"M": {"x": {"N": "1"}}}
    assert dump_one(dict[str, int], {Kind.BOOK: 1}) == {"M": {"book": {"N": "1"}}}
    assert roundtrip(dict[Color, int], {Color.RED: 1}) == {"M": {"red": {"N": "1"}}}


def test_dict_non_str_key_refused() -> None:
    """A non-str map key is refused, also when it follows an Enum key."""
    with pytest.raises(ValidationError) as info:
        dump_one(dict[str, int], {1: 2})
    assert info.value.field == "v"
    with pytest.raises(ValidationError):
        dump_one(dict[str, Any], {Color.RED: 1, 5: 2})


def test_nested_attrs_class_is_M() -> None:
    """A nested attrs class is an M with its own stored names and None omission."""
    item = to_item(Shipment("s1", lines=[Address("Oslo"), Address("Rome", "00100")]))
    assert item == {
        "pk": {"S": "s1"},
        "lines": {
            "L": [
                {"M": {"city": {"S": "Oslo"}}},
                {"M": {"city": {"S": "Rome"}, "zip": {"S": "00100"}}},
            ]
        },
        "by_name": {"M": {}},
    }
    assert from_item(Shipment, item) == Shipment(
        "s1", lines=[Address("Oslo"), Address("Rome", "00100")]
    )


def test_optional_nested_class() -> None:
    """An optional nested class is left out when None and stored as M otherwise."""
    assert "home" not in to_item(Shipment("s1"))
    obj = Shipment("s1", home=Address("Oslo"))
    item = to_item(obj)
    assert item["home"] == {"M": {"city": {"S": "Oslo"}}}
    assert from_item(Shipment, item) == obj


# --- Enum and Literal --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tp", "member", "av"),
    [
        (Color, Color.BLUE, {"S": "blue"}),
        (Priority, Priority.HIGH, {"N": "2"}),
        (Kind, Kind.FILM, {"S": "film"}),
        (Level, Level.TWO, {"N": "2"}),
    ],
)
def test_enum_stored_as_value(tp: Any, member: enum.Enum, av: dict[str, Any]) -> None:
    """An Enum is stored as its value (str or int, mixin enums too) and loads as the member."""
    assert roundtrip(tp, member) == av
    assert load_one(tp, av) is member


@pytest.mark.parametrize(("tp", "value"), [(Color, "nope"), (Kind, "nope"), (Level, 99)])
def test_enum_refuses_non_member(tp: Any, value: Any) -> None:
    """A value that is no member is refused, also for ``class Kind(str, Enum)`` and IntEnum."""
    with pytest.raises(ValidationError) as info:
        dump_one(tp, value)
    assert info.value.field == "v"
    assert info.value.value_type is type(value)


@pytest.mark.parametrize(("tp", "av"), [(Color, {"S": "purple"}), (Kind, {"S": "x"})])
def test_enum_unknown_stored_value(tp: Any, av: dict[str, Any]) -> None:
    """A stored value that is no member of the Enum is a DeserializationError for that field."""
    with pytest.raises(DeserializationError) as info:
        load_one(tp, av)
    assert info.value.field == "v"


def test_literal() -> None:
    """Literal values are stored as themselves; other values (True for 1 too) are refused."""
    assert roundtrip(Literal["a", "b"], "b") == {"S": "b"}
    assert roundtrip(Literal[1, 2], 2) == {"N": "2"}
    with pytest.raises(ValidationError) as info:
        dump_one(Literal["a", "b"], "c")
    assert info.value.field == "v"
    assert info.value.value_type is str
    with pytest.raises(ValidationError):
        dump_one(Literal[1, 2], True)
    with pytest.raises(DeserializationError):
        load_one(Literal["a", "b"], {"S": "c"})
    with pytest.raises(DeserializationError):
        load_one(Literal[1, 2], {"BOOL": True})


# --- dates, times, UUIDs -----------------------------------------------------------------------


def test_aware_datetime_is_fixed_width_utc_text() -> None:
    """An aware UTC datetime is stored as fixed-width ISO-8601 text with microseconds."""
    assert roundtrip(datetime, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == {
        "S": "2026-01-02T03:04:05.000000+00:00"
    }
    assert roundtrip(datetime, datetime(2026, 1, 2, 3, 4, 5, 7, tzinfo=UTC)) == {
        "S": "2026-01-02T03:04:05.000007+00:00"
    }


def test_datetime_with_offset_converted_to_utc() -> None:
    """A non-UTC offset is converted to UTC before storing (crossing midnight if needed)."""
    plus_two = timezone(timedelta(hours=2))
    minus = timezone(-timedelta(hours=5, minutes=30))
    assert roundtrip(datetime, datetime(2026, 1, 2, 5, 4, 5, tzinfo=plus_two)) == {
        "S": "2026-01-02T03:04:05.000000+00:00"
    }
    assert roundtrip(datetime, datetime(2026, 1, 1, 20, 0, tzinfo=minus)) == {
        "S": "2026-01-02T01:30:00.000000+00:00"
    }


def test_naive_datetime_refused() -> None:
    """A naive datetime is refused with a message asking for a timezone."""
    with pytest.raises(ValidationError) as info:
        dump_one(datetime, datetime(2026, 1, 2, 3, 4, 5))
    assert "timezone" in str(info.value)
    assert info.value.field == "v"
    assert info.value.value_type is datetime


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-02T03:04:05Z",
        "2026-01-02T03:04:05",
        "2026-01-02T05:04:05+02:00",
        "2026-01-02T03:04:05.000000+00:00",
    ],
)
def test_datetime_loads_other_spellings(text: str) -> None:
    """Texts with "Z", without offset (UTC) or with another offset load as aware UTC."""
    back = load_one(datetime, {"S": text})
    assert back == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert back.tzinfo is UTC


def test_datetime_garbage_text_refused_on_load() -> None:
    """Stored text that is no ISO-8601 datetime is a DeserializationError."""
    with pytest.raises(DeserializationError) as info:
        load_one(datetime, {"S": "yesterday"})
    assert info.value.field == "v"


def test_date_is_iso_text() -> None:
    """date is stored as YYYY-MM-DD; a datetime in a date field is refused."""
    assert roundtrip(date, date(2026, 1, 2)) == {"S": "2026-01-02"}
    assert roundtrip(date, date(1, 1, 1)) == {"S": "0001-01-01"}
    with pytest.raises(ValidationError):
        dump_one(date, datetime(2026, 1, 2, tzinfo=UTC))


def test_uuid_is_S() -> None:
    """UUID is stored as its canonical text; stored garbage is refused on load."""
    value = UUID("12345678-1234-5678-1234-567812345678")
    assert roundtrip(UUID, value) == {"S": "12345678-1234-5678-1234-567812345678"}
    with pytest.raises(DeserializationError):
        load_one(UUID, {"S": "not-a-uuid"})


# --- Any, unions ----------------------------------------------------------------------------------


def test_any_json_like_payload() -> None:
    """dict[str, Any] stores each value by its runtime type and loads by the stored tag."""
    payload = {
        "s": "x",
        "n": 1,
        "f": 2.5,
        "b": True,
        "none": None,
        "l": [1, "a"],
        "m": {"k": [None]},
        "tags": {"t"},
    }
    assert roundtrip(dict[str, Any], payload) == {
        "M": {
            "s": {"S": "x"},
            "n": {"N": "1"},
            "f": {"N": "2.5"},
            "b": {"BOOL": True},
            "none": {"NULL": True},
            "l": {"L": [{"N": "1"}, {"S": "a"}]},
            "m": {"M": {"k": {"L": [{"NULL": True}]}}},
            "tags": {"SS": ["t"]},
        }
    }


def test_any_numbers_load_as_int_when_integral() -> None:
    """Under Any, N loads exactly: as int when integral ("2.0", "1E+2"), else as Decimal."""
    back = load_one(Any, {"L": [{"N": "2.0"}, {"N": "1E+2"}, {"N": "2.5"}, {"N": "-3"}]})
    assert back == [2, 100, Decimal("2.5"), -3]
    assert [type(x) for x in back] == [int, int, Decimal, int]


def test_any_refuses_unstorable_value() -> None:
    """An object DynamoDB cannot hold inside an Any value is refused with its path."""
    with pytest.raises(ValidationError) as info:
        dump_one(Any, [1, object()])
    assert info.value.field == "v[1]"
    with pytest.raises(ValidationError) as nan:
        dump_one(dict[str, Any], {"x": float("nan")})
    assert nan.value.field == "v['x']"


def test_simple_union() -> None:
    """``int | str`` stores each member by its type and refuses bools and other stored tags."""
    assert roundtrip(int | str, 5) == {"N": "5"}
    assert roundtrip(int | str, "5") == {"S": "5"}
    assert type(load_one(int | str, {"N": "5"})) is int
    with pytest.raises(ValidationError):
        dump_one(int | str, True)
    with pytest.raises(ValidationError):
        dump_one(int | str, 1.5)
    with pytest.raises(DeserializationError):
        load_one(int | str, {"BOOL": True})


def test_union_with_decimal_stays_exact() -> None:
    """A Decimal member of a union loads back as the exact Decimal, not a float."""
    assert roundtrip(Decimal | str, Decimal("0.1")) == {"N": "0.1"}
    assert str(load_one(Decimal | str, {"N": "1.10"})) == "1.10"
    assert roundtrip(float | str, 2.0) == {"N": "2.0"}
    assert type(load_one(float | str, {"N": "2"})) is float


def test_optional_union() -> None:
    """``int | str | None`` leaves None out and loads each member back."""
    assert roundtrip(int | str | None, None) is None
    assert roundtrip(int | str | None, "a") == {"S": "a"}


# --- TTL, stored names, missing and unknown attributes -------------------------------------------


def test_ttl_datetime_is_epoch_seconds() -> None:
    """The TTL attribute of a datetime field is stored as epoch seconds (N) and loads as UTC."""
    when = datetime(2026, 1, 1, tzinfo=UTC)
    item = to_item(Session("s", when))
    assert item == {"pk": {"S": "s"}, "expires": {"N": "1767225600"}}
    back = from_item(Session, item)
    assert back == Session("s", when)
    assert back.expires.tzinfo is UTC
    plus_one = timezone(timedelta(hours=1))
    assert to_item(Session("s", datetime(2026, 1, 1, 1, tzinfo=plus_one)))["expires"] == {
        "N": "1767225600"
    }


def test_ttl_naive_datetime_refused() -> None:
    """A naive datetime in the TTL field is refused like any naive datetime."""
    with pytest.raises(ValidationError) as info:
        to_item(Session("s", datetime(2026, 1, 1)))
    assert info.value.field == "expires"


def test_ttl_int_and_optional() -> None:
    """An optional int TTL is stored as N when set, left out when None, and loads back."""
    assert to_item(Counter("c", 1767225600)) == {"pk": {"S": "c"}, "expires": {"N": "1767225600"}}
    assert from_item(Counter, {"pk": {"S": "c"}, "expires": {"N": "1767225600"}}) == Counter(
        "c", 1767225600
    )
    assert to_item(Counter("c")) == {"pk": {"S": "c"}}
    assert from_item(Counter, {"pk": {"S": "c"}}) == Counter("c")


def test_stored_names() -> None:
    """``field(stored_as=...)`` names the attribute in the item, for keys and loads too."""
    obj = Order("c1", 3, status="open", total=Decimal("9.99"))
    item = to_item(obj)
    assert item["PK"] == {"S": "c1"} and item["SK"] == {"N": "3"}
    assert "customer" not in item and "order_no" not in item
    assert from_item(Order, item) == obj


def test_unknown_attributes_ignored() -> None:
    """Attributes the model does not know are ignored on load."""
    item: dict[str, Any] = {
        "pk": {"S": "p"},
        "name": {"S": "Ada"},
        "legacy": {"SS": ["x"]},
        "v2": {"NULL": True},
    }
    assert from_item(Person, item) == Person("p", "Ada")


def test_missing_attribute_with_default() -> None:
    """An absent attribute with a default loads as that default."""
    assert from_item(Person, {"pk": {"S": "p"}, "name": {"S": "Ada"}}).age == 30


def test_missing_required_attribute() -> None:
    """An absent required attribute is a DeserializationError naming model and field."""
    item = {"pk": {"S": "p"}, "age": {"N": "3"}}
    with pytest.raises(DeserializationError) as info:
        from_item(Person, item)
    assert info.value.field == "name"
    assert info.value.model is Person
    assert info.value.item == item
    assert "Person.name" in str(info.value)


# --- numbers out of range ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tp", "value"),
    [
        (float, float("nan")),
        (float, float("inf")),
        (float, float("-inf")),
        (float, 1e-131),
        (float, 1e126),
        (int, int("1" * 39)),
        (int, -(10**38) - 1),
        (int, 10**126),
        (Decimal, Decimal("1" * 39)),
        (Decimal, Decimal("1E-131")),
        (Decimal, Decimal("1E+126")),
        (Decimal, Decimal("NaN")),
        (Decimal, Decimal("-Infinity")),
    ],
    ids=repr,
)
def test_number_out_of_range_refused(tp: Any, value: Any) -> None:
    """NaN, infinities, >38 significant digits and magnitudes outside 1E-130..1E+126 are refused."""
    with pytest.raises(ValidationError) as info:
        dump_one(tp, value)
    assert info.value.field == "v"
    assert info.value.model is single(tp)
    assert info.value.value_type is tp


@pytest.mark.parametrize(
    ("tp", "value", "text"),
    [
        (int, 10**40, "1" + "0" * 40),
        (int, 10**125, "1" + "0" * 125),
        (Decimal, Decimal("1E+125"), "1E+125"),
        (Decimal, Decimal("-9.9999999999999999999999999999999999999E+125"), None),
    ],
)
def test_large_numbers_with_few_digits_accepted(tp: Any, value: Any, text: str | None) -> None:
    """Numbers with at most 38 significant digits below 1E+126 are accepted (10**40 too)."""
    av = roundtrip(tp, value)
    assert av == {"N": text if text is not None else str(value)}


def test_numbers_out_of_range_in_sets_and_lists() -> None:
    """Range checks apply inside sets and lists too, with the element's path."""
    with pytest.raises(ValidationError):
        dump_one(set[float], {float("inf")})
    with pytest.raises(ValidationError) as info:
        dump_one(list[Decimal], [Decimal(1), Decimal("1E+200")])
    assert info.value.field == "v[1]"


# --- errors name the model and the field path ---------------------------------------------------


def test_error_path_in_list_of_nested_classes() -> None:
    """A bad element in a list of nested classes is named ``lines[1].city``."""
    obj = Shipment("s1", lines=[Address("Oslo"), Address(5)])  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as info:
        to_item(obj)
    assert info.value.field == "lines[1].city"
    assert info.value.model is Shipment
    assert info.value.value_type is int
    assert "Shipment" in str(info.value) and "lines[1].city" in str(info.value)


def test_error_path_in_map_of_nested_classes() -> None:
    """A bad value in a map is named by its key, on dump and on load alike."""
    with pytest.raises(ValidationError) as info:
        to_item(Shipment("s1", by_name={"home": Address(5)}))  # type: ignore[arg-type]
    assert info.value.field == "by_name['home'].city"
    item: dict[str, Any] = {
        "pk": {"S": "s"},
        "by_name": {"M": {"home": {"M": {"city": {"N": "1"}}}}},
    }
    with pytest.raises(DeserializationError) as loading:
        from_item(Shipment, item)
    assert loading.value.field == "by_name['home'].city"


def test_wrong_stored_tag() -> None:
    """A value stored with another tag is a DeserializationError with field, model and item."""
    item = {"pk": {"S": "p"}, "name": {"S": "Ada"}, "age": {"S": "30"}}
    with pytest.raises(DeserializationError) as info:
        from_item(Person, item)
    assert info.value.field == "age"
    assert info.value.model is Person
    assert info.value.item is item
    assert "N" in str(info.value) and "found S" in str(info.value)


def test_wrong_stored_tag_nested_path() -> None:
    """A wrong tag deep in the item is named by its full path."""
    item: dict[str, Any] = {
        "pk": {"S": "s"},
        "lines": {"L": [{"M": {"city": {"S": "a"}}}, {"M": {"city": {"N": "1"}}}]},
    }
    with pytest.raises(DeserializationError) as info:
        from_item(Shipment, item)
    assert info.value.field == "lines[1].city"
    assert "Shipment.lines[1].city" in str(info.value)


@pytest.mark.parametrize(
    "wrong",
    [{"N": "1"}, {"L": []}, {"NULL": True}, "Ada", None],
    ids=repr,
)
def test_wrong_stored_shapes_for_str(wrong: Any) -> None:
    """Whatever the wrong shape of a stored str, loading raises DeserializationError."""
    with pytest.raises(DeserializationError) as info:
        from_item(Person, {"pk": {"S": "p"}, "name": wrong})
    assert info.value.field == "name"


def test_empty_key_refused() -> None:
    """Empty key values (table key, stored-as key, index key, binary key) are refused."""
    with pytest.raises(ValidationError) as info:
        to_item(Person("", "Ada"))
    assert info.value.field == "pk" and info.value.value_type is str
    with pytest.raises(ValidationError) as stored:
        to_item(Order("", 1))
    assert stored.value.field == "customer"
    with pytest.raises(ValidationError) as index:
        to_item(Order("c", 1, status=""))
    assert index.value.field == "status"
    with pytest.raises(ValidationError):
        to_item(Blob(b""))
    assert to_item(Order("c", 0))["SK"] == {"N": "0"}  # a zero number key is fine


def test_failed_dump_returns_nothing() -> None:
    """A failing dump raises and leaves the object untouched; there is no partial item."""
    obj = Shipment("s1", lines=[Address("Oslo")], home=Address(b"x"))  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as info:
        to_item(obj)
    assert info.value.field == "home.city"
    assert obj == Shipment("s1", lines=[Address("Oslo")], home=Address(b"x"))  # type: ignore[arg-type]


def test_not_a_model() -> None:
    """to_item takes attrs instances and from_item attrs classes and mappings only."""
    with pytest.raises(ValidationError):
        to_item({"pk": "x"})
    with pytest.raises(DeserializationError):
        from_item(dict, {})
    with pytest.raises(DeserializationError):
        from_item(Person, [])  # type: ignore[arg-type]


# --- user hooks -----------------------------------------------------------------------------------


class Money:
    """Not an attrs class: the converter has no way to store it until told."""

    def __init__(self, cents: int, currency: str) -> None:
        self.cents = cents
        self.currency = currency

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Money) and (self.cents, self.currency) == (
            other.cents,
            other.currency,
        )

    def __hash__(self) -> int:
        return hash((self.cents, self.currency))

    @classmethod
    def parse(cls, text: str) -> "Money":
        cents, currency = text.split(" ")
        return cls(int(cents), currency)


@model(table="prices", hash_key="pk")
@attrs.define
class Price:
    pk: str
    price: Money
    history: list[Money] = attrs.Factory(list)
    previous: Money | None = None


def money_converter() -> Any:
    conv = make_converter()
    conv.register_type(Money, str, dump=lambda m: f"{m.cents} {m.currency}", load=Money.parse)
    return conv


def test_register_type() -> None:
    """``register_type`` stores a custom type through a known type, also in lists and optionals."""
    conv = money_converter()
    obj = Price("p", Money(150, "EUR"), [Money(1, "USD")], Money(2, "GBP"))
    item = to_item(obj, converter=conv)
    assert item == {
        "pk": {"S": "p"},
        "price": {"S": "150 EUR"},
        "history": {"L": [{"S": "1 USD"}]},
        "previous": {"S": "2 GBP"},
    }
    assert from_item(Price, item, converter=conv) == obj


def test_register_type_refuses_wrong_value_and_bad_stored_text() -> None:
    """A registered type refuses other values on dump; a failing ``load`` raises on load."""
    conv = money_converter()
    with pytest.raises(ValidationError) as info:
        to_item(Price("p", "150 EUR"), converter=conv)  # type: ignore[arg-type]
    assert info.value.field == "price" and info.value.value_type is str
    with pytest.raises(DeserializationError) as loading:
        from_item(Price, {"pk": {"S": "p"}, "price": {"S": "garbage"}}, converter=conv)
    assert loading.value.field == "price"


def test_cattrs_hooks_with_attribute_values() -> None:
    """cattrs' register_(un)structure_hook work with hooks speaking AttributeValues."""
    conv = make_converter()
    conv.register_unstructure_hook(Money, lambda m: {"M": {"c": {"N": str(m.cents)}}})
    conv.register_structure_hook(Money, lambda av, _: Money(int(av["M"]["c"]["N"]), "EUR"))
    obj = Price("p", Money(5, "EUR"), [Money(6, "EUR")])
    item = to_item(obj, converter=conv)
    assert item["price"] == {"M": {"c": {"N": "5"}}}
    assert item["history"] == {"L": [{"M": {"c": {"N": "6"}}}]}
    assert from_item(Price, item, converter=conv) == obj


def test_registration_after_first_use_takes_effect() -> None:
    """A hook registered after the converter was used applies next time, in nested classes too."""
    conv = make_converter()
    station = Station("s", Reading(1.5), None)
    assert to_item(Person("p", "Ada"), converter=conv)["age"] == {"N": "30"}
    assert to_item(station, converter=conv)["last"] == {"M": {"value": {"N": "1.5"}}}
    conv.register_unstructure_hook(int, lambda v: {"S": f"int:{v}"})
    conv.register_structure_hook(int, lambda av, _: int(av["S"].removeprefix("int:")))
    conv.register_unstructure_hook(float, lambda v: {"S": f"float:{v}"})
    conv.register_structure_hook(float, lambda av, _: float(av["S"].removeprefix("float:")))
    item = to_item(Person("p", "Ada"), converter=conv)
    assert item["age"] == {"S": "int:30"}
    assert from_item(Person, item, converter=conv) == Person("p", "Ada")
    nested = to_item(station, converter=conv)
    assert nested["last"] == {"M": {"value": {"S": "float:1.5"}}}
    assert from_item(Station, nested, converter=conv) == station


def test_default_converter_unaffected_by_own_converter() -> None:
    """Hooks on a ``make_converter()`` instance leave the default converter alone."""
    conv = money_converter()
    conv.register_unstructure_hook(int, lambda v: {"S": str(v)})
    assert to_item(Person("p", "Ada"))["age"] == {"N": "30"}
    assert conv is not default_converter()
    with pytest.raises(ModelError):
        to_item(Price("p", Money(1, "EUR")))


def test_dump_value_and_load_value() -> None:
    """``dump_value``/``load_value`` convert single values and raise the public errors."""
    conv = default_converter()
    assert conv.dump_value(Decimal("1.10")) == {"N": "1.10"}
    assert conv.dump_value({"a", "b"}, frozenset[str])["SS"] in (["a", "b"], ["b", "a"])
    assert conv.dump_value([1, "x"]) == {"L": [{"N": "1"}, {"S": "x"}]}
    assert conv.load_value({"N": "3"}, int) == 3
    assert conv.load_value({"L": [{"S": "x"}]}, list[str]) == ["x"]
    with pytest.raises(ValidationError) as info:
        conv.dump_value(float("nan"))
    assert info.value.model is None and info.value.value_type is float
    with pytest.raises(DeserializationError):
        conv.load_value({"S": "x"}, int)
    with pytest.raises(ModelError):
        conv.dump_value(1j)


# --- unsupported types, recursion ----------------------------------------------------------------


@pytest.mark.parametrize("tp", [complex, dict[int, str], set[bool], list[complex]], ids=repr)
def test_unsupported_field_type(tp: Any) -> None:
    """A field type with no way to be stored is a ModelError naming the class and the field."""
    cls: Any = attrs.make_class("Odd", {"pk": attrs.field(type=str), "odd": attrs.field(type=tp)})
    for call in (lambda: to_item(cls("k", None)), lambda: from_item(cls, {"pk": {"S": "k"}})):
        with pytest.raises(ModelError) as info:
            call()
        assert info.value.model is cls
        assert info.value.field == "odd"
        assert "Odd.odd" in str(info.value)


def test_recursive_class_round_trips() -> None:
    """A tree of attrs nodes (``children: list["Node"]``) is nested M/L and loads back."""
    tree = Tree("t", Node("a", [Node("b", [Node("c")]), Node("d")]))
    item = to_item(tree)
    leaf = {"M": {"name": {"S": "c"}, "children": {"L": []}}}
    assert item["root"]["M"]["children"]["L"][0]["M"]["children"] == {"L": [leaf]}
    assert from_item(Tree, item) == tree


def test_recursive_class_error_path() -> None:
    """An error deep inside a tree is named by its full path."""
    tree = Tree("t", Node("a", [Node("b", [Node(7)])]))  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as info:
        to_item(tree)
    assert info.value.field == "root.children[0].children[0].name"


@attrs.define
class WithNonNoneDefault:
    pk: str
    limit: int | None = 5


def test_none_in_a_field_whose_default_is_not_none_is_stored_as_null() -> None:
    """None in an optional field with another default is stored as NULL, so it loads as None
    and not as the default."""
    item = to_item(WithNonNoneDefault("p", None))
    assert item == {"pk": {"S": "p"}, "limit": {"NULL": True}}
    assert from_item(WithNonNoneDefault, item) == WithNonNoneDefault("p", None)
    assert from_item(WithNonNoneDefault, {"pk": {"S": "p"}}) == WithNonNoneDefault("p", 5)


def test_dump_value_checks_members_of_a_str_enum() -> None:
    """dump_value with a str-mixin Enum type refuses a string that is not one of its values."""

    class Mode(str, enum.Enum):
        FAST = "fast"

    conv = default_converter()
    assert conv.dump_value(Mode.FAST, Mode) == {"S": "fast"}
    with pytest.raises(ValidationError):
        conv.dump_value("slow", Mode)


# --- generated code: inline fast paths, their fallbacks, user hooks ------------------------------


def test_generated_source_is_readable_and_inlines_the_common_cases() -> None:
    """``generated_source`` prints the per-class code; plain fields are written inline."""
    source = make_converter().generated_source(Order)
    assert "def dump_Order(obj):" in source and "def load_Order(m):" in source
    assert (
        '"PK": {"S": v_customer} if v_customer.__class__ is str and v_customer.isascii() '
        "else dump_str(v_customer)"
    ) in source
    assert 'v_customer = m["PK"]["S"]' in source
    compile(source, "<generated>", "exec")  # plain Python, nothing hidden
    with pytest.raises(ModelError):
        make_converter().generated_source(dict)


def hooked_converter() -> Any:
    """A converter with hooks for types the generated code would otherwise write inline."""
    conv = make_converter()
    conv.register_unstructure_hook(str, lambda v: {"S": "~" + v})
    conv.register_structure_hook(str, lambda av, _: av["S"][1:])
    conv.register_unstructure_hook(int, lambda v: {"S": f"#{v}"})
    conv.register_structure_hook(int, lambda av, _: int(av["S"][1:]))
    conv.register_unstructure_hook(Decimal, lambda v: {"S": str(v)})
    conv.register_structure_hook(Decimal, lambda av, _: Decimal(av["S"]))
    conv.register_unstructure_hook(datetime, lambda v: {"N": str(v.timestamp())})
    conv.register_structure_hook(
        datetime, lambda av, _: datetime.fromtimestamp(float(av["N"]), UTC)
    )
    conv.register_unstructure_hook(Color, lambda v: {"N": str(list(Color).index(v))})
    conv.register_structure_hook(Color, lambda av, _: list(Color)[int(av["N"])])
    conv.register_unstructure_hook(Spot, lambda v: {"S": f"{v.x},{v.y}"})
    conv.register_structure_hook(Spot, lambda av, _: Spot(*map(int, av["S"].split(","))))
    return conv


def test_user_hooks_win_over_inlined_codecs() -> None:
    """A hook registered for a type the generated code writes inline (str, int, Decimal,
    datetime, an Enum, a nested class) replaces the inline form, in lists and optionals too."""
    conv = hooked_converter()
    obj = Hooked("p", 3, Decimal("1.5"), datetime(2026, 1, 2, tzinfo=UTC), Color.BLUE,
                 Spot(1, 2), ["a", "b"], [4], 7)  # fmt: skip
    item = to_item(obj, converter=conv)
    assert item == {
        "pk": {"S": "~p"},
        "count": {"S": "#3"},
        "amount": {"S": "1.5"},
        "when": {"N": "1767312000.0"},
        "color": {"N": "2"},
        "spot": {"S": "1,2"},
        "names": {"L": [{"S": "~a"}, {"S": "~b"}]},
        "counts": {"L": [{"S": "#4"}]},
        "maybe": {"S": "#7"},
    }
    assert from_item(Hooked, item, converter=conv) == obj
    source = conv.generated_source(Hooked)
    for inline in (".__class__ is str", ".__class__ is int", "is Decimal", "utc_text", "_value_"):
        assert inline not in source
    assert to_item(obj)["count"] == {"N": "3"}  # the default converter is unaffected


@attrs.define
class Stamp:
    when: datetime
    count: int


@model(table="stamps", hash_key="pk")
@attrs.define
class Stamps:
    pk: str
    count: int
    stamp: Stamp
    counts: list[int]
    whens: list[datetime]
    color: Color
    amount: Decimal


def test_stored_forms_the_inline_code_does_not_spell_load_through_the_codecs() -> None:
    """Numbers in exponent form, datetimes with "Z" or another offset, anywhere in the item,
    load as the codecs load them; the generated code hands such items to the codecs."""
    utc = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    item = {
        "pk": {"S": "p"},
        "count": {"N": "1E+2"},
        "stamp": {"M": {"when": {"S": "2026-01-02T05:04:05+02:00"}, "count": {"N": "2.0"}}},
        "counts": {"L": [{"N": "1"}, {"N": "3E+1"}]},
        "whens": {"L": [{"S": "2026-01-02T03:04:05Z"}, {"S": "2026-01-02T03:04:05"}]},
        "color": {"S": "red"},
        "amount": {"N": "1E-3"},
    }
    back = from_item(Stamps, item)
    assert back == Stamps("p", 100, Stamp(utc, 2), [1, 30], [utc, utc], Color.RED,
                          Decimal("0.001"))  # fmt: skip
    assert all(w.tzinfo is UTC for w in [back.stamp.when, *back.whens])
    with pytest.raises(DeserializationError) as info:
        from_item(Stamps, {**item, "amount": {"N": 5}})  # N is text on the wire
    assert info.value.field == "amount"
    with pytest.raises(DeserializationError) as nested:
        from_item(Stamps, {**item, "stamp": {"M": {"when": {"S": "x"}, "count": {"N": "1"}}}})
    assert nested.value.field == "stamp.when"


class Loose(enum.Enum):
    """An Enum that accepts other spellings through ``_missing_``."""

    ON = "on"

    @classmethod
    def _missing_(cls, value: object) -> "Loose | None":
        return cls.ON if isinstance(value, str) and value.lower() == "on" else None


def test_enum_missing_hook_still_applies() -> None:
    """A stored value the Enum accepts only through ``_missing_`` loads as that member."""
    assert load_one(Loose, {"S": "ON"}) is Loose.ON
    assert load_one(list[Loose], {"L": [{"S": "on"}, {"S": "On"}]}) == [Loose.ON, Loose.ON]
    with pytest.raises(DeserializationError):
        load_one(Loose, {"S": "off"})


def _default_notes(self: Any) -> list[str]:
    return [self._secret]


@attrs.define
class Unusual:
    """A keyword-only field, a private one and a default computed from the instance."""

    pk: str
    flag: bool = attrs.field(kw_only=True)
    name: str
    _secret: str = "s"
    notes: list[str] = attrs.Factory(_default_notes, takes_self=True)
    last: int = 0


def test_keyword_only_private_and_self_computed_fields() -> None:
    """A keyword-only field before a required positional one, a private field (``_secret``,
    passed as ``secret``) and a ``Factory(takes_self=True)`` default dump and load."""
    obj = Unusual("p", "n", flag=True, secret="x", notes=["n"], last=2)
    item = to_item(obj)
    assert item == {
        "pk": {"S": "p"},
        "flag": {"BOOL": True},
        "name": {"S": "n"},
        "_secret": {"S": "x"},
        "notes": {"L": [{"S": "n"}]},
        "last": {"N": "2"},
    }
    assert from_item(Unusual, item) == obj
    stored = {"pk": {"S": "p"}, "flag": {"BOOL": False}, "name": {"S": "n"}, "_secret": {"S": "y"}}
    assert from_item(Unusual, stored) == Unusual("p", "n", flag=False, secret="y", notes=["y"])


@attrs.define
class Gappy:
    pk: str
    note: str | None  # optional without a default: absent means None
    tags: set[str]  # absent means an empty set
    name: str


def test_missing_attribute_named_even_when_optional_ones_are_absent() -> None:
    """With absent optional and set attributes and one missing required one, the error names
    the required one (absent optional attributes are fine)."""
    with pytest.raises(DeserializationError) as info:
        from_item(Gappy, {"pk": {"S": "s"}})
    assert info.value.field == "name"
    assert from_item(Gappy, {"pk": {"S": "s"}, "name": {"S": "n"}}) == Gappy("s", None, set(), "n")


def test_nested_map_that_is_not_a_mapping() -> None:
    """A nested class stored as M of something other than a map is a DeserializationError."""
    with pytest.raises(DeserializationError) as info:
        from_item(Shipment, {"pk": {"S": "s"}, "home": {"M": 5}})
    assert info.value.field == "home"
    assert "mapping" in str(info.value)


def test_error_from_a_user_hook_is_chained() -> None:
    """The exception a user's load function raised is the DeserializationError's cause."""
    conv = money_converter()
    with pytest.raises(DeserializationError) as info:
        from_item(Price, {"pk": {"S": "p"}, "price": {"S": "garbage"}}, converter=conv)
    assert isinstance(info.value.__cause__, ValueError)


def test_none_in_a_set_field_is_named() -> None:
    """None in a set field (not optional) is refused, naming the field."""
    with pytest.raises(ValidationError) as info:
        to_item(Order("c", 1, tags=None))  # type: ignore[arg-type]
    assert info.value.field == "tags"


@model(
    table="sparse",
    hash_key="pk",
    indexes=[GlobalIndex("by_kind", hash_key="kind"), GlobalIndex("by_tag", hash_key="tag")],
)
@attrs.define
class Sparse:
    pk: str
    kind: Kind | None = None
    tag: str | None = field(default=None, store_none=True)


def test_key_checks_beyond_the_inline_cases() -> None:
    """Key checks hold for Enum keys and for sparse index keys: left out when None, refused
    when stored as NULL or empty."""
    assert to_item(Sparse("p", Kind.BOOK, "t")) == {
        "pk": {"S": "p"},
        "kind": {"S": "book"},
        "tag": {"S": "t"},
    }
    with pytest.raises(ValidationError) as null:
        to_item(Sparse("p"))
    assert null.value.field == "tag"
    with pytest.raises(ValidationError) as empty:
        to_item(Sparse("p", tag=""))
    assert empty.value.field == "tag"
