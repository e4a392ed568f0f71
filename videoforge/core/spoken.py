"""Speech normalisation: text rewritten the way a speech engine should read it.

Captions keep the written form of a sentence ("$3.50 on Jan. 5"); the speech engine gets
its spoken form ("three dollars and fifty cents on January fifth"). A slide's own
pronunciations ({"Nguyen": "win"}) apply in every language; the rest of the rewriting
(numbers, years, dates, times, money, units, abbreviations, acronyms, symbols) is for
English only, and other languages pass through unchanged.

The rewriting is a fixed sequence of compiled-regex passes, each once over the text, so
it runs in time linear in its input. It never adds sentence-ending punctuation: an
abbreviation whose full stop also ends the sentence ("..., etc.") keeps the full stop after
its spoken form, and every other full stop it reads is dropped. Words it does not rewrite
are kept exactly as written, and the spoken form of a spoken form is itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache

from .languages import normalize_language

# --- tables --------------------------------------------------------------------------------------

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = (
    (10**15, "quadrillion"),
    (10**12, "trillion"),
    (10**9, "billion"),
    (10**6, "million"),
    (1000, "thousand"),
)
# Longer whole numbers (and any with a leading zero) are read digit by digit.
_MAX_CARDINAL_DIGITS = 18
_ORDINAL_WORDS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}

_MONTHS = (
    "January February March April May June July August September October November December"
).split()
_MONTH_ABBREVIATIONS = {
    "Jan": "January",
    "Feb": "February",
    "Mar": "March",
    "Apr": "April",
    "Jun": "June",
    "Jul": "July",
    "Aug": "August",
    "Sep": "September",
    "Sept": "September",
    "Oct": "October",
    "Nov": "November",
    "Dec": "December",
}

# Written abbreviation -> (spoken form, where it is read). The context is "any" (always),
# "word" (before another word: titles), "name" (before a capitalised word: "St. Paul"),
# "number" (before a number: "No. 5"), "final" (always; its full stop is kept when it also
# ends the sentence) or "month" (unless it stands where a sentence could end: "I met Jan.").
# Lower-case keys match in any case; the others only as written.
_ABBREVIATIONS: dict[str, tuple[str, str]] = {
    "e.g.": ("for example", "any"),
    "i.e.": ("that is", "any"),
    "etc.": ("et cetera", "final"),
    "et al.": ("and others", "final"),
    "vs.": ("versus", "any"),
    "vs": ("versus", "any"),
    "cf.": ("compare", "any"),
    "approx.": ("approximately", "any"),
    "ca.": ("circa", "number"),
    "and/or": ("and or", "any"),
    "Dr.": ("Doctor", "word"),
    "Mr.": ("Mister", "word"),
    "Mrs.": ("Missus", "word"),
    "Ms.": ("Miz", "word"),
    "Prof.": ("Professor", "word"),
    "Sr.": ("Senior", "final"),
    "Jr.": ("Junior", "final"),
    "St.": ("Saint", "name"),
    "Mt.": ("Mount", "name"),
    "No.": ("Number", "number"),
    "#": ("number", "number"),
    "Fig.": ("Figure", "number"),
    "Vol.": ("Volume", "number"),
    "Ch.": ("Chapter", "number"),
    "p.": ("page", "number"),
    "pp.": ("pages", "number"),
    "Jan.": ("January", "month"),
    **{
        f"{short}.": (full, "final")
        for short, full in _MONTH_ABBREVIATIONS.items()
        if short != "Jan"
    },
}

# Currency sign -> (one, many, one of the hundredth part, many of it); yen has no hundredths.
_CURRENCIES: dict[str, tuple[str, str, str | None, str | None]] = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "€": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "¥": ("yen", "yen", None, None),
    "₹": ("rupee", "rupees", "paisa", "paise"),
}
_MONEY_SCALES = {
    "k": "thousand",
    "K": "thousand",
    "m": "million",
    "M": "million",
    "bn": "billion",
    "B": "billion",
    "tn": "trillion",
}

# Unit symbol (case-sensitive) -> (one, many), US spelling. Symbols that are also common
# words or letters ("in", "s", "A", "t") are left out.
_UNITS: dict[str, tuple[str, str]] = {
    "km": ("kilometer", "kilometers"),
    "m": ("meter", "meters"),
    "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"),
    "µm": ("micrometer", "micrometers"),
    "μm": ("micrometer", "micrometers"),
    "nm": ("nanometer", "nanometers"),
    "mi": ("mile", "miles"),
    "ft": ("foot", "feet"),
    "yd": ("yard", "yards"),
    "kg": ("kilogram", "kilograms"),
    "g": ("gram", "grams"),
    "mg": ("milligram", "milligrams"),
    "µg": ("microgram", "micrograms"),
    "μg": ("microgram", "micrograms"),
    "lb": ("pound", "pounds"),
    "lbs": ("pound", "pounds"),
    "oz": ("ounce", "ounces"),
    "l": ("liter", "liters"),
    "L": ("liter", "liters"),
    "ml": ("milliliter", "milliliters"),
    "mL": ("milliliter", "milliliters"),
    "gal": ("gallon", "gallons"),
    "ha": ("hectare", "hectares"),
    "mph": ("mile per hour", "miles per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"),
    "sec": ("second", "seconds"),
    "ms": ("millisecond", "milliseconds"),
    "µs": ("microsecond", "microseconds"),
    "ns": ("nanosecond", "nanoseconds"),
    "min": ("minute", "minutes"),
    "h": ("hour", "hours"),
    "hr": ("hour", "hours"),
    "hrs": ("hour", "hours"),
    "yr": ("year", "years"),
    "yrs": ("year", "years"),
    "Hz": ("hertz", "hertz"),
    "kHz": ("kilohertz", "kilohertz"),
    "MHz": ("megahertz", "megahertz"),
    "GHz": ("gigahertz", "gigahertz"),
    "W": ("watt", "watts"),
    "kW": ("kilowatt", "kilowatts"),
    "MW": ("megawatt", "megawatts"),
    "GW": ("gigawatt", "gigawatts"),
    "kWh": ("kilowatt hour", "kilowatt hours"),
    "MWh": ("megawatt hour", "megawatt hours"),
    "GWh": ("gigawatt hour", "gigawatt hours"),
    "TWh": ("terawatt hour", "terawatt hours"),
    "V": ("volt", "volts"),
    "mAh": ("milliamp hour", "milliamp hours"),
    "kJ": ("kilojoule", "kilojoules"),
    "cal": ("calorie", "calories"),
    "kcal": ("kilocalorie", "kilocalories"),
    "KB": ("kilobyte", "kilobytes"),
    "kB": ("kilobyte", "kilobytes"),
    "MB": ("megabyte", "megabytes"),
    "GB": ("gigabyte", "gigabytes"),
    "TB": ("terabyte", "terabytes"),
    "PB": ("petabyte", "petabytes"),
    "kbps": ("kilobit per second", "kilobits per second"),
    "Mbps": ("megabit per second", "megabits per second"),
    "Gbps": ("gigabit per second", "gigabits per second"),
    "Pa": ("pascal", "pascals"),
    "kPa": ("kilopascal", "kilopascals"),
    "hPa": ("hectopascal", "hectopascals"),
    "atm": ("atmosphere", "atmospheres"),
    "mmHg": ("millimeter of mercury", "millimeters of mercury"),
    "dB": ("decibel", "decibels"),
    "mol": ("mole", "moles"),
    "ppm": ("part per million", "parts per million"),
}
# What may follow "/" after a unit ("m/s", "km/h"): the unit it is per, in the singular.
_PER_UNITS = {
    **{symbol: one for symbol, (one, _) in _UNITS.items() if " " not in one},
    "s": "second",
    "d": "day",
    "day": "day",
}
_POWERS = {
    "²": ("square", "squared"),
    "2": ("square", "squared"),
    "³": ("cubic", "cubed"),
    "3": ("cubic", "cubed"),
}
_TEMPERATURE_SCALES = {
    "C": "Celsius",
    "F": "Fahrenheit",
    "K": "Kelvin",
    "℃": "Celsius",
    "℉": "Fahrenheit",
}

# Fractions written with "/" or as one character: (numerator, denominator).
_VULGAR_FRACTIONS = {
    "½": (1, 2),
    "⅓": (1, 3),
    "⅔": (2, 3),
    "¼": (1, 4),
    "¾": (3, 4),
    "⅕": (1, 5),
    "⅖": (2, 5),
    "⅗": (3, 5),
    "⅘": (4, 5),
    "⅙": (1, 6),
    "⅚": (5, 6),
    "⅛": (1, 8),
    "⅜": (3, 8),
    "⅝": (5, 8),
    "⅞": (7, 8),
}
_FRACTION_DENOMINATORS = frozenset((2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 16, 32, 64, 100))
_SPECIAL_FRACTIONS = {"24/7": "twenty-four seven", "50/50": "fifty-fifty"}

# Symbols read as words wherever they stand (after the passes that read them with numbers).
_SYMBOLS = {
    "&": "and",
    "+": "plus",
    "=": "equals",
    "×": "times",
    "÷": "divided by",
    "≈": "approximately",
    "≥": "greater than or equal to",
    "≤": "less than or equal to",
    "≠": "not equal to",
    "±": "plus or minus",
    "→": "to",
    "π": "pi",
    "∞": "infinity",
    "°": "degrees",
    "@": "at",
    "−": "minus",
    "√": "the square root of",
    "%": "percent",
    "²": "squared",
    "³": "cubed",
    "~": "about",
}
_BETWEEN_NUMBERS = {"<": "less than", ">": "greater than", "-": "minus", ":": "to"}

# All-capital abbreviations said as words; other all-capital tokens of 2 to 6 letters are
# spelled out letter by letter ("DNA" -> "D N A").
_ACRONYMS_SAID_AS_WORDS = frozenset(
    """NASA NATO UNESCO UNICEF LASER RADAR SCUBA AIDS COVID GIF JPEG MPEG SIM PIN OPEC NAFTA
    FIFA UEFA ASEAN SARS MERS NASDAQ LIDAR SONAR CAPTCHA ASCII DARPA FEMA OSHA NOAA CERN ESA
    IKEA LEGO OK SWAT TOEFL AWOL POTUS SCOTUS NIMBY ANZAC RAM ROM DOS LAN WAN MIDI BASIC COBOL
    UNIX GAAP OPEX CAPEX ISIS MOOC STEM""".split()
)
_ROMAN_NUMERAL = re.compile(r"X{0,3}(?:IX|IV|V?I{0,3})")

_OPENERS = "\"'“‘([{"
_CLOSERS = ".,;:!?)]}\"'”’…"

# --- regular expressions -----------------------------------------------------------------------

# A number as written: thousands separators, decimals, or a bare decimal (".5").
_INT = r"(?:[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])|[0-9]+)"
_NUM = rf"(?:{_INT}(?:\.[0-9]+)?|\.[0-9]+)"
# A quantity: a number, maybe negative, maybe a range ("5-10", "5 – 10").
_QTY = rf"[-−]?{_NUM}(?:(?:\s?–\s?|-){_NUM})?"
_RANGE_SEPARATOR = re.compile(r"\s?–\s?|(?<=[0-9])-(?=[0-9.])")
_START = r"(?<![\w.,])"  # a number starts here, not inside a word or another number
_END = r"(?![\w]|[.,][0-9])"  # and ends here
_YEAR = r"(?:1[0-9]{3}|20[0-9]{2})"
_MONTH = (
    r"(?P<month>"
    + "|".join(sorted([*_MONTHS, *_MONTH_ABBREVIATIONS], key=len, reverse=True))
    + r")(?P<mdot>\.)?(?![\w])"
)


def _alternation(words: Iterable[str]) -> str:
    """Return a regex alternation of the literal words, longest first."""
    return "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))


_TIME = re.compile(
    r"(?<![\w.:,])(?P<h>[0-9]{1,2})(?::(?P<m>[0-5][0-9])(?::(?P<s>[0-5][0-9]))?)?"
    r"(?:(?P<sp>\s?)(?P<ap>[AaPp]\.?[Mm]\.?)(?![\w])|(?(m)(?![\w]|:[0-9]|[.,][0-9])|(?!)))"
)
_ISO_DATE = re.compile(
    r"(?<![\w.,-])(?P<y>[0-9]{4})-(?P<m>[0-9]{2})-(?P<d>[0-9]{2})(?![\w]|-[0-9]|[.,][0-9])"
)
_SLASH_DATE = re.compile(
    r"(?<![\w/.,])(?P<a>[0-9]{1,2})/(?P<b>[0-9]{1,2})/(?P<y>[0-9]{4})(?![\w/]|[.,][0-9])"
)
_MONTH_DAY = re.compile(
    rf"(?<![\w.]){_MONTH}(?P<sp>\s+)(?:(?P<day>[0-9]{{1,2}})(?:st|nd|rd|th)?(?![\w])"
    rf"(?:(?P<ysep>,?\s+)(?P<year>[0-9]{{4}}){_END})?|(?P<yonly>[0-9]{{4}}){_END})"
)
_DAY_MONTH = re.compile(
    rf"{_START}(?P<day>[0-9]{{1,2}})(?:st|nd|rd|th)?(?P<sp>\s+)(?:of\s+)?{_MONTH}"
    rf"(?:(?P<ysep>,?\s+)(?P<year>[0-9]{{4}}){_END})?"
)
_ABBREVIATION = re.compile(
    r"(?<![\w.])(?:"
    + "|".join(
        ("(?i:{})" if key.islower() or not any(c.isalpha() for c in key) else "{}").format(
            re.escape(key) + ("" if key[-1] in "./" or not key[-1].isalnum() else r"(?![\w])")
        )
        for key in sorted(_ABBREVIATIONS, key=len, reverse=True)
    )
    + ")"
)
_ABBREVIATION_CONTEXT = {
    "word": re.compile(r"\s+\S"),
    "name": re.compile(r"\s+[A-Z]"),
    "number": re.compile(r"\s?[0-9]"),
}
# After a full stop: what shows it also ends the sentence (the end, or a capital next).
_SENTENCE_END = re.compile(r"[\"'”’)\]]*(?:\s*\Z|\s+[\"'“‘(\[]*[A-Z])")
_MONEY = re.compile(
    rf"{_START}(?P<sign>[-−])?(?P<sym>[$€£¥₹])\s?(?P<qty>{_NUM}(?:(?:\s?–\s?|-){_NUM})?)"
    rf"(?:(?P<suffix>{_alternation(_MONEY_SCALES)})(?![\w])"
    r"|\s(?P<scale>thousand|million|billion|trillion)(?![\w]))?"
    r"(?:/(?P<per>[A-Za-z]+)(?![\w]))?"
    rf"|{_START}(?P<qty2>{_QTY})\s?(?P<sym2>[$€£¥₹])(?![\w])"
)
_PERCENT = re.compile(rf"{_START}(?P<qty>{_QTY})\s?%")
_TEMPERATURE = re.compile(
    rf"{_START}(?P<qty>{_QTY})\s?(?:[°º](?:\s?(?P<scale>[CFK])(?![\w]))?|(?P<symbol>[℃℉]))"
)
_UNIT = re.compile(
    rf"{_START}(?P<qty>{_QTY})(?P<sep>\s?|-)(?P<unit>{_alternation(_UNITS)})(?P<p1>[²³23])?"
    rf"(?:/(?P<per>{_alternation(_PER_UNITS)})(?P<p2>[²³23])?)?(?![\w])"
)
_ORDINAL = re.compile(rf"{_START}(?P<n>{_INT})(?:st|nd|rd|th)(?![\w])")
_FRACTION = re.compile(
    rf"{_START}(?:(?P<whole>[0-9]+)\s)?(?P<n>[0-9]{{1,3}})/(?P<d>[0-9]{{1,3}})(?![\w/]|[.,][0-9])"
    rf"|(?<![\w.,])(?:(?P<whole2>[0-9]+)\s?)?(?P<v>[{''.join(_VULGAR_FRACTIONS)}])"
)
_RANGE = re.compile(
    rf"{_START}(?P<a>{_NUM})(?P<sep>\s?–\s?|-|\s-\s(?={_YEAR}(?![\w])))(?P<b>{_NUM}){_END}"
)
_DECADE = re.compile(rf"{_START}(?:(?P<y>[0-9]{{3}}0)|['’]?(?P<d>[1-9]0))['’]?s(?![\w])")
_YEAR_NUMBER = re.compile(rf"{_START}(?P<y>{_YEAR}){_END}")
_OPERATOR = re.compile(
    r"(?<=[0-9])(?:\s*(?P<op>[<>])\s*|\s+(?P<minus>-)\s+|(?P<ratio>:))(?=[-−]?\.?[0-9])"
)
_NUMBER = re.compile(
    rf"(?:(?<![\w)\]])(?P<sign>[-−]))?(?<![0-9])(?P<n>{_NUM})(?P<version>(?:\.[0-9]+)+)?"
    r"(?P<x>x(?![\w]))?"
)
_SYMBOL = re.compile("|".join(re.escape(s) for s in _SYMBOLS if s != "~") + r"|~(?=\s?\w)")
_INITIALISM = re.compile(r"(?<![\w.])(?P<letters>[A-Za-z](?:\.[A-Za-z])+)(?P<dot>\.)?(?![\w])")
_ACRONYM = re.compile(r"(?<![\w])(?P<letters>[A-Z]{2,6})(?P<plural>s)?(?![\w])")
_DIGIT = re.compile(r"[0-9]")
_WORD = re.compile(r"[A-Za-z]{2,}")

_ENGLISH = frozenset(("en", "eng", "english"))


# --- public API --------------------------------------------------------------------------------


def spoken_form(
    text: str, language: str = "en", pronunciations: Mapping[str, str] | None = None
) -> str:
    """Return text as a speech engine should read it: pronunciations applied, English spelled out.

    pronunciations maps a written word or phrase to how to say it ({"Nguyen": "win"}); it
    applies in every language, to whole words and phrases, exact case first and then any
    case, longest first; its keys are literal text. In English ("en", "en-GB", "english",
    ...) numbers, years, dates, times, money, percentages, units, temperatures, ordinals,
    fractions, abbreviations, acronyms and symbols are written out as words; any other
    language is left as it is. The sentence's own punctuation and the words not rewritten
    are kept as written.
    """
    text, frozen = _apply_pronunciations(text, pronunciations)
    if not _is_english(language):
        return text
    digits = _DIGIT.search(text) is not None
    for pattern, replace, reads_digits in _PASSES:
        if digits or not reads_digits:
            text, frozen = _substitute(pattern, replace, text, frozen)
    if not _shouted(text):
        text, frozen = _substitute(_ACRONYM, _acronym, text, frozen)
    return text


def _is_english(language: str) -> bool:
    """Tell whether the request language names English in any of its spellings."""
    key = language.strip().casefold().replace("_", "-")
    return key.split("-")[0] in _ENGLISH or normalize_language(language) == "english"


# --- substitution --------------------------------------------------------------------------------

_Spans = list[tuple[int, int]]


def _substitute(
    pattern: re.Pattern[str],
    replace: Callable[[re.Match[str]], str | None],
    text: str,
    frozen: _Spans,
) -> tuple[str, _Spans]:
    """Replace pattern's matches by replace(match) (None: keep), never inside a frozen span.

    Frozen spans hold pronunciations already applied; they are moved along with the text.
    """
    pieces: list[str] = []
    moved: _Spans = []
    position = delta = index = 0
    for match in pattern.finditer(text):
        start, end = match.span()
        while index < len(frozen) and frozen[index][1] <= start:
            moved.append((frozen[index][0] + delta, frozen[index][1] + delta))
            index += 1
        if index < len(frozen) and frozen[index][0] < end:
            continue
        spoken = replace(match)
        if spoken is None or spoken == match.group():
            continue
        pieces.append(text[position:start])
        pieces.append(spoken)
        position = end
        delta += len(spoken) - (end - start)
    if not pieces:
        return text, frozen
    pieces.append(text[position:])
    moved.extend((start + delta, end + delta) for start, end in frozen[index:])
    return "".join(pieces), moved


@lru_cache(maxsize=64)
def _pronunciation_table(
    items: tuple[tuple[str, str], ...],
) -> tuple[re.Pattern[str] | None, dict[str, str], dict[str, str]]:
    """Compile a pronunciation map into one pattern and its exact and any-case lookups."""
    exact: dict[str, str] = {}
    for key, value in items:
        written = " ".join(key.split())
        if written:
            exact[written] = value
    if not exact:
        return None, exact, {}
    keys = sorted(exact, key=len, reverse=True)
    folded: dict[str, str] = {}
    for key in keys:
        folded.setdefault(key.lower(), exact[key])
    # Keys are literal text: escaped, with any run of whitespace matching any other.
    body = "|".join(r"\s+".join(map(re.escape, key.split())) for key in keys)
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE), exact, folded


def _apply_pronunciations(
    text: str, pronunciations: Mapping[str, str] | None
) -> tuple[str, _Spans]:
    """Apply the pronunciation map; return the text and the spans of what it put in."""
    if not pronunciations:
        return text, []
    items = tuple(
        sorted(
            (k, v) for k, v in pronunciations.items() if isinstance(k, str) and isinstance(v, str)
        )
    )
    pattern, exact, folded = _pronunciation_table(items)
    if pattern is None:
        return text, []
    pieces: list[str] = []
    spans: _Spans = []
    position = length = 0
    for match in pattern.finditer(text):
        written = " ".join(match.group().split())
        spoken = exact.get(written, folded.get(written.lower()))
        if spoken is None:
            continue
        before = text[position : match.start()]
        pieces += (before, spoken)
        length += len(before)
        spans.append((length, length + len(spoken)))
        length += len(spoken)
        position = match.end()
    pieces.append(text[position:])
    return "".join(pieces), spans


# --- number words --------------------------------------------------------------------------------


def _cardinal(n: int) -> str:
    """Return a whole number below 10**18 in words, US style ("one hundred twenty-three")."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{_ONES[hundreds]} hundred" + (f" {_cardinal(rest)}" if rest else "")
    for value, name in _SCALES:
        if n >= value:
            head, rest = divmod(n, value)
            return f"{_cardinal(head)} {name}" + (f" {_cardinal(rest)}" if rest else "")
    return ""  # unreachable: n >= 1000 meets the last scale


