"""Property tests for the converter: every supported type round-trips, and what ``to_item``
writes is always a valid DynamoDB item (one-key AttributeValues, numbers within DynamoDB's
38 digits and 1E-130..1E+126, non-empty unique sets).

Pure Python, no database; Hypothesis settings keep the whole file at a few seconds.
"""

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from samples import Color, Counter, Hooked, Kind, Level, Priority, Session, Spot, single

from dynamorm_async import ValidationError, field, from_item, make_converter, model, to_item

UTC = timezone.utc
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- strategies ---------------------------------------------------------------------------------

TEXT = st.text()
KEY = st.text(min_size=1)
INTS = st.integers(-(10**38 - 1), 10**38 - 1)
FLOATS = st.one_of(
    st.just(0.0),
    st.just(-0.0),
    st.floats(min_value=1e-130, max_value=1e126, exclude_max=True),
    st.floats(min_value=-1e126, max_value=-1e-130, exclude_min=True),
)
BINARY = st.binary()


@st.composite
def decimals(draw: st.DrawFn) -> Decimal:
    """Finite decimals DynamoDB can hold: up to 38 digits, adjusted exponent -130..125."""
    if draw(st.integers(0, 20)) == 0:
        return Decimal(0)
    coefficient = draw(st.integers(1, 10**38 - 1))
    digits = tuple(int(d) for d in str(coefficient))
    adjusted = draw(st.integers(-130, 125))
    sign = draw(st.integers(0, 1))
    return Decimal((sign, digits, adjusted - len(digits) + 1))


DECIMALS = decimals()
OFFSETS = st.one_of(
    st.just(UTC),
    st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m))),
)
DATETIMES = st.datetimes(
    min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=OFFSETS
)
JSON_SCALARS = st.one_of(st.none(), st.booleans(), TEXT, INTS, FLOATS, BINARY)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(TEXT, inner, max_size=4),
        st.sets(TEXT, min_size=1, max_size=3),
        st.sets(st.one_of(INTS, FLOATS), min_size=1, max_size=3),
        st.sets(BINARY, min_size=1, max_size=3),
    ),
    max_leaves=12,
)


# --- models --------------------------------------------------------------------------------------


@attrs.define
class Address:
    city: str
    zip_code: str | None = field(default=None, stored_as="zip")
    tags: set[str] = attrs.Factory(set)
    floor: int | None = None


@attrs.define
class Node:
    name: str
    children: list["Node"] = attrs.Factory(list)


NODES: st.SearchStrategy[Node] = st.deferred(
    lambda: st.builds(Node, name=TEXT, children=st.lists(NODES, max_size=2))
)
ADDRESSES = st.builds(
    Address,
    city=TEXT,
    zip_code=st.none() | TEXT,
    tags=st.sets(TEXT, max_size=3),
    floor=st.none() | INTS,
)


@model(
    table="everything",
    hash_key="pk",
    range_key="sk",
    indexes=[],
)
@attrs.define
class Everything:
    pk: str = field(stored_as="PK")
    sk: int = field(stored_as="SK")
    text: str = ""
    number: float = 0.0
    exact: Decimal = Decimal(0)
    flag: bool = False
    raw: bytes = b""
    tags: set[str] = attrs.Factory(set)
    scores: set[int] = attrs.Factory(set)
    lines: list[Address] = attrs.Factory(list)
    attrs_map: dict[str, list[str]] = attrs.Factory(dict)
    home: Address | None = None
    note: str | None = field(default=None, store_none=True)
    color: Color = Color.RED
    kind: Kind = Kind.BOOK
    when: datetime | None = None
    day: date | None = None
    ident: UUID | None = None
    extra: dict[str, Any] = attrs.Factory(dict)


EVERYTHING = st.builds(
    Everything,
    pk=KEY,
    sk=INTS,
    text=TEXT,
    number=FLOATS,
    exact=DECIMALS,
    flag=st.booleans(),
    raw=BINARY,
    tags=st.sets(TEXT, max_size=3),
    scores=st.sets(INTS, max_size=3),
    lines=st.lists(ADDRESSES, max_size=3),
    attrs_map=st.dictionaries(TEXT, st.lists(TEXT, max_size=3), max_size=3),
    home=st.none() | ADDRESSES,
    note=st.none() | TEXT,
    color=st.sampled_from(Color),
    kind=st.sampled_from(Kind),
    when=st.none() | DATETIMES,
    day=st.none() | st.dates(),
    ident=st.none() | st.uuids(),
    extra=st.dictionaries(TEXT, JSON, max_size=3),
)


