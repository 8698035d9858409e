"""Key templates of single-table entities: the range compile is exact (checked against a
simulator of DynamoDB: keys rendered by the template, the ``KeyRange`` applied by code point
order, i.e. UTF-8 byte order, then the ``exact`` filter), text order is value order for
ordered slots, and every value or template that could break a key is refused."""

from __future__ import annotations

import contextlib
import enum
import operator
import uuid
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dynamorm_async import Key, ModelError, Table, ValidationError, attr
from dynamorm_async._expr.conditions import BeginsWith, Between, Compare, Condition, Path
from dynamorm_async._model.models import fields_of
from dynamorm_async._single_table.templates import KeyRange, Slot, Template, successor

UTC = timezone.utc
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
U0 = uuid.UUID(int=0)


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@attrs.define
class Row:
    placed_at: datetime = T0
    seq: int = 0
    day: date = date(2024, 1, 1)
    uid: uuid.UUID = U0
    name: str = "n"
    tag: str = "t"
    n: int = 0
    color: Color = Color.RED
    maybe: str | None = None
    ratio: float = 0.0
    blob: bytes = b""
    tags: list[str] = attrs.Factory(list)


FIELDS = {f.name: f for f in fields_of(Row)}


def tpl(text: str, role: str = "key range") -> Template:
    return Template(text, Row, FIELDS, role)


# Safe str characters: below and above '#', multi-byte UTF-8, the highest code point.
SAFE = ' !"#$0ab~\xe9\u20ac\U0001f600\U0010ffff'
TZS = st.one_of(
    st.just(UTC), st.integers(-1439, 1439).map(lambda m: timezone(timedelta(minutes=m)))
)
RANGE_TEMPLATES = [
    tpl(text)
    for text in (
        "ORDER#{placed_at}#{seq:06d}",  # datetime then padded int (last)
        "{seq:06d}#{day}",  # no leading literal: an empty prefix
        "D#{day}#{uid}#{name}",  # date, UUID in the middle, str at the end
        "A#{name}#{seq:04d}",  # str in the middle
        "X#{tag}!{name}#END",  # str separated by '!', literal text after the last slot
        "T#{tag}#{name}",  # str in the middle, then str at the end
        "U#{uid}",
        "{placed_at}",
    )
]
OPS = ["none", "==", "<", "<=", ">", ">=", "between", "begins_with"]
OPERATORS = (operator.eq, operator.lt, operator.le, operator.gt, operator.ge)
COMPARE: dict[str, Callable[[Any, Any], Any]] = dict(zip(OPS[1:6], OPERATORS, strict=True))


def values_of(slot: Slot) -> st.SearchStrategy[Any]:
    """Valid values for a slot (str ones never hold the separator that follows the slot)."""
    if slot.kind == "datetime":
        return st.datetimes(datetime(1990, 1, 1), datetime(2100, 1, 1), timezones=TZS)
    if slot.kind == "int":
        assert slot.width is not None
        return st.one_of(st.integers(0, 12), st.integers(0, 10**slot.width - 1))
    if slot.kind == "date":
        return st.dates()
    if slot.kind == "uuid":
        return st.uuids()
    return st.text([c for c in SAFE if c != slot.separator], min_size=1, max_size=3)


def pool_of(slot: Slot) -> st.SearchStrategy[list[Any]]:
    """A few values for a slot; str ones closed under prefixes ("a", "ab", "ab!")."""
    values = st.lists(values_of(slot), min_size=1, max_size=4)
    if slot.kind != "str":
        return values
    return values.map(lambda vs: sorted({v[:i] for v in vs for i in range(1, len(v) + 1)}))


def operands(slot: Slot, pool: list[Any]) -> st.SearchStrategy[Any]:
    """Values of the pool (bounds equal to stored values) or fresh ones."""
    options = [st.sampled_from(pool), values_of(slot)]
    if slot.kind == "datetime":  # the same instant in another timezone
        options.append(st.sampled_from(pool).flatmap(lambda v: TZS.map(v.astimezone)))
    return st.one_of(options)


def holds(condition: Condition, values: Mapping[str, Any]) -> bool:
    """A condition evaluated in Python on plain field values."""
    if isinstance(condition, Compare):
        assert isinstance(condition.left, Path) and condition.left.text is not None
        return bool(COMPARE[condition.op](values[condition.left.text], condition.right))
    if isinstance(condition, Between):
        assert isinstance(condition.path, Path) and condition.path.text is not None
        return bool(condition.low <= values[condition.path.text] <= condition.high)
    if isinstance(condition, BeginsWith):
        assert condition.path.text is not None
        value = values[condition.path.text]
        return isinstance(value, str) and value.startswith(condition.prefix)
    raise AssertionError(f"unexpected condition {condition!r}")


