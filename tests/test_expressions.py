"""Expressions compiled against a model: exact texts, placeholders for every name and value,
values converted by the field's type, and clear errors. Pure: no engine involved."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from models import Order, Thing

from dynamorm_async import ValidationError, attr, default_converter, model_info, size
from dynamorm_async._expr.compile import ExpressionContext
from dynamorm_async._expr.conditions import Condition, parse_path
from dynamorm_async._expr.update import UpdateBuilder

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def compile_for(cls: type, condition: Condition) -> tuple[str, dict[str, str], dict[str, Any]]:
    ctx = ExpressionContext(model_info(cls), default_converter())
    return ctx.condition(condition), ctx.names, ctx.values


def update_for(cls: type, **actions: Any) -> tuple[str, dict[str, str], dict[str, Any]]:
    ctx = ExpressionContext(model_info(cls), default_converter())
    builder = UpdateBuilder(ctx)
    for path, value in actions.get("set", {}).items():
        builder.set(path, value)
    for path, value in actions.get("add", {}).items():
        builder.add(path, value)
    for path, value in actions.get("delete", {}).items():
        builder.delete(path, value)
    for path in actions.get("remove", ()):
        builder.remove(path)
    for path, value in actions.get("append", {}).items():
        builder.append(path, value)
    for path, value in actions.get("prepend", {}).items():
        builder.append(path, value, prepend=True)
    for path, value in actions.get("set_if_not_exists", {}).items():
        builder.set_if_not_exists(path, value)
    return builder.expression(), ctx.names, ctx.values


@pytest.mark.parametrize(
    ("condition", "text", "values"),
    [
        (attr("status") == "open", "#n0 = :v0", [{"S": "open"}]),
        (attr("status") != "open", "#n0 <> :v0", [{"S": "open"}]),
        (attr("total") < 5, "#n0 < :v0", [{"N": "5"}]),
        (attr("total") <= 5, "#n0 <= :v0", [{"N": "5"}]),
        (attr("total") > 5, "#n0 > :v0", [{"N": "5"}]),
        (attr("total") >= 5, "#n0 >= :v0", [{"N": "5"}]),
        (5 < attr("total"), "#n0 > :v0", [{"N": "5"}]),  # noqa: SIM300 - reflected
        (attr("total").between(1, 9), "#n0 BETWEEN :v0 AND :v1", [{"N": "1"}, {"N": "9"}]),
        (attr("status").begins_with("op"), "begins_with(#n0, :v0)", [{"S": "op"}]),
        (attr("tags").contains("red"), "contains(#n0, :v0)", [{"S": "red"}]),
        (attr("lines").contains("a"), "contains(#n0, :v0)", [{"S": "a"}]),
        (attr("status").is_in(["a", "b"]), "#n0 IN (:v0, :v1)", [{"S": "a"}, {"S": "b"}]),
        (attr("note").exists(), "attribute_exists(#n0)", []),
        (attr("note").not_exists(), "attribute_not_exists(#n0)", []),
        (attr("tags").attribute_type("SS"), "attribute_type(#n0, :v0)", [{"S": "SS"}]),
        (size(attr("tags")) > 2, "size(#n0) > :v0", [{"N": "2"}]),
        (attr("total") == attr("price"), "#n0 = #n1", []),
        (attr("address.city") == "Paris", "#n0.#n1 = :v0", [{"S": "Paris"}]),
        (attr("lines[2]") == "c", "#n0[2] = :v0", [{"S": "c"}]),
        (attr("extra.any.thing") == 1, "#n0.#n1.#n2 = :v0", [{"N": "1"}]),
        (~(attr("status") == "x"), "NOT (#n0 = :v0)", [{"S": "x"}]),
    ],
)
def test_each_operator_compiles_to_placeholders(
    condition: Condition, text: str, values: list[Any]
) -> None:
    """Each operator's text uses only placeholders; values are dumped by the field type."""
    compiled, _, compiled_values = compile_for(Order, condition)
    assert compiled == text
    assert list(compiled_values.values()) == values


