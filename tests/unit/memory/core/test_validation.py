"""What callers may pass: checks that refuse bad input with InvalidArgument."""

from __future__ import annotations

import math

import pytest

from noos.protocol.errors import InvalidArgument
from noosd.memory.core import validation
from noosd.memory.core.filters import RecallFilter
from noosd.memory.core.ids import format_id, parse_id


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_empty_or_blank_text_is_refused(text: str) -> None:
    with pytest.raises(InvalidArgument, match="empty"):
        validation.text(text, 100)


def test_text_over_the_limit_is_refused_in_utf8_bytes() -> None:
    validation.text("é" * 50, 100)
    with pytest.raises(InvalidArgument, match="101 bytes"):
        validation.text("é" * 50 + "x", 100)
    with pytest.raises(InvalidArgument, match="bytes"):
        validation.text("x" * 1_000_000, 64 * 1024)


def test_text_must_be_a_valid_string() -> None:
    with pytest.raises(InvalidArgument, match="string"):
        validation.text(b"bytes", 100)
    with pytest.raises(InvalidArgument, match="Unicode"):
        validation.text("half a pair \ud800", 100)


def test_only_known_kinds_are_accepted() -> None:
    assert validation.kind("file-event") == "file-event"
    with pytest.raises(InvalidArgument, match="unknown kind 'dream'"):
        validation.kind("dream")


@pytest.mark.parametrize("value", [-0.1, 1.5, math.nan, math.inf, "0.5", True])
def test_an_importance_hint_must_be_a_number_in_0_1(value: object) -> None:
    with pytest.raises(InvalidArgument, match="importance"):
        validation.importance(value)


def test_importance_hints_at_the_bounds_and_none_are_accepted() -> None:
    assert validation.importance(0) == 0.0
    assert validation.importance(1) == 1.0
    assert validation.importance(None) is None


@pytest.mark.parametrize("value", [0, -1, 1001, 2.0, True, "10"])
def test_a_limit_must_be_an_integer_from_1_to_the_maximum(value: object) -> None:
    with pytest.raises(InvalidArgument, match="limit"):
        validation.limit(value, 1000)


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"tags": ["a", "b"]}, "str, int, float or bool"),
        ({"nested": {"a": 1}}, "str, int, float or bool"),
        ({"none": None}, "str, int, float or bool"),
        ({"has space": 1}, "identifier"),
        ({"": 1}, "identifier"),
        ({"x" * 65: 1}, "identifier"),
        ({"1abc": 1}, "identifier"),
        ({"big": 2**70}, "64 bits"),
        ({"nan": math.nan}, "finite"),
        ({"long": "x" * 2000}, "bytes"),
        ({f"k{i}": i for i in range(33)}, "33 entries"),
    ],
)
def test_bad_metadata_is_refused(metadata: dict[object, object], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        validation.metadata(metadata)


def test_metadata_keeps_the_types_of_its_values() -> None:
    metadata = {"cwd": "/home", "exit": 0, "took": 0.25, "ok": True}

    assert validation.metadata(metadata) == metadata


@pytest.mark.parametrize("uid", [-1, 2**32, "1000", True])
def test_a_uid_must_be_a_32_bit_unsigned_integer(uid: object) -> None:
    with pytest.raises(InvalidArgument, match="uid"):
        validation.uid(uid)


def test_ids_are_16_hex_digits() -> None:
    assert parse_id(format_id(0x1234)) == 0x1234
    for bad in ("", "xyz", "0" * 15, "F" * 16, "f" * 16, 12, None):
        assert parse_id(bad) is None


def test_a_filter_checks_itself() -> None:
    with pytest.raises(InvalidArgument, match="after"):
        RecallFilter(since=20.0, until=10.0)
    with pytest.raises(InvalidArgument, match="unknown kind"):
        RecallFilter(kinds=frozenset({"note", "gossip"}))
    with pytest.raises(InvalidArgument, match="str, int, float or bool"):
        RecallFilter(metadata={"tags": ["a"]})  # type: ignore[dict-item]
    with pytest.raises(InvalidArgument, match="finite"):
        RecallFilter(since=math.nan)


def test_a_filter_from_options_takes_known_names_only() -> None:
    filters = RecallFilter.from_options(
        {"kinds": ["note"], "since": 1, "metadata": {"cwd": "/"}, "include_superseded": True}
    )

    assert filters == RecallFilter(
        kinds=frozenset({"note"}), since=1.0, metadata={"cwd": "/"}, include_superseded=True
    )
    with pytest.raises(InvalidArgument, match="unknown filter options 'colour'"):
        RecallFilter.from_options({"colour": "blue"})
    with pytest.raises(InvalidArgument, match="kinds"):
        RecallFilter.from_options({"kinds": "note"})
    with pytest.raises(InvalidArgument, match="boolean"):
        RecallFilter.from_options({"include_superseded": 1})
