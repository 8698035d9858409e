"""Value codecs: one Python type <-> one DynamoDB AttributeValue (``{"S": ...}``, ``{"N": ...}``).

Dump functions take a value and return an AttributeValue; load functions take an
AttributeValue and the target type (cattrs' structure-hook signature). Both raise ``Problem``
with a message and a path, which the converter turns into a ``ValidationError`` or
``DeserializationError`` naming the model and field.

DynamoDB's rules that shape these codecs:

- N is a decimal string of at most 38 significant digits, magnitude from 1E-130 to below
  1E+126; NaN and infinities do not exist.
- Sets (SS, NS, BS) cannot be empty and cannot hold duplicates.
- Keys cannot be empty strings or empty binary; other strings and binaries can.
"""

from __future__ import annotations

import base64
import binascii
import enum
import math
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn

AttributeValue = dict[str, Any]
Dump = Callable[[Any], AttributeValue]
Load = Callable[[AttributeValue, Any], Any]

NULL: AttributeValue = {"NULL": True}
_MAX_INT = 10**38
_UTC = timezone.utc


class Problem(Exception):
    """A value that cannot be converted; ``path`` locates it inside the item."""

    def __init__(self, message: str, value_type: type | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.value_type = value_type
        self.path: list[str] = []

    def within(self, step: str) -> Problem:
        """Prefix the path with ``step`` (a field name or ``[index]``/``[key]``)."""
        self.path.insert(0, step)
        return self

    def where(self) -> str:
        out = ""
        for step in self.path:
            out += step if step.startswith("[") or not out else "." + step
        return out


def type_error(expected: str, value: Any) -> NoReturn:
    raise Problem(
        f"expected {expected}, got {type(value).__qualname__} {_short(value)}", type(value)
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def tag_of(av: Any) -> str:
    if isinstance(av, dict) and len(av) == 1:
        return str(next(iter(av)))
    return repr(av)[:40]


def wrong_tag(expected: str, av: Any) -> NoReturn:
    raise Problem(f"expected a stored {expected} value, found {tag_of(av)}")


# --- numbers -----------------------------------------------------------------------------


def number_text(value: int | float | Decimal) -> str:
    """The N string for a number, checked against DynamoDB's limits."""
    if value.__class__ is int:
        if -_MAX_INT < value < _MAX_INT:  # the common case needs no further check
            return str(value)
        return _big_int_text(value)
    if value.__class__ is float and 1e-130 <= abs(value) < 1e126:
        return repr(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Problem(f"{value!r} cannot be stored: DynamoDB numbers are finite", float)
        if value == 0:
            return "0"
        if not 1e-130 <= abs(value) < 1e126:
            raise Problem(f"{value!r} is outside DynamoDB's range (1E-130 to 1E+126)", float)
        return repr(value)
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, bool):
        type_error("a number", value)
    if isinstance(value, int):
        return number_text(int(value))
    type_error("a number", value)


def _big_int_text(value: int) -> str:
    try:
        text = str(value)
    except ValueError:  # beyond Python's int-to-str digit limit
        raise Problem(
            "integer too large for DynamoDB (at most 38 significant digits)", int
        ) from None
    digits = text.lstrip("-")
    if len(digits.rstrip("0")) > 38 or len(digits) > 126:
        raise Problem(
            f"{_short(value)} has more than 38 significant digits or is beyond 1E+126; "
            "DynamoDB cannot store it",
            int,
        )
    return text


def _decimal_text(value: Decimal) -> str:
    if not value.is_finite():
        raise Problem(f"{value!r} cannot be stored: DynamoDB numbers are finite", Decimal)
    if not value:
        return "0"
    text = str(value)
    if len(text) <= 38 and "E" not in text:
        return text  # at most 38 digits, no exponent: within every limit
    significant = len("".join(map(str, value.as_tuple().digits)).strip("0"))
    if significant > 38:
        raise Problem(f"{value} has more than 38 significant digits", Decimal)
    if not -130 <= value.adjusted() <= 125:
        raise Problem(f"{value} is outside DynamoDB's range (1E-130 to 1E+126)", Decimal)
    return text


def _number_of(av: Any) -> str:
    try:
        text = av["N"]
    except (KeyError, TypeError):
        wrong_tag("N (number)", av)
    if not isinstance(text, str):
        wrong_tag("N (number)", av)
    return text


def dump_int(value: Any) -> AttributeValue:
    if value.__class__ is int:
        return {"N": str(value) if -_MAX_INT < value < _MAX_INT else _big_int_text(value)}
    if isinstance(value, enum.Enum):
        return dump_any(value.value)
    if isinstance(value, int) and not isinstance(value, bool):
        return {"N": number_text(int(value))}
    type_error("int", value)


def load_int(av: AttributeValue, tp: Any = int) -> Any:
    try:
        number = int(av["N"])
    except (KeyError, TypeError):
        wrong_tag("N (number)", av)
    except ValueError:
        number = _int_from_decimal(_number_of(av))
    return number if tp is int else tp(number)


def _int_from_decimal(text: str) -> int:
    # DynamoDB may return an integral number in exponent form ("1E+2").
    try:
        exact = Decimal(text)
    except InvalidOperation:
        raise Problem(f"stored number {text!r} is not a number") from None
    if exact != exact.to_integral_value():
        raise Problem(f"stored number {text} is not an integer")
    return int(exact)


def dump_float(value: Any) -> AttributeValue:
    if value.__class__ is float or (
        isinstance(value, (int, float)) and not isinstance(value, bool)
    ):
        return {"N": number_text(value)}
    type_error("float", value)


def load_float(av: AttributeValue, tp: Any = float) -> float:
    try:
        return float(av["N"])
    except (KeyError, TypeError):
        wrong_tag("N (number)", av)
    except ValueError:
        raise Problem(f"stored number {_number_of(av)!r} is not a number") from None


def dump_decimal(value: Any) -> AttributeValue:
    if isinstance(value, Decimal):
        return {"N": _decimal_text(value)}
    if isinstance(value, int) and not isinstance(value, bool):
        return {"N": number_text(value)}
    if isinstance(value, float):
        # The shortest repr is the value the user wrote; Decimal(float) would be binary noise.
        number_text(value)
        return {"N": _decimal_text(Decimal(repr(value)))}
    type_error("Decimal", value)


def load_decimal(av: AttributeValue, tp: Any = Decimal) -> Decimal:
    text = _number_of(av)
    try:
        return Decimal(text)
    except InvalidOperation:
        raise Problem(f"stored number {text!r} is not a number") from None


# --- strings, binary, booleans, null ----------------------------------------------------


def checked_text(text: str) -> str:
    """``text`` when it can be stored: DynamoDB takes only valid UTF-8, which a str holding a
    lone surrogate (``"\\ud800"``) is not."""
    if text.isascii():  # O(1) in CPython: the common case costs nothing
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise Problem(
            f"{_short(text)} holds a lone surrogate ({text[exc.start]!r} at index "
            f"{exc.start}), which is not valid UTF-8; DynamoDB stores only valid text",
            str,
        ) from None
    return text


def dump_str(value: Any) -> AttributeValue:
    if value.__class__ is str:
        return {"S": checked_text(value)}
    if isinstance(value, enum.Enum):
        return dump_any(value.value)
    if isinstance(value, str):
        return {"S": checked_text(str(value))}
    type_error("str", value)


def load_str(av: AttributeValue, tp: Any = str) -> Any:
    try:
        text = av["S"]
    except (KeyError, TypeError):
        wrong_tag("S (string)", av)
    return text if tp is str else tp(text)


def dump_bytes(value: Any) -> AttributeValue:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"B": bytes(value)}
    type_error("bytes", value)


def as_bytes(data: Any) -> bytes:
    """A stored binary value: ``bytes`` from botocore, or base64 text from DynamoDB JSON as
    Lambda delivers stream records and as exports hold it."""
    if data.__class__ is str:
        try:
            return base64.b64decode(data, validate=True)
        except binascii.Error:
            raise Problem(f"binary value {_short(data)} is not base64 text") from None
    return bytes(data)


def load_bytes(av: AttributeValue, tp: Any = bytes) -> bytes:
    try:
        data = av["B"]
    except (KeyError, TypeError):
        wrong_tag("B (binary)", av)
    return as_bytes(data)


def dump_bool(value: Any) -> AttributeValue:
    if value is True or value is False:
        return {"BOOL": value}
    type_error("bool", value)


def load_bool(av: AttributeValue, tp: Any = bool) -> bool:
    try:
        return bool(av["BOOL"])
    except (KeyError, TypeError):
        wrong_tag("BOOL", av)


def dump_none(value: Any) -> AttributeValue:
    if value is None:
        return NULL
    type_error("None", value)


def load_none(av: AttributeValue, tp: Any = None) -> None:
    if av != NULL:
        wrong_tag("NULL", av)
    return None


# --- dates, UUIDs -------------------------------------------------------------------------


_TWO_DIGITS = tuple(f"{n:02d}" for n in range(100))


def utc_text(value: datetime) -> str:
    """The stored text of a datetime whose tzinfo is UTC: ``2026-01-02T03:04:05.000006+00:00``.

    Spelled out from the fields, which costs half of ``isoformat()`` (that one formats the
    offset through timedelta arithmetic and drops the fraction of a whole second).
    """
    year = value.year
    if year < 1000:  # four digits, zero-padded
        text = value.isoformat()
        return text if value.microsecond else text[:19] + ".000000+00:00"
    two = _TWO_DIGITS
    return (
        f"{year}-{two[value.month]}-{two[value.day]}T{two[value.hour]}:{two[value.minute]}:"
        f"{two[value.second]}.{str(value.microsecond + 1_000_000)[1:]}+00:00"
    )


def dump_datetime(value: Any) -> AttributeValue:
    """Timezone-aware datetimes as fixed-width ISO-8601 UTC strings, so they sort as text."""
    if value.__class__ is datetime and value.tzinfo is _UTC:
        return {"S": utc_text(value)}
    if not isinstance(value, datetime):
        type_error("datetime", value)
    if value.tzinfo is _UTC:  # a subclass of datetime: its own isoformat() decides
        text = value.isoformat()  # timespec= costs more than fixing the rare whole second
        return {"S": text if value.microsecond else text[:19] + ".000000+00:00"}
    if value.utcoffset() is None:
        raise Problem(
            f"naive datetime {value.isoformat()} has no timezone; give it one "
            "(for example datetime.now(timezone.utc)) so the stored time is unambiguous",
            datetime,
        )
    return dump_datetime(value.astimezone(_UTC))


def parse_datetime(text: str) -> datetime:
    if text.endswith(("Z", "z")):  # Python 3.10's fromisoformat does not take "Z"
        text = text[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise Problem(f"stored text {_short(text)} is not an ISO-8601 datetime") from None
    if value.tzinfo is None:
        return value.replace(tzinfo=_UTC)  # written by another client without an offset
    return value if value.tzinfo is _UTC else value.astimezone(_UTC)


def load_datetime(av: AttributeValue, tp: Any = datetime) -> datetime:
    return parse_datetime(load_str(av))


def dump_date(value: Any) -> AttributeValue:
    if isinstance(value, datetime) or not isinstance(value, date):
        type_error("date", value)
    return {"S": value.isoformat()}


def load_date(av: AttributeValue, tp: Any = date) -> date:
    text = load_str(av)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Problem(f"stored text {_short(text)} is not an ISO-8601 date") from None


def dump_uuid(value: Any) -> AttributeValue:
    if isinstance(value, uuid.UUID):
        return {"S": str(value)}
    type_error("UUID", value)


def load_uuid(av: AttributeValue, tp: Any = uuid.UUID) -> uuid.UUID:
    text = load_str(av)
    try:
        return uuid.UUID(text)
    except ValueError:
        raise Problem(f"stored text {_short(text)} is not a UUID") from None


def dump_epoch(value: Any) -> AttributeValue:
    """TTL attributes: epoch seconds, as DynamoDB's time-to-live requires."""
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            dump_datetime(value)  # raises the naive-datetime problem
        return {"N": str(int(value.timestamp()))}
    return dump_int(value)


def load_epoch_datetime(av: AttributeValue, tp: Any = datetime) -> datetime:
    return datetime.fromtimestamp(load_int(av), _UTC)


# --- anything: types decided by the value (dump) or by the stored tag (load) -------------


def dump_any(value: Any) -> AttributeValue:
    """Dump a value by its runtime type (for ``Any`` and untyped containers)."""
    cls = value.__class__
    if cls is str:
        return {"S": checked_text(value)}
    if cls is bool:
        return {"BOOL": value}
    if value is None:
        return NULL
    if cls in (int, float, Decimal):
        return {"N": number_text(value)}
    if isinstance(value, enum.Enum):
        return dump_any(value.value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"B": bytes(value)}
    if isinstance(value, datetime):
        return dump_datetime(value)
    if isinstance(value, date):
        return dump_date(value)
    if isinstance(value, uuid.UUID):
        return dump_uuid(value)
    if isinstance(value, Mapping):
        return {"M": dump_map_of(value, dump_any)}
    if isinstance(value, (set, frozenset)):
        return dump_set_any(value)
    if isinstance(value, (list, tuple)):
        return {"L": dump_list_of(value, dump_any)}
    if isinstance(value, str):
        return {"S": checked_text(str(value))}
    if isinstance(value, (int, float)):
        return {"N": number_text(float(value) if isinstance(value, float) else int(value))}
    type_error("a value DynamoDB can store", value)


def load_any(av: AttributeValue, tp: Any = Any) -> Any:
    """Load by the stored tag: N becomes int when integral, else Decimal (exact, as stored)."""
    try:
        ((tag, raw),) = av.items()
    except (AttributeError, ValueError):
        raise Problem(f"not an AttributeValue: {_short(av)}") from None
    if tag == "S" or tag == "BOOL":
        return raw
    if tag == "N":
        return _plain_number(raw)
    if tag == "NULL":
        return None
    if tag == "B":
        return as_bytes(raw)
    if tag == "M":
        return {k: load_any(v) for k, v in raw.items()}
    if tag == "L":
        return [load_any(v) for v in raw]
    if tag == "SS":
        return set(raw)
    if tag == "NS":
        return {_plain_number(n) for n in raw}
    if tag == "BS":
        return {as_bytes(b) for b in raw}
    raise Problem(f"unknown AttributeValue type {tag!r}")


def _plain_number(text: str) -> int | Decimal:
    # A float would round what was stored (0.30000000000000004 for "0.3"), so a number
    # without a declared type loads exactly: an int when integral, else a Decimal.
    if "." in text or "e" in text or "E" in text:
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise Problem(f"stored number {text!r} is not a number") from None
        return int(number) if number == number.to_integral_value() else number
    return int(text)


# --- containers ----------------------------------------------------------------------------


def dump_list_of(values: Iterable[Any], dump: Dump) -> list[AttributeValue]:
    try:
        return [dump(v) for v in values]
    except Exception as exc:
        raise _locate(exc, enumerate(values), dump) from None


def dump_map_of(values: Mapping[Any, Any], dump: Dump) -> dict[str, AttributeValue]:
    try:
        out = {k: dump(v) for k, v in values.items()}
    except Exception as exc:
        raise _locate(exc, values.items(), dump) from None
    for key in out:
        if key.__class__ is not str or not key.isascii():
            return {_map_key(k): v for k, v in out.items()}
    return out


def _map_key(key: Any) -> str:
    if isinstance(key, enum.Enum) and isinstance(key.value, str):
        return checked_text(key.value)
    if not isinstance(key, str):
        type_error("str map keys", key)
    return checked_text(str(key))


def _locate(exc: Exception, pairs: Iterable[tuple[Any, Any]], dump: Dump) -> Problem:
    """Find which element failed, for a precise path; only runs after a failure."""
    for key, value in pairs:
        try:
            dump(value)
        except Exception as inner:
            return as_problem(inner).within(f"[{key!r}]" if isinstance(key, str) else f"[{key}]")
    return as_problem(exc)


def as_problem(exc: BaseException) -> Problem:
    if isinstance(exc, Problem):
        return exc
    problem = Problem(f"{type(exc).__name__}: {exc}")
    problem.__cause__ = exc
    return problem


def dump_set_any(values: Iterable[Any]) -> AttributeValue:
    members = list(values)
    if not members:
        return NULL
    first = members[0]
    if isinstance(first, str):
        return dump_set(members, "SS", dump_str)
    if isinstance(first, (bytes, bytearray, memoryview)):
        return dump_set(members, "BS", dump_bytes)
    return dump_set(members, "NS", dump_decimal)


def dump_set(values: Iterable[Any], tag: str, dump: Dump) -> AttributeValue:
    """A set as SS/NS/BS. Callers handle the empty set, which DynamoDB cannot store."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        type_error("a set", values)
    inner = "S" if tag == "SS" else "N" if tag == "NS" else "B"
    out = [dump(v)[inner] for v in values]
    if len(set(out)) != len(out):
        # Distinct Python values can share one stored form (1.0 and Decimal("1.00")).
        raise Problem(f"set holds equal members {sorted(out)!r}; DynamoDB sets are unique")
    return {tag: out} if out else NULL


def load_set_members(av: AttributeValue, tag: str) -> list[Any]:
    try:
        members = av[tag]
    except (KeyError, TypeError):
        if av == NULL:
            return []  # how an empty set is stored inside a list or map
        wrong_tag(tag, av)
    return list(members)