def in_key_range(key_range: KeyRange, sort_key: str) -> bool:
    """The sort key condition as DynamoDB applies it."""
    low, high = key_range.low, key_range.high
    assert low != "" and high != "", "DynamoDB refuses an empty key value"
    if key_range.kind is None:
        assert low is None and high is None
        return True
    if key_range.kind in ("eq", "begins"):
        assert low is not None and high is None
        return sort_key == low if key_range.kind == "eq" else sort_key.startswith(low)
    assert key_range.kind == "between" and (low is not None or high is not None)
    assert low is None or high is None or low <= high, "DynamoDB refuses BETWEEN high < low"
    return (low is None or low <= sort_key) and (high is None or sort_key <= high)


def key(template: Template, values: Mapping[str, Any]) -> str:
    text = template.render(values)
    assert text is not None
    return text


def build_condition(op: str, slot: Slot, draw: Callable[[Any], Any]) -> Condition:
    path = attr(slot.field)
    if op == "between":
        return path.between(draw(slot), draw(slot))
    if op == "begins_with":
        return path.begins_with(draw(slot))
    condition: Condition = COMPARE[op](path, draw(slot))
    return condition


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_range_compile_selects_exactly_the_matching_items(data: st.DataObject) -> None:
    template = data.draw(st.sampled_from(RANGE_TEMPLATES), "template")
    slots = template.slots
    pools = {s.field: data.draw(pool_of(s), s.field) for s in slots}
    choice = st.fixed_dictionaries({f: st.sampled_from(p) for f, p in pools.items()})
    items = [Row(**d) for d in data.draw(st.lists(choice, max_size=12), "items")]
    values = [{f: getattr(item, f) for f in template.fields} for item in items]
    keys = [key(template, v) for v in values]
    seen: dict[str, tuple[Any, ...]] = {}  # distinct field values never share a sort key
    for text, v in zip(keys, values, strict=True):
        assert seen.setdefault(text, tuple(v.values())) == tuple(v.values())

    def draw(slot: Slot) -> Any:
        return data.draw(operands(slot, pools[slot.field]), slot.field)

    for count in range(len(slots) + 1):  # fixed leading fields, then every operator
        for op in OPS if count < len(slots) else ["none"]:
            fixed = {s.field: draw(s) for s in slots[:count]}
            condition = None if op == "none" else build_condition(op, slots[count], draw)
            slot = slots[min(count, len(slots) - 1)]
            reversed_between = isinstance(condition, Between) and condition.low > condition.high
            if (op == "begins_with" and slot.kind != "str") or reversed_between:
                with pytest.raises(ValidationError):
                    template.range_bounds(fixed, condition)
                continue
            key_range = template.range_bounds(fixed, condition)
            got = [
                i
                for i, v in enumerate(values)
                if in_key_range(key_range, keys[i])
                and (key_range.exact is None or holds(key_range.exact, v))
            ]
            wanted = [
                i
                for i, v in enumerate(values)
                if all(v[f] == x for f, x in fixed.items())
                and (condition is None or holds(condition, v))
            ]
            assert got == wanted, (fixed, condition, key_range, keys)


# --- text order is value order --------------------------------------------------------------

AWARE = st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30), timezones=TZS)
ORDERED = {
    "{placed_at}": AWARE,
    "{seq:06d}": st.integers(0, 999_999),
    "{day}": st.dates(),
    "{uid}": st.uuids(),
}


@pytest.mark.parametrize("text", list(ORDERED))
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_text_order_is_value_order(text: str, data: st.DataObject) -> None:
    template = tpl(f"P#{text}#S")
    slot = template.slots[0]
    a: Any = data.draw(ORDERED[text])
    b: Any = data.draw(st.one_of(ORDERED[text], st.just(a)))
    if isinstance(a, datetime) and data.draw(st.booleans()):
        b = a.astimezone(data.draw(TZS))  # the same instant elsewhere: the same text
    ta, tb = template.format_value(slot, a), template.format_value(slot, b)
    assert len(ta) == len(tb)
    assert (ta < tb, ta == tb, ta > tb) == (a < b, a == b, a > b)


@given(st.datetimes())
def test_naive_datetimes_are_refused(value: datetime) -> None:
    template = tpl("ORDER#{placed_at}")
    with pytest.raises(ValidationError, match=r"Row\.placed_at.*naive"):
        template.render({"placed_at": value})


