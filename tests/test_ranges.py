"""Range headers per RFC 9110: one satisfiable byte range, or the whole file, or 416."""

from __future__ import annotations

import pytest

from videoforge.core.errors import RangeNotSatisfiable
from videoforge.web.ranges import parse_range

SIZE = 1000


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-499", (0, 499)),
        ("bytes=500-999", (500, 999)),
        ("bytes=0-0", (0, 0)),
        ("bytes=999-999", (999, 999)),
        ("bytes=500-", (500, 999)),  # open-ended runs to the last byte
        ("bytes=-500", (500, 999)),  # suffix: the last 500 bytes
        ("bytes=-1000", (0, 999)),
        ("bytes=-5000", (0, 999)),  # a suffix longer than the file is the whole file
        ("bytes=900-5000", (900, 999)),  # an end past the file is clamped
        ("BYTES=1-2", (1, 2)),  # the unit is case-insensitive
        ("  bytes=1-2  ", (1, 2)),  # surrounding whitespace
        ("bytes=1-2 , ", (1, 2)),  # empty list elements are ignored
        ("bytes=007-008", (7, 8)),  # leading zeros are still decimal
    ],
)
def test_single_ranges(header, expected):
    assert parse_range(header, SIZE) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-4,5-9", (0, 9)),  # adjacent ranges merge
        ("bytes=0-10, 5-20", (0, 20)),  # overlapping ranges merge, whitespace after commas
        ("bytes=5-9,0-4", (0, 9)),  # order does not matter
        ("bytes=-100,950-", (900, 999)),  # suffix and open range overlap
        ("bytes=0-1,5000-6000", (0, 1)),  # unsatisfiable members are dropped
        ("bytes=0-1,5-9", None),  # disjoint ranges: serve the whole file
        ("bytes=0-1,3-4,10-", None),
    ],
)
def test_multiple_ranges_merge_into_one_or_serve_the_whole_file(header, expected):
    assert parse_range(header, SIZE) == expected


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "   ",
        "bytes",
        "bytes=",
        "bytes=,",
        "items=0-1",  # another unit
        "bytes 0-1",
        "bytes =0-1",  # no whitespace is allowed around "="
        "bytes=abc",
        "bytes=-",
        "bytes=1",
        "bytes=--5",
        "bytes=0-1-2",
        "bytes=+1-2",
        "bytes=1 -2",
        "bytes=0x10-0x20",
        "bytes=\u0661-\u0662",  # non-ASCII digits are not DIGIT
        "bytes=10-5",  # last < first makes the range invalid
        "bytes=0-1,10-5",  # one invalid spec invalidates the header
        "bytes=" + ",".join(f"{i}-{i}" for i in range(17)),  # too many ranges
    ],
)
def test_garbage_is_ignored_so_the_whole_file_is_sent(header):
    assert parse_range(header, SIZE) is None


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=1000-2000", "bytes=-0", "bytes=5000-,-0"])
def test_unsatisfiable_ranges_raise_416_with_the_size(header):
    with pytest.raises(RangeNotSatisfiable) as error:
        parse_range(header, SIZE)
    assert error.value.size == SIZE
    assert "0-999" in error.value.detail


@pytest.mark.parametrize("header", ["bytes=0-", "bytes=0-0", "bytes=-1", "bytes=-0"])
def test_every_range_of_an_empty_file_is_unsatisfiable(header):
    with pytest.raises(RangeNotSatisfiable) as error:
        parse_range(header, 0)
    assert error.value.size == 0


def test_empty_file_without_range_is_served_whole():
    assert parse_range(None, 0) is None
    assert parse_range("items=0-1", 0) is None


def test_huge_numbers_neither_crash_nor_overflow():
    huge = "9" * 5000  # more digits than int() accepts by default
    assert parse_range(f"bytes=0-{huge}", SIZE) == (0, 999)
    assert parse_range(f"bytes=-{huge}", SIZE) == (0, 999)
    assert parse_range(f"bytes=10-{'0' * 4000}20", SIZE) == (10, 20)
    with pytest.raises(RangeNotSatisfiable):
        parse_range(f"bytes={huge}-", SIZE)
    with pytest.raises(RangeNotSatisfiable):
        parse_range(f"bytes={huge}-{huge}", SIZE)
    big = 2**63
    assert parse_range(f"bytes={big - 10}-", big) == (big - 10, big - 1)
