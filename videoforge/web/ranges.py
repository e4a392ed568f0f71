"""Parse an HTTP Range request header (RFC 9110, section 14) into one byte range."""

from __future__ import annotations

import re

from ..core.errors import RangeNotSatisfiable

# More range specs than this is a broken client or an attack (RFC 9110, 14.2): ignore them.
MAX_RANGES = 16
# More digits than this cannot name a real offset; such numbers are read as 10**30.
_MAX_DIGITS = 30
_HUGE = 10**_MAX_DIGITS

_SPEC = re.compile(r"([0-9]*)-([0-9]*)")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """Return the inclusive (start, end) byte range to send, or None to send the whole file.

    Follows RFC 9110 for "bytes" ranges of a representation of `size` bytes:
    "bytes=0-499" -> (0, 499); "bytes=500-" -> to the end; "bytes=-500" -> the last 500
    bytes (the whole file if it is shorter); an end past the file is clamped. The unit is
    case-insensitive; whitespace around the header and around list commas is allowed.

    None (serve 200 with the full body, as a server MAY ignore Range) when there is no
    header, the unit is not bytes, any range spec is malformed (not digits, last < first,
    nothing between commas only), or more than 16 specs are sent.

    Several ranges: unsatisfiable ones are dropped and the rest are merged when they overlap
    or touch; if that leaves one range, it is returned, otherwise None (we never send
    multipart/byteranges). So "bytes=0-4,5-9" -> (0, 9) and "bytes=0-1,5-9" -> None.

    Raises RangeNotSatisfiable (416) when the header is valid but no range can be served:
    every first byte is at or past the end, a suffix length is 0, or the file is empty.
    """
    if header is None:
        return None
    unit, sep, range_set = header.strip().partition("=")
    if not sep or unit.lower() != "bytes":
        return None
    specs = [part.strip() for part in range_set.split(",")]
    specs = [part for part in specs if part]  # empty list elements are allowed and ignored
    if not specs or len(specs) > MAX_RANGES:
        return None

    ranges: list[tuple[int, int]] = []
    for spec in specs:
        match = _SPEC.fullmatch(spec)
        if match is None or match.group(1) == match.group(2) == "":
            return None
        first, last = match.group(1), match.group(2)
        if first == "":  # suffix range: the last N bytes
            length = _number(last)
            if length > 0 and size > 0:
                ranges.append((max(size - length, 0), size - 1))
            continue
        start = _number(first)
        end = _number(last) if last else None
        if end is not None and end < start:
            return None  # an invalid range spec makes the whole header invalid
        if start < size:
            ranges.append((start, size - 1 if end is None else min(end, size - 1)))

    if not ranges:
        if size == 0:
            raise RangeNotSatisfiable("the file is empty, so no byte range can be served", 0)
        raise RangeNotSatisfiable(
            f"no requested range overlaps the {size}-byte file; ask for bytes within 0-{size - 1}",
            size,
        )

    ranges.sort()
    merged = [ranges[0]]
    for start, end in ranges[1:]:
        last_start, last_end = merged[-1]
        if start <= last_end + 1:
            merged[-1] = (last_start, max(last_end, end))
        else:
            merged.append((start, end))
    return merged[0] if len(merged) == 1 else None


def _number(digits: str) -> int:
    """Return a decimal's value, reading numbers too long to be an offset as very large."""
    digits = digits.lstrip("0") or "0"
    return _HUGE if len(digits) > _MAX_DIGITS else int(digits)