EDGES = st.one_of(  # within a day of the ends of datetime's range
    st.datetimes(max_value=datetime(1, 1, 2), timezones=TZS),
    st.datetimes(min_value=datetime(9999, 12, 30), timezones=TZS),
)


@example(datetime(1, 1, 1, tzinfo=timezone(timedelta(minutes=1))))
@given(st.one_of(EDGES, st.datetimes(timezones=TZS)))
def test_every_aware_datetime_formats_or_is_refused(value: datetime) -> None:
    template = tpl("ORDER#{placed_at}")
    with contextlib.suppress(ValidationError):
        template.render({"placed_at": value})


DIGIT_SEPARATED = tpl("N{n}1{seq}")


@example((1, 10))
@given(st.tuples(st.integers(0, 30), st.integers(0, 30)))
def test_unpadded_int_followed_by_a_digit_keeps_keys_apart(values: tuple[int, int]) -> None:
    """'N{n}1{seq}' would render n=1, seq=10 and n=11, seq=0 both as 'N1110': a value
    holding the separator that follows it is refused, so two keys never collide."""
    try:
        text = key(DIGIT_SEPARATED, {"n": values[0], "seq": values[1]})
    except ValidationError as exc:
        assert exc.field == "n" and "1" in str(values[0])
        return
    assert "1" not in str(values[0])
    assert text == f"N{values[0]}1{values[1]}"


# --- refusals ---------------------------------------------------------------------------------

MID = "A#{name}#{seq:04d}"
DT = "ORDER#{placed_at}#{seq:06d}"


def render(**values: Any) -> Callable[[Template], Any]:
    return lambda t: t.render(values)


def bounds(fixed: dict[str, Any], condition: Condition) -> Callable[[Template], Any]:
    return lambda t: t.range_bounds(fixed, condition)


@pytest.mark.parametrize(
    ("text", "act", "field"),
    [
        (MID, render(name="", seq=1), "name"),
        (MID, bounds({}, attr("name") == ""), "name"),
        (MID, render(name="a#b", seq=1), "name"),
        (MID, bounds({}, attr("name") == "a#"), "name"),
        (MID, bounds({}, attr("name").begins_with("a#")), "name"),
        ("X#{tag}!{name}#END", render(tag="a!", name="b"), "tag"),
        ("X#{tag}!{name}#END", render(tag="a", name="#"), "name"),
        (MID, render(name="a", seq=-1), "seq"),
        (MID, render(name="a", seq=10_000), "seq"),
        (MID, bounds({"name": "a"}, attr("seq") < 10_000), "seq"),
        (MID, bounds({"name": "a"}, attr("seq") >= -1), "seq"),
        (MID, render(name="a", seq=True), "seq"),
        ("{seq:06d}#{day}", bounds({}, attr("seq") == False), "seq"),
        (MID, render(name="a", seq="5"), "seq"),
        (MID, render(name="a", seq=1.0), "seq"),
        (MID, render(name=5, seq=1), "name"),
        (DT, render(placed_at=date(2024, 1, 1), seq=1), "placed_at"),
        ("D#{day}", render(day=T0), "day"),
        ("U#{uid}", render(uid=str(U0)), "uid"),
        ("C#{color}", render(color="green"), "color"),
        ("N#{n}#{seq:04d}", bounds({}, attr("n") < 5), "n"),
        ("N#{n}", bounds({}, attr("n") > 5), "n"),
        ("N#{n}", bounds({}, attr("n") >= 5), "n"),
        ("N#{n}", bounds({}, attr("n").between(1, 5)), "n"),
        ("C#{color}", bounds({}, attr("color") < Color.RED), "color"),
        ("C#{color}", bounds({}, attr("color").between(Color.BLUE, Color.RED)), "color"),
        (MID, bounds({"name": "a"}, attr("seq").begins_with(1)), "seq"),
        (DT, bounds({}, attr("placed_at").begins_with(T0)), "placed_at"),
        ("D#{day}", bounds({}, attr("day").begins_with(date(2024, 1, 1))), "day"),
        ("U#{uid}", bounds({}, attr("uid").begins_with(U0)), "uid"),
        ("N#{n}", bounds({}, attr("n").begins_with(1)), "n"),
        ("C#{color}", bounds({}, attr("color").begins_with("r")), "color"),
        (DT, bounds({}, attr("seq") > 1), "seq"),
        (DT, bounds({"placed_at": T0}, attr("placed_at") > T0), "placed_at"),
        (DT, bounds({}, attr("name") == "a"), "name"),
        (DT, bounds({"seq": 1}, attr("placed_at") > T0), "seq"),
        ("D#{day}#{uid}#{name}", bounds({"uid": U0}, attr("day") > date(2000, 1, 1)), "uid"),
        (MID, bounds({"name": "a"}, attr("seq").between(5, 3)), "seq"),
        (DT, bounds({}, attr("placed_at").between(T0, T0 - timedelta(1))), "placed_at"),
        ("T#{tag}#{name}", bounds({"tag": "a"}, attr("name").between("b", "a")), "name"),
        (MID, bounds({}, attr("name").between("b", "a")), "name"),
    ],
)
def test_refusals_name_the_field(text: str, act: Callable[[Template], Any], field: str) -> None:
    template = tpl(text)
    with pytest.raises(ValidationError) as info:
        act(template)
    message = str(info.value)
    assert info.value.field == field or f"Row.{field} " in message or f"{field!r}" in message