def _digits(digits: str) -> str:
    """Read a string of ASCII digits one by one ("07" -> "zero seven")."""
    return " ".join(_ONES[int(d)] for d in digits)


def _integer(digits: str) -> str:
    """Read a whole number written in ASCII digits, maybe with thousands separators."""
    digits = digits.replace(",", "")
    if len(digits) > _MAX_CARDINAL_DIGITS or (len(digits) > 1 and digits[0] == "0"):
        return _digits(digits)
    return _cardinal(int(digits))


def _number(written: str) -> str:
    """Read a number as written ("-1,200.5" -> "minus one thousand two hundred point five")."""
    sign = ""
    if written[:1] in "-−":
        sign, written = "minus ", written[1:]
    whole, _, fraction = written.partition(".")
    words = _integer(whole) if whole else ""
    if fraction:
        words = f"{words} point {_digits(fraction)}" if words else f"point {_digits(fraction)}"
    return sign + words


def _quantity(written: str) -> tuple[str, bool]:
    """Read a quantity (a number or a range of two); tell whether it is exactly one."""
    parts = _RANGE_SEPARATOR.split(written, maxsplit=1)
    return " to ".join(_number(part) for part in parts), parts[-1].lstrip("-−") == "1"


def _ordinal(words: str) -> str:
    """Turn a cardinal in words into its ordinal ("twenty-one" -> "twenty-first")."""
    cut = max(words.rfind(" "), words.rfind("-")) + 1
    head, last = words[:cut], words[cut:]
    if last in _ORDINAL_WORDS:
        return head + _ORDINAL_WORDS[last]
    if last.endswith("y"):
        return f"{head}{last[:-1]}ieth"
    return f"{head}{last}th"