def test_and_or_group_without_redundant_parentheses() -> None:
    """DynamoDB refuses ``((a))``: groups are wrapped exactly once, flat runs not at all."""
    a, b, c = attr("total") == 1, attr("total") == 2, attr("total") == 3
    assert compile_for(Order, a & b & c)[0] == "#n0 = :v0 AND #n0 = :v1 AND #n0 = :v2"
    assert compile_for(Order, (a | b) & c)[0] == "(#n0 = :v0 OR #n0 = :v1) AND #n0 = :v2"
    assert compile_for(Order, a | (b & c))[0] == "#n0 = :v0 OR (#n0 = :v1 AND #n0 = :v2)"
    assert compile_for(Order, ~(a & b))[0] == "NOT (#n0 = :v0 AND #n0 = :v1)"


def test_one_name_gets_one_placeholder_and_stored_names_are_used() -> None:
    """A name used twice shares its placeholder; Python names map to stored names."""
    text, names, _ = compile_for(
        Thing, (attr("first_name") == "a") & (attr("first.name") != "b") & (attr("size") > 1)
    )
    assert text == "#n0 = :v0 AND #n0 <> :v1 AND #n1 > :v2"
    assert names == {"#n0": "first.name", "#n1": "size"}


def test_values_are_converted_by_the_declared_type() -> None:
    """datetime -> the stored ISO text, TTL -> epoch seconds, Decimal exactly, Enum-free
    str, set element type for contains."""
    _, _, values = compile_for(
        Order,
        (attr("placed_at") == T0)
        & (attr("expires_at") > T0 + timedelta(seconds=1))
        & (attr("price") == Decimal("1.10")),
    )
    assert list(values.values()) == [
        {"S": "2026-03-01T12:00:00.000000+00:00"},
        {"N": str(int(T0.timestamp()) + 1)},
        {"N": "1.10"},
    ]


@given(name=st.text(min_size=1, max_size=40), value=st.text(max_size=60))
def test_no_name_or_value_ever_reaches_the_expression_text(name: str, value: str) -> None:
    """Whatever a caller passes as a map key or a value, the expression text holds only
    placeholders and operators; the name and value travel in the placeholder maps."""
    condition = (attr("extra", name) == value) | attr("extra", name).begins_with(value)
    text, names, values = compile_for(Order, condition)
    assert re.fullmatch(r"[#:nv0-9 .()=|a-zA-Z_,]+", text)
    assert text == "#n0.#n1 = :v0 OR begins_with(#n0.#n1, :v1)"
    assert names == {"#n0": "extra", "#n1": name}
    assert values == {":v0": {"S": value}, ":v1": {"S": value}}


segment_names = st.text(
    alphabet=st.characters(blacklist_characters=".[]", blacklist_categories=("Cs",)), min_size=1
)


@given(
    first=segment_names,
    rest=st.lists(st.one_of(segment_names, st.integers(0, 10_000)), max_size=6),
)
def test_path_text_parses_back_to_its_segments(first: str, rest: list[str | int]) -> None:
    """``a.b[3].c`` parses back into the segments it was written from."""
    text = first + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in rest)
    assert parse_path(text) == (first, *rest)


@pytest.mark.parametrize("text", ["", ".a", "a.", "a..b", "[1]", "a[x]", "a[1", "a]"])
def test_malformed_paths_do_not_parse(text: str) -> None:
    """Paths with empty names or broken brackets are refused."""
    assert parse_path(text) is None


def test_a_field_whose_stored_name_has_a_dot_is_one_attribute() -> None:
    """``attr("first.name")`` names the field stored as "first.name", not a nested path."""
    _, names, _ = compile_for(Thing, attr("first.name") == "x")
    assert names == {"#n0": "first.name"}


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (attr("nope") == 1, "has no field 'nope'"),
        (attr("address.nope") == 1, "Address has no field 'nope'"),
        (attr("status[0]") == 1, "has no elements"),
        (attr("total.x") == 1, "has no attribute 'x'"),
        (attr("total") == "x", "Order.total"),
        (attr("placed_at") == datetime(2026, 1, 1), "placed_at"),
        (attr("status").is_in([]), "1 to 100"),
        (attr("status").attribute_type("X"), "attribute_type"),
        (attr("status").begins_with(3), "begins_with"),
        (size(attr("tags")) > "x", "size(tags)"),
        (attr("a..b") == 1, "neither a field nor a path"),
    ],
)
def test_bad_expressions_name_what_is_wrong(condition: Condition, message: str) -> None:
    """Every mistake is a ValidationError naming the model and the attribute."""
    with pytest.raises(ValidationError, match=re.escape(message)) as caught:
        compile_for(Order, condition)
    assert caught.value.model is Order


