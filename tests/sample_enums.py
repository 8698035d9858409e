"""Enums shared by the converter tests: plain, int-valued, str-mixin and IntEnum."""

import enum


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"


class Priority(enum.Enum):
    LOW = 1
    HIGH = 2


class Kind(str, enum.Enum):
    BOOK = "book"
    FILM = "film"


class Level(enum.IntEnum):
    ONE = 1
    TWO = 2