def _plural(words: str) -> str:
    """Put a number in words into the plural ("nineteen ninety" -> "nineteen nineties")."""
    if words.endswith("y"):
        return words[:-1] + "ies"
    return words + ("es" if words.endswith("x") else "s")


def _is_year(written: str) -> bool:
    """Tell whether a written number reads as a year (four digits, 1000 to 2099)."""
    return len(written) == 4 and written.isdigit() and 1000 <= int(written) <= 2099


def _year(n: int) -> str:
    """Read a year the usual way ("eighteen fifty", "nineteen oh five", "two thousand eight")."""
    if n % 1000 == 0 or 2000 <= n < 2010 or not 1000 <= n < 10000:
        return _cardinal(n)
    century, rest = divmod(n, 100)
    if not rest:
        return f"{_cardinal(century)} hundred"
    if rest < 10:
        return f"{_cardinal(century)} oh {_ONES[rest]}"
    return f"{_cardinal(century)} {_cardinal(rest)}"


def _year_or_number(written: str) -> str:
    """Read four digits as a year when they can be one, else as a number."""
    return _year(int(written)) if _is_year(written) else _integer(written)


# --- passes --------------------------------------------------------------------------------------


def _padded(match: re.Match[str], words: str) -> str:
    """Return words with a space on a side where a letter or digit touches the match."""
    text, start, end = match.string, match.start(), match.end()
    before = " " if start and text[start - 1].isalnum() else ""
    after = " " if text[end : end + 1].isalnum() else ""
    return f"{before}{words}{after}"