@pytest.mark.parametrize("bad", [(), ("",), (True,), (1,), (None,)])
def test_attr_refuses_names_that_are_not_names(bad: tuple[Any, ...]) -> None:
    """attr() needs non-empty names (and list indexes after the first)."""
    with pytest.raises(ValidationError, match="attr"):
        attr(*bad)


def test_conditions_combine_only_with_conditions() -> None:
    """``&``/``|`` with something else, or a condition used as a bool, are refused."""
    with pytest.raises(ValidationError, match="combine"):
        (attr("a") == 1) & "b = 2"  # type: ignore[operator]
    with pytest.raises(TypeError, match="truth value"):
        bool(attr("a") == 1)
    with pytest.raises(ValidationError, match="size"):
        size("tags")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        hash(attr("a"))


def test_repr_shows_the_expression() -> None:
    """Conditions print as they were written, for logs and test failures."""
    condition = (attr("a") == 1) & ~attr("b").exists() | size(attr("c")).between(1, 2)
    assert repr(condition) == (
        "((attr('a') == 1 & ~attr('b').exists()) | size(attr('c')).between(1, 2))"
    )


# -- update expressions ----------------------------------------------------------------------


def test_update_actions_render_in_dynamodb_clause_order() -> None:
    """SET, REMOVE, ADD and DELETE clauses, each action with placeholders."""
    text, names, values = update_for(
        Order,
        set={"status": "paid", "address.city": "Rome"},
        remove=["note"],
        add={"total": 2},
        delete={"tags": {"old"}},
        append={"lines": ["z"]},
    )
    assert text == (
        "SET #n0 = :v0, #n1.#n2 = :v1, #n6 = list_append(if_not_exists(#n6, :v5), :v4) "
        "REMOVE #n5 ADD #n3 :v2 DELETE #n4 :v3"
    )
    assert names == {
        "#n0": "status",
        "#n1": "address",
        "#n2": "city",
        "#n3": "total",
        "#n4": "tags",
        "#n5": "note",
        "#n6": "lines",
    }
    assert values[":v4"] == {"L": [{"S": "z"}]} and values[":v5"] == {"L": []}


def test_update_prepend_set_if_not_exists_and_arithmetic() -> None:
    """prepend puts the new list first; set_if_not_exists and attr +/- n are SET forms."""
    text, _, _ = update_for(
        Order,
        prepend={"lines": ["a"]},
        set_if_not_exists={"note": "n"},
        set={"total": attr("total") + 1},
    )
    assert text == (
        "SET #n0 = #n0 + :v0, #n1 = list_append(:v1, if_not_exists(#n1, :v2)), "
        "#n2 = if_not_exists(#n2, :v3)"
    )


def test_update_none_and_empty_sets_become_remove() -> None:
    """None on an optional field and an empty set are stored as absent: REMOVE."""
    text, _, values = update_for(Order, set={"note": None, "tags": set()})
    assert text == "REMOVE #n0, #n1" and values == {}


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        ({"set": {"customer_id": "x"}}, "key attribute"),
        ({"set": {"version": 3}}, "version attribute"),
        ({"set": {"note": "a"}, "remove": ["note"]}, "twice"),
        ({"set": {"address": None, "address.city": "x"}}, "twice"),
        ({"add": {"status": 1}}, "numbers and sets"),
        ({"add": {"total": True}}, "number"),
        ({"add": {"tags": set()}}, "non-empty set"),
        ({"delete": {"total": {1}}}, "set only"),
        ({"append": {"status": ["x"]}}, "lists only"),
        ({"append": {"lines": "abc"}}, "list of elements"),
        ({"set": {"total": "many"}}, "Order.total"),
    ],
)
def test_bad_updates_name_what_is_wrong(actions: dict[str, Any], message: str) -> None:
    """Every refused update says which attribute and why."""
    with pytest.raises(ValidationError, match=re.escape(message)):
        update_for(Order, **actions)