# --- wire checks --------------------------------------------------------------------------------

_TAGS = {"S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS", "L", "M"}


def significant_digits(number: Decimal) -> int:
    return len("".join(map(str, number.as_tuple().digits)).strip("0"))


def check_number(text: Any) -> Decimal:
    """An N string: a finite decimal DynamoDB can hold."""
    assert type(text) is str
    number = Decimal(text)
    assert number.is_finite()
    if number:
        assert significant_digits(number) <= 38, text
        assert -130 <= number.adjusted() <= 125, text
    return number


def check_av(av: Any) -> None:
    """A valid AttributeValue: one known tag with a value of the right shape, recursively."""
    assert type(av) is dict and len(av) == 1, av
    ((tag, raw),) = av.items()
    assert tag in _TAGS, tag
    if tag == "S":
        assert type(raw) is str
    elif tag == "N":
        check_number(raw)
    elif tag == "B":
        assert type(raw) is bytes
    elif tag == "BOOL":
        assert type(raw) is bool
    elif tag == "NULL":
        assert raw is True
    elif tag == "SS":
        assert raw and all(type(m) is str for m in raw) and len(set(raw)) == len(raw)
    elif tag == "BS":
        assert raw and all(type(m) is bytes for m in raw) and len(set(raw)) == len(raw)
    elif tag == "NS":
        assert raw and len({check_number(m) for m in raw}) == len(raw)
    elif tag == "L":
        assert type(raw) is list
        for member in raw:
            check_av(member)
    else:
        assert type(raw) is dict
        for key, member in raw.items():
            assert type(key) is str
            check_av(member)


def check_item(item: Any) -> None:
    """A valid item: non-empty str attribute names mapped to valid AttributeValues."""
    assert type(item) is dict
    for name, av in item.items():
        assert type(name) is str and name
        check_av(av)


# --- round trips of every supported type ---------------------------------------------------------

CASES: list[tuple[str, Any, st.SearchStrategy[Any]]] = [
    ("str", str, TEXT),
    ("int", int, INTS),
    ("float", float, FLOATS),
    ("Decimal", Decimal, DECIMALS),
    ("bytes", bytes, BINARY),
    ("bool", bool, st.booleans()),
    ("set[str]", set[str], st.sets(TEXT, max_size=5)),
    ("set[int]", set[int], st.sets(INTS, max_size=5)),
    ("set[float]", set[float], st.sets(FLOATS, max_size=5)),
    ("set[Decimal]", set[Decimal], st.sets(DECIMALS, max_size=5)),
    ("set[bytes]", set[bytes], st.sets(BINARY, max_size=5)),
    ("frozenset[str]", frozenset[str], st.frozensets(TEXT, max_size=5)),
    ("list[int]", list[int], st.lists(INTS, max_size=5)),
    ("list[str]", list[str], st.lists(TEXT, max_size=5)),
    ("list[list[float]]", list[list[float]], st.lists(st.lists(FLOATS, max_size=3), max_size=3)),
    ("list[set[str]]", list[set[str]], st.lists(st.sets(TEXT, max_size=3), max_size=3)),
    ("tuple[int, str]", tuple[int, str], st.tuples(INTS, TEXT)),
    ("tuple[Decimal, ...]", tuple[Decimal, ...], st.lists(DECIMALS, max_size=4).map(tuple)),
    ("dict[str, int]", dict[str, int], st.dictionaries(TEXT, INTS, max_size=5)),
    (
        "dict[str, set[int]]",
        dict[str, set[int]],
        st.dictionaries(TEXT, st.sets(INTS, max_size=3), max_size=3),
    ),
    ("dict[str, bytes]", dict[str, bytes], st.dictionaries(TEXT, BINARY, max_size=3)),
    ("nested", Address, ADDRESSES),
    ("list[nested]", list[Address], st.lists(ADDRESSES, max_size=3)),
    ("dict[str, nested]", dict[str, Address], st.dictionaries(TEXT, ADDRESSES, max_size=3)),
    ("recursive", Node, NODES),
    ("int | None", int | None, st.none() | INTS),
    ("str | None", str | None, st.none() | TEXT),
    ("nested | None", Address | None, st.none() | ADDRESSES),
    ("list[int | None]", list[int | None], st.lists(st.none() | INTS, max_size=4)),
    ("Enum (str)", Color, st.sampled_from(Color)),
    ("Enum (int)", Priority, st.sampled_from(Priority)),
    ("str Enum", Kind, st.sampled_from(Kind)),
    ("IntEnum", Level, st.sampled_from(Level)),
    ("dict[Enum, int]", dict[Color, int], st.dictionaries(st.sampled_from(Color), INTS)),
    ("Literal", Literal["a", "b", 3], st.sampled_from(["a", "b", 3])),
    ("int | str", int | str, st.one_of(INTS, TEXT)),
    ("Decimal | str", Decimal | str, st.one_of(DECIMALS, TEXT)),
    ("bytes | bool", bytes | bool, st.one_of(BINARY, st.booleans())),
    ("datetime", datetime, DATETIMES),
    ("datetime | None", datetime | None, st.none() | DATETIMES),
    ("date", date, st.dates()),
    ("UUID", UUID, st.uuids()),
    ("Any", Any, JSON),
    ("dict[str, Any]", dict[str, Any], st.dictionaries(TEXT, JSON, max_size=4)),
]