def _kept_stop(match: re.Match[str]) -> str:
    """Return "." when the full stop that ends the match also ends the sentence, else ""."""
    if match.group().endswith(".") and _SENTENCE_END.match(match.string, match.end()):
        return "."
    return ""


def _time(match: re.Match[str]) -> str | None:
    """Read a clock time ("3:30 pm" -> "three thirty p m", "10:05" -> "ten oh five")."""
    hour, minutes, seconds, meridiem = match["h"], match["m"], match["s"], match["ap"]
    h = int(hour)
    if h > (12 if meridiem else 24):
        return None
    words = _cardinal(h)
    m = int(minutes or "0")
    if m:
        words += f" oh {_ONES[m]}" if m < 10 else f" {_cardinal(m)}"
    elif minutes and not meridiem:
        words += " o'clock" if h <= 12 else " hundred"
    if seconds:
        words += f" and {_cardinal(int(seconds))} seconds"
    if meridiem:
        letters = meridiem.replace(".", "").lower()
        words += f" {letters[0]} {letters[1]}" + _kept_stop(match)
    return _padded(match, words)


def _date_words(month: int, day: int, year: str | None, separator: str = ", ") -> str:
    """Say a date month first ("January fifth, twenty twenty-four")."""
    words = f"{_MONTHS[month - 1]} {_ordinal(_cardinal(day))}"
    return f"{words}{separator}{_year_or_number(year)}" if year else words