@given(st.text(SAFE, min_size=0, max_size=3), st.text(SAFE, min_size=0, max_size=3))
def test_a_str_holding_its_separator_is_refused(head: str, tail: str) -> None:
    template = tpl(MID)
    with pytest.raises(ValidationError, match="separator") as info:
        template.render({"name": head + "#" + tail, "seq": 1})
    assert info.value.field == "name"
    assert tpl("A#{seq:04d}#{name}").render({"name": head + "#" + tail, "seq": 1})  # at the end


@pytest.mark.parametrize(
    ("text", "mentions"),
    [
        ("A#{nope}", "nope"),
        ("A#{}", "''"),
        ("{name}{seq:04d}", "separator"),
        ("A#{seq:x}", "seq:x"),
        ("A#{seq:8d}", "seq:8d"),
        ("A#{seq:06}", "seq:06"),
        ("A#{seq:_>4}", "seq:_>4"),
        ("A#{name:04d}", "name:04d"),
        ("A#{placed_at:%Y}", "placed_at:%Y"),
        ("A#{name!r}", "name!r"),
        ("A#{ratio}", "ratio"),
        ("A#{blob}", "blob"),
        ("A#{tags}", "tags"),
        ("A#{maybe}", "maybe"),
        ("A#{name", "A#{name"),
    ],
)
def test_bad_templates_are_refused_at_definition(text: str, mentions: str) -> None:
    with pytest.raises(ModelError) as info:
        tpl(text)
    assert mentions in str(info.value) and info.value.model is Row


def test_entities_check_their_templates_at_definition() -> None:
    app = Table("single_table_templates", hash_key="pk", range_key="sk")
    with pytest.raises(ModelError, match="maybe"):

        @app.entity(key=Key("U#{maybe}", "X"))
        @attrs.define
        class Bad:
            maybe: str | None

    @app.entity(key=Key("U#{name}", DT))
    @attrs.define
    class Order:
        name: str
        placed_at: datetime
        seq: int

    entity = Order.__dynamorm__.entity  # type: ignore[attr-defined]
    assert entity.range.render({"placed_at": T0, "seq": 7}) == tpl(DT).render(
        {"placed_at": T0.astimezone(timezone(timedelta(hours=5))), "seq": 7}
    )
    # An index template takes an Optional field: None keeps the item out of the index.
    assert tpl("G#{maybe}", "index 'gsi1' range").render({"maybe": None}) is None


# --- successor --------------------------------------------------------------------------------

CHARS = st.one_of(st.characters(exclude_categories=["Cs"]), st.sampled_from("\ud7ff\U0010ffff\x00"))


@settings(max_examples=300)
@given(st.text(CHARS, min_size=1), st.text(CHARS), st.data())
def test_successor_is_the_least_string_above_the_prefix(
    t: str, rest: str, data: st.DataObject
) -> None:
    nxt = successor(t)
    if nxt is None:
        assert set(t) == {"\U0010ffff"}
        return
    assert not any(0xD800 <= ord(c) <= 0xDFFF for c in nxt)
    assert t < nxt and t + rest < nxt
    # Least: any other string above t that does not start with t is at least the successor.
    cut = data.draw(st.integers(0, len(t) - 1))
    other = t[:cut] + data.draw(CHARS) + data.draw(st.text(CHARS))
    if other > t and not other.startswith(t):
        assert other >= nxt


def test_successor_examples() -> None:
    assert successor("") is None
    assert successor("a") == "b"
    assert successor("A#") == "A$"
    assert successor("a\U0010ffff") == "b"
    assert successor("\U0010ffff\U0010ffff") is None
    assert successor("x\ud7ff") == "x\ue000"