def under_any(value: Any) -> Any:
    """What ``value`` reads back as where its type is ``Any``: numbers exactly as stored, an
    int when integral, else a Decimal (a float's shortest repr)."""
    if isinstance(value, float):
        number = Decimal(repr(value)) if value else Decimal(0)
        return int(number) if number == number.to_integral_value() else number
    if isinstance(value, list):
        return [under_any(v) for v in value]
    if isinstance(value, dict):
        return {k: under_any(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return {under_any(v) for v in value}
    return value


def _same(a: Any, b: Any) -> bool:
    """Equal, and Decimals (at any depth of lists, tuples and maps) have the same text."""
    if isinstance(a, Decimal):
        return isinstance(b, Decimal) and a == b and (not a or str(a) == str(b))
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict):
        return type(b) is dict and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


@pytest.mark.parametrize(("name", "tp", "values"), CASES, ids=[c[0] for c in CASES])
@FAST
@given(data=st.data())
def test_round_trip(
    name: str, tp: Any, values: st.SearchStrategy[Any], data: st.DataObject
) -> None:
    """``from_item(M, to_item(obj)) == obj`` for a one-field model, and the item is valid."""
    cls = single(tp)
    obj = cls(data.draw(KEY, label="pk"), data.draw(values, label="v"))
    item = to_item(obj)
    check_item(item)
    assert item["pk"] == {"S": obj.pk}
    back: Any = from_item(cls, item)
    expected = cls(obj.pk, under_any(obj.v)) if tp in (Any, dict[str, Any]) else obj
    assert back == expected
    assert _same(expected.v, back.v)


@FAST
@given(EVERYTHING)
def test_round_trip_everything(obj: Everything) -> None:
    """A model with one field of almost every kind round-trips and dumps to a valid item."""
    item = to_item(obj)
    check_item(item)
    assert item["PK"] == {"S": obj.pk} and item["SK"] == {"N": str(obj.sk)}
    assert from_item(Everything, item) == attrs.evolve(obj, extra=under_any(obj.extra))


# --- exact wire form of numbers ------------------------------------------------------------------


@FAST
@given(INTS)
def test_int_text_is_exact(value: int) -> None:
    """An int is stored as exactly ``str(value)``."""
    assert to_item(single(int)("k", value))["v"] == {"N": str(value)}


@FAST
@given(FLOATS)
def test_float_text_is_shortest_repr(value: float) -> None:
    """A float is stored as its shortest repr ("0" for zeros) and parses back to the same float."""
    text = to_item(single(float)("k", value))["v"]["N"]
    assert text == ("0" if value == 0 else repr(value))
    assert float(text) == value


@FAST
@given(DECIMALS)
def test_decimal_text_is_exact(value: Decimal) -> None:
    """A Decimal is stored as exactly ``str(value)`` ("0" for zeros)."""
    text = to_item(single(Decimal)("k", value))["v"]["N"]
    assert text == ("0" if not value else str(value))


def assert_stored_iff(tp: type, value: Any, fits: bool) -> None:
    """``value`` in a ``tp`` field is stored (as a valid item) exactly when it ``fits``;
    otherwise the ValidationError names the field and the value's type."""
    try:
        item = to_item(single(tp)("k", value))
    except ValidationError as exc:
        assert not fits
        assert exc.field == "v" and exc.value_type is tp
    else:
        assert fits
        check_item(item)


@FAST
@given(st.integers(-(10**140), 10**140))
def test_int_accepted_exactly_within_limits(value: int) -> None:
    """Any int is stored iff it has at most 38 significant digits and is below 1E+126."""
    digits = str(abs(value))
    fits = len(digits.rstrip("0")) <= 38 and len(digits) <= 126
    assert_stored_iff(int, value, fits)


@FAST
@given(
    st.builds(
        lambda sign, coefficient, exponent: Decimal(
            (sign, tuple(int(d) for d in str(coefficient)), exponent)
        ),
        st.integers(0, 1),
        st.integers(1, 10**45),
        st.integers(-180, 140),
    )
)
def test_decimal_accepted_exactly_within_limits(value: Decimal) -> None:
    """A Decimal is stored iff it has at most 38 significant digits within 1E-130..1E+126."""
    fits = significant_digits(value) <= 38 and -130 <= value.adjusted() <= 125
    assert_stored_iff(Decimal, value, fits)


@FAST
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_float_accepted_exactly_within_limits(value: float) -> None:
    """A float is stored iff it is zero or finite with magnitude in [1E-130, 1E+126)."""
    fits = value == 0 or 1e-130 <= abs(value) < 1e126
    assert_stored_iff(float, value, fits)


# --- datetimes and TTL -------------------------------------------------------------------------


def dumped_datetime(value: datetime) -> str:
    text: str = to_item(single(datetime)("k", value))["v"]["S"]
    return text


@FAST
@given(DATETIMES, DATETIMES)
def test_datetime_text_sorts_like_datetimes(a: datetime, b: datetime) -> None:
    """Stored datetime texts are fixed-width and compare as text like the datetimes compare."""
    ta, tb = dumped_datetime(a), dumped_datetime(b)
    assert len(ta) == len(tb) == len("2026-01-02T03:04:05.000000+00:00")
    assert ta.endswith("+00:00")
    assert (a < b) == (ta < tb)
    assert (a == b) == (ta == tb)


@FAST
@given(st.lists(DATETIMES, min_size=2, max_size=8))
def test_datetime_texts_sort_in_time_order(values: list[datetime]) -> None:
    """Sorting stored texts gives the datetimes in time order."""
    by_text = sorted(values, key=dumped_datetime)
    assert [v.timestamp() for v in by_text] == sorted(v.timestamp() for v in values)


@FAST
@given(st.integers(0, 2**33), OFFSETS)
def test_ttl_datetime_round_trip(seconds: int, tz: timezone) -> None:
    """A TTL datetime in any timezone (whole seconds) is stored as epoch seconds and loads back."""
    when = datetime.fromtimestamp(seconds, UTC).astimezone(tz)
    item = to_item(Session("s", when))
    assert item["expires"] == {"N": str(seconds)}
    assert from_item(Session, item) == Session("s", when)


@FAST
@given(st.none() | st.integers(0, 10**12))
def test_ttl_int_round_trip(seconds: int | None) -> None:
    """An int TTL is stored as N (left out when None) and loads back."""
    item = to_item(Counter("c", seconds))
    check_item(item)
    assert item.get("expires") == (None if seconds is None else {"N": str(seconds)})
    assert from_item(Counter, item) == Counter("c", seconds)


# --- the generated code's inline paths --------------------------------------------------------


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def hooked_converter() -> Any:
    """Hooks registered for str, int, Decimal, datetime, an Enum and a nested class."""
    conv = make_converter()
    conv.register_unstructure_hook(str, lambda v: {"S": "~" + v})
    conv.register_structure_hook(str, lambda av, _: av["S"][1:])
    conv.register_unstructure_hook(int, lambda v: {"S": f"#{v}"})
    conv.register_structure_hook(int, lambda av, _: int(av["S"][1:]))
    conv.register_unstructure_hook(Decimal, lambda v: {"S": str(v)})
    conv.register_structure_hook(Decimal, lambda av, _: Decimal(av["S"]))
    conv.register_unstructure_hook(datetime, lambda v: {"S": f"@{(v - EPOCH) // MICROSECOND}"})
    conv.register_structure_hook(datetime, lambda av, _: EPOCH + int(av["S"][1:]) * MICROSECOND)
    conv.register_unstructure_hook(Color, lambda v: {"S": v.name})
    conv.register_structure_hook(Color, lambda av, _: Color[av["S"]])
    conv.register_unstructure_hook(Spot, lambda v: {"S": f"{v.x},{v.y}"})
    conv.register_structure_hook(Spot, lambda av, _: Spot(*map(int, av["S"].split(","))))
    return conv


HOOKED = hooked_converter()


@FAST
@given(
    st.builds(
        Hooked,
        pk=TEXT,
        count=st.integers(),
        amount=DECIMALS,
        when=DATETIMES,
        color=st.sampled_from(Color),
        spot=st.builds(Spot, st.integers(), st.integers()),
        names=st.lists(TEXT, max_size=3),
        counts=st.lists(st.integers(), max_size=3),
        maybe=st.none() | st.integers(),
    )
)
def test_user_hooks_replace_inlined_codecs(obj: Hooked) -> None:
    """With hooks registered for the types the generated code writes inline, every value
    goes through the hooks, in lists and optionals too, and the item round-trips."""
    item = to_item(obj, converter=HOOKED)
    expected = {
        "pk": {"S": "~" + obj.pk},
        "count": {"S": f"#{obj.count}"},
        "amount": {"S": str(obj.amount)},
        "when": {"S": f"@{(obj.when - EPOCH) // MICROSECOND}"},
        "color": {"S": obj.color.name},
        "spot": {"S": f"{obj.spot.x},{obj.spot.y}"},
        "names": {"L": [{"S": "~" + n} for n in obj.names]},
        "counts": {"L": [{"S": f"#{n}"} for n in obj.counts]},
    }
    if obj.maybe is not None:
        expected["maybe"] = {"S": f"#{obj.maybe}"}
    assert item == expected
    back = from_item(Hooked, item, converter=HOOKED)
    assert back == obj
    assert _same(back.amount, obj.amount)


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


@st.composite
def int_spellings(draw: st.DrawFn) -> tuple[int, str]:
    """An int and one of the ways DynamoDB or another client may write it as N."""
    value = draw(st.integers(-(10**30), 10**30))
    zeros = len(str(abs(value))) - len(str(abs(value)).rstrip("0")) if value else 0
    shift = draw(st.integers(0, zeros))
    mantissa = value // 10**shift
    text = draw(st.sampled_from([str(value), f"{value}.0", f"{mantissa}E+{shift}"]))
    return value, text


@st.composite
def datetime_spellings(draw: st.DrawFn) -> tuple[datetime, str]:
    """An aware UTC datetime and text that another client may have stored for it."""
    value = draw(DATETIMES).astimezone(UTC)
    zone = draw(OFFSETS)
    local = value.astimezone(zone)
    text = draw(
        st.sampled_from(
            [
                local.isoformat(),
                value.replace(tzinfo=None).isoformat() + "Z",
                value.replace(tzinfo=None).isoformat(),
            ]
        )
    )
    return value, text


@FAST
@given(
    int_spellings(),
    int_spellings(),
    st.lists(int_spellings(), max_size=3),
    datetime_spellings(),
    st.lists(datetime_spellings(), max_size=3),
)
def test_other_stored_spellings_load_anywhere_in_the_item(
    count: tuple[int, str],
    inner: tuple[int, str],
    counts: list[tuple[int, str]],
    when: tuple[datetime, str],
    whens: list[tuple[datetime, str]],
) -> None:
    """Numbers in exponent or decimal form and datetimes in other offsets, with "Z" or
    without an offset load as the codecs read them, at the top, nested and in lists."""
    item = {
        "pk": {"S": "p"},
        "count": {"N": count[1]},
        "stamp": {"M": {"when": {"S": when[1]}, "count": {"N": inner[1]}}},
        "counts": {"L": [{"N": text} for _, text in counts]},
        "whens": {"L": [{"S": text} for _, text in whens]},
    }
    back = from_item(Stamps, item)
    assert back == Stamps(
        "p", count[0], Stamp(when[0], inner[0]), [v for v, _ in counts], [v for v, _ in whens]
    )
    assert all(w.tzinfo is UTC for w in [back.stamp.when, *back.whens])


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@FAST
@given(st.text(st.characters(exclude_categories=()), max_size=6))
def test_text_is_stored_iff_it_is_valid_utf8(text: str) -> None:
    """A str (a value, a map key, a set member) is stored iff it encodes as UTF-8: a lone
    surrogate is refused by name before anything is sent, never a UnicodeEncodeError later."""
    for tp, value in ((str, text), (dict[str, int], {text: 1}), (set[str], {text})):
        obj = single(tp)("k", value)
        if _is_utf8(text):
            assert from_item(type(obj), to_item(obj)) == obj
        else:
            with pytest.raises(ValidationError, match="lone surrogate"):
                to_item(obj)