def _iso_date(match: re.Match[str]) -> str | None:
    """Read an ISO date ("2024-01-05" -> "January fifth, twenty twenty-four")."""
    month, day = int(match["m"]), int(match["d"])
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    return _padded(match, _date_words(month, day, match["y"]))


def _slash_date(match: re.Match[str]) -> str | None:
    """Read a date with slashes, month first unless that cannot be ("25/12/2024")."""
    a, b = int(match["a"]), int(match["b"])
    month, day = (a, b) if a <= 12 else (b, a)
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    return _padded(match, _date_words(month, day, match["y"]))


def _month_name(match: re.Match[str]) -> str:
    """Return the full name of the month the match names."""
    return _MONTH_ABBREVIATIONS.get(match["month"], match["month"])


def _month_day(match: re.Match[str]) -> str | None:
    """Read a date month first ("Jan. 5, 2024", "July 4", "Jan 2024")."""
    month = _month_name(match)
    if match["yonly"]:
        return f"{month}{match['sp']}{_year_or_number(match['yonly'])}"
    day = int(match["day"])
    if not 1 <= day <= 31:
        return None
    words = f"{month}{match['sp']}{_ordinal(_cardinal(day))}"
    if match["year"]:
        words += match["ysep"] + _year_or_number(match["year"])
    return words


def _day_month(match: re.Match[str]) -> str | None:
    """Read a date day first ("5 January 2024" -> "the fifth of January twenty twenty-four")."""
    day = int(match["day"])
    if not 1 <= day <= 31:
        return None
    before = match.string[max(0, match.start() - 5) : match.start()].lower()
    written_the = before.endswith("the ") and (len(before) < 5 or not before[0].isalpha())
    the = "" if written_the else "the "
    words = f"{the}{_ordinal(_cardinal(day))} of {_month_name(match)}"
    if match["year"]:
        words += match["ysep"] + _year_or_number(match["year"])
    elif match["mdot"]:
        words += _kept_stop(match)
    return words


def _abbreviation(match: re.Match[str]) -> str | None:
    """Expand an abbreviation where its context says it is one ("Dr. Smith", "No. 5")."""
    written = match.group()
    entry = _ABBREVIATIONS.get(written) or _ABBREVIATIONS.get(written.lower())
    if entry is None:
        return None
    spoken, context = entry
    if context in _ABBREVIATION_CONTEXT:
        if not _ABBREVIATION_CONTEXT[context].match(match.string, match.end()):
            return None
        if context == "number":
            spoken += " " if match.string[match.end() : match.end() + 1].isdigit() else ""
    elif context == "final":
        spoken += _kept_stop(match)
    elif context == "month" and _SENTENCE_END.match(match.string, match.end()):
        return None
    if written[0].isupper() and written not in _ABBREVIATIONS:  # "E.g." as well as "e.g."
        spoken = spoken[0].upper() + spoken[1:]
    return spoken


def _money(match: re.Match[str]) -> str:
    """Read an amount of money ("$3.50" -> "three dollars and fifty cents")."""
    symbol = match["sym"] or match["sym2"]
    one, many, cent, cents = _CURRENCIES[symbol]
    written = match["qty"] or match["qty2"]
    sign = "minus " if match["sign"] else ""
    if written[:1] in "-−":
        sign, written = "minus ", written[1:]
    scale = match["scale"] or _MONEY_SCALES.get(match["suffix"] or "")
    whole, _, fraction = written.partition(".")
    if scale:
        words = f"{_quantity(written)[0]} {scale} {many}"
    elif cent and len(fraction) in (1, 2) and _RANGE_SEPARATOR.search(written) is None:
        units, hundredths = int(whole.replace(",", "") or "0"), int(fraction.ljust(2, "0"))
        parts = []
        if units or not hundredths:
            parts.append(f"{_integer(whole or '0')} {one if units == 1 else many}")
        if hundredths:
            parts.append(f"{_cardinal(hundredths)} {cent if hundredths == 1 else cents}")
        words = " and ".join(parts)
    else:
        amount, single = _quantity(written)
        words = f"{amount} {one if single else many}"
    if match["per"]:
        words += f" per {match['per']}"
    return _padded(match, sign + words)


def _percent(match: re.Match[str]) -> str:
    """Read a percentage ("45%" -> "forty-five percent")."""
    return _padded(match, f"{_quantity(match['qty'])[0]} percent")


def _temperature(match: re.Match[str]) -> str:
    """Read a temperature or an angle ("25°C" -> "twenty-five degrees Celsius")."""
    amount, single = _quantity(match["qty"])
    words = f"{amount} {'degree' if single else 'degrees'}"
    scale = match["scale"] or match["symbol"]
    if scale:
        words += f" {_TEMPERATURE_SCALES[scale]}"
    return _padded(match, words)


def _unit(match: re.Match[str]) -> str:
    """Read a measurement ("10 m/s" -> "ten meters per second", "a 5-km run")."""
    amount, single = _quantity(match["qty"])
    one, many = _UNITS[match["unit"]]
    adjective = match["sep"] == "-"
    name = one if single or adjective else many
    if match["p1"]:
        name = f"{_POWERS[match['p1']][0]} {name}"
    if match["per"]:
        name += f" per {_PER_UNITS[match['per']]}"
        if match["p2"]:
            name += f" {_POWERS[match['p2']][1]}"
    return _padded(match, f"{amount}-{name}" if adjective else f"{amount} {name}")


def _ordinal_number(match: re.Match[str]) -> str:
    """Read an ordinal ("22nd" -> "twenty-second")."""
    return _padded(match, _ordinal(_integer(match["n"])))


def _fraction_words(numerator: int, denominator: int, mixed: bool = False) -> str:
    """Say a fraction ("three quarters"; mixed: "a half" after a whole number)."""
    if denominator == 2:
        name = "half" if numerator == 1 else "halves"
    elif denominator == 4:
        name = "quarter" if numerator == 1 else "quarters"
    else:
        name = _ordinal(_cardinal(denominator)) + ("" if numerator == 1 else "s")
    count = "a" if mixed and numerator == 1 else _cardinal(numerator)
    return f"{count} {name}"


def _fraction(match: re.Match[str]) -> str:
    """Read a fraction ("1/2" -> "one half", "2 3/4", "½")."""
    if match["v"]:
        numerator, denominator = _VULGAR_FRACTIONS[match["v"]]
        whole = match["whole2"]
    else:
        written = f"{match['n']}/{match['d']}"
        whole = match["whole"]
        if not whole and written in _SPECIAL_FRACTIONS:
            return _padded(match, _SPECIAL_FRACTIONS[written])
        numerator, denominator = int(match["n"]), int(match["d"])
        if denominator not in _FRACTION_DENOMINATORS:
            words = f"{_integer(match['n'])} over {_integer(match['d'])}"
            return _padded(match, f"{_integer(whole)} {words}" if whole else words)
    if whole:
        return _padded(
            match, f"{_integer(whole)} and {_fraction_words(numerator, denominator, True)}"
        )
    return _padded(match, _fraction_words(numerator, denominator))


def _range(match: re.Match[str]) -> str | None:
    """Read a range ("1914–1918" -> "nineteen fourteen to nineteen eighteen", "5-10")."""
    first, second = match["a"], match["b"]
    if _is_year(first) and (_is_year(second) or (len(second) == 2 and second.isdigit())):
        end = _year(int(second)) if _is_year(second) else _integer(second.lstrip("0") or "0")
        return _padded(match, f"{_year(int(first))} to {end}")
    if match["sep"] == " - ":
        return None
    return _padded(match, f"{_number(first)} to {_number(second)}")


def _decade(match: re.Match[str]) -> str | None:
    """Read a decade ("1990s" -> "nineteen nineties", "'60s" -> "sixties")."""
    if match["y"]:
        if not _is_year(match["y"]):
            return None
        return _padded(match, _plural(_year(int(match["y"]))))
    return _padded(match, _plural(_cardinal(int(match["d"]))))


def _year_number(match: re.Match[str]) -> str | None:
    """Read four digits that are no amount, measure or date as a year ("in 1066")."""
    text, start = match.string, match.start()
    if start and text[start - 1] in "-−" and (start == 1 or not text[start - 2].isalnum()):
        return None  # "-1850" is a negative number
    return _padded(match, _year(int(match["y"])))


def _operator(match: re.Match[str]) -> str:
    """Read "<", ">", " - " and ":" between two numbers."""
    op = match["op"] or match["minus"] or match["ratio"]
    return f" {_BETWEEN_NUMBERS[op]} "


def _plain_number(match: re.Match[str]) -> str:
    """Read any other number ("3.14" -> "three point one four", "-5" -> "minus five").

    A version number ("3.11.7") reads each of its parts as a whole number.
    """
    if match["version"]:
        parts = (match["n"] + match["version"]).split(".")
        words = " point ".join(_integer(part) if part else "" for part in parts).lstrip()
        words = ("minus " if match["sign"] else "") + words
    else:
        words = _number((match["sign"] or "") + match["n"])
    if match["x"]:
        words += " times"  # "10x faster"
    return _padded(match, words)


def _symbol(match: re.Match[str]) -> str:
    """Read a symbol as words ("&" -> "and"), spaced from the words it touches."""
    text, start, end = match.string, match.start(), match.end()
    before = text[start - 1] if start else ""
    after = text[end : end + 1]
    # A symbol next to another pads on its own left only, so "C++" gets single spaces.
    left = " " if before and not before.isspace() and before not in _OPENERS else ""
    right = (
        " "
        if after and not after.isspace() and after not in _CLOSERS and after not in _SYMBOLS
        else ""
    )
    return f"{left}{_SYMBOLS[match.group()[0]]}{right}"


def _initialism(match: re.Match[str]) -> str:
    """Read a dotted initialism letter by letter ("U.S." -> "U S")."""
    letters = " ".join(match["letters"].split("."))
    return letters + (_kept_stop(match) if match["dot"] else "")


def _shouted(text: str) -> bool:
    """Tell whether text is written in capitals throughout (a heading, not acronyms)."""
    words = _WORD.findall(text)
    capitals = sum(word.isupper() for word in words)
    return capitals >= 2 and capitals * 4 >= len(words) * 3


def _acronym(match: re.Match[str]) -> str | None:
    """Spell out an all-capital abbreviation not said as a word ("CPUs" -> "C P Us")."""
    letters = match["letters"]
    if letters in _ACRONYMS_SAID_AS_WORDS or _ROMAN_NUMERAL.fullmatch(letters):
        return None
    spelled = " ".join(letters)
    return spelled + "s" if match["plural"] else spelled


_Pass = tuple[re.Pattern[str], Callable[[re.Match[str]], str | None], bool]

# (pattern, replacement, whether it reads digits), in order: times and dates before the
# numbers in them, amounts and measures before bare numbers, symbols after the numbers
# they stand between. Passes that read digits are skipped for text without any.
_PASSES: tuple[_Pass, ...] = (
    (_TIME, _time, True),
    (_ISO_DATE, _iso_date, True),
    (_SLASH_DATE, _slash_date, True),
    (_MONTH_DAY, _month_day, True),
    (_DAY_MONTH, _day_month, True),
    (_ABBREVIATION, _abbreviation, False),
    (_MONEY, _money, True),
    (_PERCENT, _percent, True),
    (_TEMPERATURE, _temperature, True),
    (_UNIT, _unit, True),
    (_ORDINAL, _ordinal_number, True),
    (_FRACTION, _fraction, False),  # also "½", with no digit
    (_RANGE, _range, True),
    (_DECADE, _decade, True),
    (_YEAR_NUMBER, _year_number, True),
    (_OPERATOR, _operator, True),
    (_NUMBER, _plain_number, True),
    (_SYMBOL, _symbol, False),
    (_INITIALISM, _initialism, False),
)
