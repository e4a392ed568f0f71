"""Choose a Font Awesome icon for a slide from its words, and draw it with Pillow, offline.

The icons come from the installed `fontawesomefree` package (its solid font and its
`icons.json` metadata); nothing is downloaded. `choose_icon` scores the slide's words against a
small curated table of educational topics, then against every free solid icon's name and
search terms, and falls back to a light bulb. `draw_icon` draws a glyph as large as its measured
ink fits a box. The icons are CC BY 4.0 and the font SIL OFL 1.1 (see
`fonts/LICENSE-FontAwesome-Free.txt`).
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from ..core.errors import VideoforgeError

log = logging.getLogger(__name__)

Box = tuple[int, int, int, int]  # left, top, right, bottom; right and bottom exclusive
RGB = tuple[int, int, int]

FALLBACK_ICON = "lightbulb"

# Points a slide word earns an icon, by how it matches; the best one per word and icon counts.
_CURATED = 8  # a topic word in the curated table
_NAME = 6  # the icon's whole name ("volcano")
_NAME_PART = 4  # one part of its name ("heart" in "heart-pulse")
_GENERIC = 3  # a generic slide word in the curated table ("summary", "introduction")
_TERM = 2  # one of its search terms
# Multipliers by where the word is: once for the title, once per bullet that has it.
_TITLE_WEIGHT = 3
_BULLET_WEIGHT = 1

_MIN_WORD = 3
_MAX_CHARS = 20_000  # per text; far more than a slide shows
_MAX_BULLETS = 100
# Glyphs are measured by rendering them; a box far larger than any slide gets a smaller icon.
_MAX_FONT_SIZE = 4096

# Topic words an icon stands for, consulted before (and outweighing) the names and search terms
# from icons.json. Words are written naturally; they are normalised like slide words.
CURATED_ICONS: dict[str, tuple[str, ...]] = {
    "flask": ("science", "scientific", "experiment", "chemistry", "chemical", "laboratory", "lab"),
    "landmark": (
        "history",
        "historical",
        "ancient",
        "empire",
        "revolution",
        "medieval",
        "civilization",
        "civilisation",
        "kingdom",
        "dynasty",
        "roman",
        "monument",
        "heritage",
    ),
    "square-root-variable": ("math", "maths", "mathematics", "algebra", "equation", "calculus"),
    "shapes": ("geometry", "shape", "triangle"),
    "calculator": ("number", "calculate", "calculation", "arithmetic", "fraction", "percentage"),
    "dice": ("probability", "chance", "random", "randomness"),
    "droplet": ("water", "liquid", "hydration"),
    "water": ("ocean", "sea", "river", "lake", "wave", "tide"),
    "cloud-rain": ("rain", "rainfall", "precipitation"),
    "leaf": ("plant", "photosynthesis", "leaf", "leaves", "chlorophyll", "botany", "ecosystem"),
    "seedling": ("seed", "germination", "sprout", "garden", "gardening"),
    "tree": ("tree", "forest", "rainforest", "woodland", "deforestation"),
    "bolt": ("energy", "electricity", "electric", "power", "voltage", "lightning"),
    "battery-full": ("battery", "batteries"),
    "solar-panel": ("renewable",),
    "oil-well": ("oil", "petroleum", "fossil", "fuel"),
    "coins": (
        "money",
        "finance",
        "financial",
        "economy",
        "economic",
        "economics",
        "price",
        "interest",
        "investment",
        "currency",
        "tax",
        "income",
        "wage",
        "salary",
        "profit",
        "cost",
    ),
    "piggy-bank": ("saving", "savings"),
    "wallet": ("budget", "spending"),
    "credit-card": ("payment", "credit", "debt"),
    "laptop-code": (
        "computer",
        "software",
        "code",
        "coding",
        "programming",
        "program",
        "developer",
        "algorithm",
    ),
    "database": ("data", "database", "dataset", "sql"),
    "network-wired": ("network", "networking", "ethernet"),
    "globe": ("internet", "web", "online", "website", "international"),
    "microchip": ("electronics", "electronic", "chip", "semiconductor", "circuit", "hardware"),
    "robot": ("robot", "robotics", "automation", "artificial"),
    "mobile-screen": ("smartphone", "phone", "mobile"),
    "key": ("encryption", "cryptography", "password"),
    "brain": (
        "brain",
        "mind",
        "learning",
        "memory",
        "psychology",
        "thinking",
        "cognitive",
        "neuroscience",
        "intelligence",
    ),
    "heart-pulse": ("heart", "health", "healthy", "fitness", "pulse", "cardio"),
    "stethoscope": ("medicine", "medical", "doctor", "diagnosis", "patient", "nurse"),
    "hospital": ("hospital", "healthcare"),
    "virus": ("disease", "virus", "infection", "pandemic", "epidemic"),
    "syringe": ("vaccine", "vaccination", "injection", "immunization"),
    "pills": ("drug", "medication", "pharmacy", "pill"),
    "lungs": ("breathing", "respiration", "lung"),
    "tooth": ("dental", "dentist", "teeth"),
    "bone": ("skeleton", "bone", "dinosaur", "prehistoric", "paleontology", "extinction"),
    "eye": ("vision", "sight", "optics"),
    "earth-americas": (
        "earth",
        "world",
        "geography",
        "planet",
        "global",
        "continent",
        "climate",
    ),
    "sun": ("sun", "solar", "sunlight", "summer", "daylight", "light", "sunshine"),
    "moon": ("moon", "lunar", "night"),
    "rocket": ("space", "rocket", "astronaut", "spaceflight"),
    "star": ("star", "astronomy", "galaxy"),
    "meteor": ("asteroid", "comet", "meteor"),
    "book-open": (
        "book",
        "read",
        "reading",
        "literature",
        "novel",
        "story",
        "author",
        "library",
    ),
    "feather": ("poetry", "poem", "poet"),
    "pen-nib": ("writing", "essay", "handwriting"),
    "music": ("music", "song", "melody", "rhythm", "musician", "instrument"),
    "palette": ("art", "paint", "painting", "artist", "color", "colour", "design", "drawing"),
    "masks-theater": ("theater", "theatre", "drama", "acting", "shakespeare", "playwright"),
    "clock": ("time", "clock", "hour", "minute", "schedule"),
    "timeline": ("timeline", "chronology"),
    "calendar": ("calendar", "date", "year", "month", "week", "season"),
    "city": ("city", "urban", "town", "skyline"),
    "people-group": (
        "people",
        "society",
        "community",
        "social",
        "population",
        "team",
        "group",
        "culture",
        "sociology",
    ),
    "child": ("child", "children", "childhood", "kid"),
    "language": (
        "language",
        "speak",
        "speaking",
        "grammar",
        "vocabulary",
        "translation",
        "linguistics",
        "pronunciation",
    ),
    "comments": ("communication", "discussion", "debate", "conversation"),
    "cloud": ("weather", "cloud", "forecast", "atmosphere"),
    "snowflake": ("winter", "snow", "ice", "cold", "freezing", "glacier"),
    "temperature-high": ("temperature", "heat", "hot", "thermal", "thermodynamics", "warming"),
    "fire": ("fire", "flame", "burn", "combustion", "wildfire"),
    "mountain": ("mountain", "geology", "tectonic"),
    "house-crack": ("earthquake", "seismic"),
    "house-flood-water": ("flood", "flooding"),
    "sun-plant-wilt": ("drought", "desertification"),
    "gem": ("gem", "crystal", "mineral"),
    "atom": ("atom", "physics", "atomic", "nuclear", "particle", "quantum", "electron", "molecule"),
    "magnet": ("magnet", "magnetism", "magnetic"),
    "gauge-high": ("speed", "velocity", "acceleration"),
    "apple-whole": ("gravity", "newton", "force", "inertia", "motion", "momentum", "fruit"),
    "dna": ("dna", "gene", "genetics", "genetic", "biology", "evolution", "heredity", "genome"),
    "microscope": ("microscope", "cell", "bacteria", "microbe", "microbiology", "organism"),
    "car": ("car", "transport", "transportation", "vehicle", "driving", "traffic"),
    "train": ("train", "railway", "railroad"),
    "ship": ("ship", "boat", "navy", "sailing", "voyage", "explorer"),
    "anchor": ("port", "harbor", "harbour", "maritime"),
    "plane": ("plane", "flight", "airplane", "aircraft", "aviation", "flying", "airport"),
    "truck": ("logistics", "delivery", "shipping"),
    "utensils": ("food", "nutrition", "diet", "cooking", "meal", "eating", "recipe", "cuisine"),
    "carrot": ("vegetable",),
    "wheat-awn": ("farm", "farming", "agriculture", "agricultural", "crop", "harvest", "grain"),
    "cow": ("cattle", "livestock", "dairy"),
    "industry": ("factory", "industry", "industrial", "manufacturing", "production"),
    "scale-balanced": ("law", "justice", "legal", "rights", "ethics", "fairness", "equality"),
    "gavel": ("court", "trial", "judge", "verdict"),
    "handcuffs": ("crime", "criminal", "arrest"),
    "building-columns": (
        "government",
        "politics",
        "political",
        "democracy",
        "parliament",
        "congress",
        "bank",
        "banking",
    ),
    "check-to-slot": ("election", "vote", "voting", "ballot"),
    "scroll": ("constitution", "treaty", "manuscript", "declaration"),
    "crown": ("king", "queen", "monarchy", "monarch", "royal"),
    "flag": ("nation", "country", "flag", "independence", "patriotism"),
    "shield-halved": ("war", "battle", "military", "army", "defense", "defence", "soldier"),
    "dove": ("peace", "peaceful"),
    "place-of-worship": ("religion", "religious", "worship", "faith"),
    "skull": ("death", "plague", "mortality"),
    "map": ("map", "travel", "journey", "tourism", "route", "exploration"),
    "compass": ("compass", "direction", "navigation", "orientation"),
    "passport": ("immigration", "passport"),
    "chart-line": (
        "chart",
        "statistics",
        "statistic",
        "growth",
        "trend",
        "graph",
        "analytics",
        "market",
        "stock",
        "supply",
        "demand",
    ),
    "chart-pie": ("proportion",),
    "magnifying-glass": ("research", "investigation", "search", "analysis", "inquiry"),
    "graduation-cap": (
        "teacher",
        "school",
        "education",
        "student",
        "university",
        "college",
        "graduation",
        "teaching",
        "classroom",
        "curriculum",
    ),
    "person-chalkboard": ("lecture", "presentation"),
    "lock": ("lock", "security", "secure", "privacy", "cybersecurity"),
    "screwdriver-wrench": ("tool", "build", "engineering", "repair", "maintenance", "mechanic"),
    "helmet-safety": ("construction",),
    "recycle": (
        "recycle",
        "recycling",
        "environment",
        "environmental",
        "sustainability",
        "sustainable",
        "waste",
        "conservation",
    ),
    "paw": ("animal", "pet", "wildlife", "mammal", "zoology"),
    "bug": ("insect", "bug"),
    "fish": ("fish", "marine"),
    "gears": ("process", "mechanism", "machine", "engine"),
    "list-ol": ("step", "procedure", "instruction"),
    "puzzle-piece": ("puzzle", "problem"),
    "chess": ("chess", "strategy"),
    "lightbulb": ("invention", "inventor", "innovation", "creativity", "creative"),
    "briefcase": ("business", "career", "job", "employment"),
    "bullhorn": ("marketing", "advertising", "announcement"),
    "store": ("shop", "retail", "store"),
    "handshake": ("trade", "agreement", "negotiation", "partnership", "cooperation"),
    "newspaper": ("news", "journalism", "newspaper"),
    "film": ("film", "movie", "cinema"),
    "camera": ("photography", "photo", "camera"),
    "microphone": ("podcast", "interview"),
    "volume-high": ("sound", "acoustic", "audio", "noise"),
    "trophy": ("trophy", "award", "achievement", "success", "competition", "championship"),
    "person-running": ("sport", "athletics", "running", "exercise"),
    "futbol": ("football", "soccer"),
    "ruler": ("measurement", "measure", "length", "ruler"),
    "weight-scale": ("weight", "mass"),
    "face-smile": ("emotion", "emotional", "feeling", "happiness", "wellbeing"),
    "hand-holding-heart": ("charity", "volunteer", "donation", "kindness"),
    "house": ("house", "housing"),
    "bed": ("sleep", "sleeping"),
}

# Generic slide words: they name the slide's role, not its topic, so a topic word outweighs them.
GENERIC_ICONS: dict[str, tuple[str, ...]] = {
    "lightbulb": ("idea", "introduction", "intro", "overview", "welcome"),
    "list-check": ("summary", "conclusion", "recap", "review", "takeaway", "checklist"),
    "circle-question": ("question", "quiz", "faq"),
}

_STOP_WORDS = frozenset(
    """
    the and for with from into onto that this these those their there they them then than
    what when where which who whom whose why how are was were been being have has had having
    does did doing done can could will would should shall may might must not nor but its our
    your you his her hers she him all any each few more most other some such only own same
    too very just also about above after again against before below between both down during
    further here once out over under until upon while because through off per via within
    without like many much one two three four five six seven eight nine ten first second third
    use using used make makes made way ways thing things lot get gets let lets etc
    key main important basic basics part chapter slide example examples point points
    understanding understand learn know introducing concept concepts
    """.split()
)


@dataclass(frozen=True)
class Icon:
    """A Font Awesome icon: its name and the character of its glyph in the solid font."""

    name: str
    char: str


class IconsUnavailable(VideoforgeError):
    """The Font Awesome Free files (the `fontawesomefree` package) are not installed."""


# --- the package's files --------------------------------------------------------------------


def _package_file(*parts: str) -> Path:
    try:
        root = importlib.resources.files("fontawesomefree")
    except ModuleNotFoundError as exc:
        raise IconsUnavailable(
            "the fontawesomefree package is not installed (pip install fontawesomefree)"
        ) from exc
    path = Path(str(root.joinpath("static", "fontawesomefree", *parts)))
    if not path.is_file():
        raise IconsUnavailable(f"the fontawesomefree package has no file {path}")
    return path


@functools.lru_cache(maxsize=1)
def icon_font_path() -> Path:
    """Return the path of the installed Font Awesome Free solid font (fa-solid-900.ttf)."""
    return _package_file("webfonts", "fa-solid-900.ttf")


# --- words ----------------------------------------------------------------------------------


def _normalise(word: str) -> str:
    """Return a lower-case word with a simple plural ending stripped ("cities" -> "city")."""
    if word.endswith("ies") and len(word) - 2 >= _MIN_WORD:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "zes", "ches", "shes")) and len(word) - 2 >= _MIN_WORD:
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > _MIN_WORD:
        return word[:-1]
    return word


def _words(text: str) -> set[str]:
    """Return the normalised words of text worth matching: no stop words, none too short."""
    # Folding accents keeps "Révolution" one word instead of "r" and "volution".
    folded = unicodedata.normalize("NFKD", text[:_MAX_CHARS]).encode("ascii", "ignore")
    words = set()
    for raw in re.findall(r"[a-z]+", folded.decode("ascii").lower()):
        if len(raw) < _MIN_WORD or raw in _STOP_WORDS:
            continue
        word = _normalise(raw)
        if word not in _STOP_WORDS:
            words.add(word)
    return words


# --- the index --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Index:
    icons: dict[str, Icon]
    hits: dict[str, dict[str, int]]  # word -> {icon name: the points it earns that icon}


def _add_hit(hits: dict[str, dict[str, int]], word: str, name: str, points: int) -> None:
    per_icon = hits.setdefault(word, {})
    if per_icon.get(name, 0) < points:
        per_icon[name] = points


def _usable(meta: dict) -> bool:
    return (
        "solid" in meta.get("free", ())
        and "brands" not in meta.get("styles", ())
        # Icons on ASCII code points are digits, letters and punctuation ("0", "a", "percent").
        and int(meta["unicode"], 16) >= 0x80
    )


@functools.lru_cache(maxsize=1)
def _index() -> _Index:
    """Build the icon index from icons.json (once per process)."""
    metadata = json.loads(_package_file("metadata", "icons.json").read_bytes())
    icons: dict[str, Icon] = {}
    hits: dict[str, dict[str, int]] = {}
    for name, meta in metadata.items():
        if not _usable(meta):
            continue
        icons[name] = Icon(name, chr(int(meta["unicode"], 16)))
        parts = name.split("-")
        if len(parts) == 1:
            _add_hit(hits, _normalise(name), name, _NAME)
        for part in parts:
            if len(part) >= _MIN_WORD:
                _add_hit(hits, _normalise(part), name, _NAME_PART)
        for term in meta.get("search", {}).get("terms", ()):
            for word in _words(str(term)):
                _add_hit(hits, word, name, _TERM)
    for table, points in ((CURATED_ICONS, _CURATED), (GENERIC_ICONS, _GENERIC)):
        for name, words in table.items():
            if name not in icons:
                log.warning("curated icon %r is not a free solid icon; skipped", name)
                continue
            for word in words:
                _add_hit(hits, _normalise(word), name, points)
    return _Index(icons, hits)


def icon_named(name: str) -> Icon:
    """Return the free solid icon of a Font Awesome name; raise KeyError if there is none."""
    return _index().icons[name]


def indexed_icon_count() -> int:
    """Return how many icons choose_icon picks from."""
    return len(_index().icons)


# --- choosing -------------------------------------------------------------------------------


def choose_icon(title: str, bullets: Sequence[str] = ()) -> Icon:
    """Choose the icon that best matches a slide's title and bullets (the same answer always).

    Each word earns the icons it matches points (curated topic > whole name > name part >
    generic slide word > search term), times 3 in the title and 1 for each bullet with it;
    the highest total wins, ties going to the first name in alphabetical order. A slide with
    no matching word gets the light bulb.
    """
    weights: dict[str, int] = {}
    for word in _words(title or ""):
        weights[word] = weights.get(word, 0) + _TITLE_WEIGHT
    for bullet in list(bullets or ())[:_MAX_BULLETS]:
        for word in _words(bullet or ""):
            weights[word] = weights.get(word, 0) + _BULLET_WEIGHT
    index = _index()
    scores: dict[str, int] = {}
    for word, weight in weights.items():
        for name, points in index.hits.get(word, {}).items():
            scores[name] = scores.get(name, 0) + weight * points
    if not scores:
        return index.icons[FALLBACK_ICON]
    best = min(scores, key=lambda name: (-scores[name], name))
    return index.icons[best]


# --- drawing --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(icon_font_path()), size, layout_engine=ImageFont.Layout.BASIC)


def _ink(char: str, size: int) -> Box:
    """Return the box the glyph's ink covers at size, relative to its left/ascender anchor."""
    font = _font(size)
    x0, y0, x1, y1 = font.getbbox(char, anchor="la")
    # getbbox gives the outline's control box, a few pixels wider than the ink of a curved
    # glyph; the rendered mask gives the ink itself.
    mask, (dx, dy) = font.getmask2(char, mode="L", anchor="la")
    ink = mask.getbbox()
    if ink is None:
        return int(x0), int(y0), int(x0), int(y0)
    return dx + ink[0], dy + ink[1], dx + ink[2], dy + ink[3]


def _fits(char: str, size: int, width: int, height: int) -> bool:
    x0, y0, x1, y1 = _ink(char, size)
    return x1 - x0 <= width and y1 - y0 <= height


@functools.lru_cache(maxsize=256)
def _fitting_size(char: str, width: int, height: int) -> int:
    """Return the largest font size at which the glyph's ink fits width x height (at least 1)."""
    reference = 200
    x0, y0, x1, y1 = _ink(char, reference)
    if x1 <= x0 or y1 <= y0:
        return 1
    # Ink grows about linearly with the size; the estimate is then corrected for rounding.
    size = int(reference * min(width / (x1 - x0), height / (y1 - y0)))
    size = max(1, min(size, _MAX_FONT_SIZE))
    while size > 1 and not _fits(char, size, width, height):
        size -= 1
    while size < _MAX_FONT_SIZE and _fits(char, size + 1, width, height):
        size += 1
    return size


def draw_icon(image: Image.Image, box: Box, icon: Icon, fill: RGB) -> Box:
    """Draw an icon's glyph as large as its ink fits inside box, centred, in fill.

    Returns the ink box drawn (right and bottom exclusive); an empty box draws nothing and
    returns an empty box at its top left.
    """
    left, top, right, bottom = box
    width, height = right - left, bottom - top
    if width <= 0 or height <= 0:
        return left, top, left, top
    size = _fitting_size(icon.char, width, height)
    x0, y0, x1, y1 = _ink(icon.char, size)
    x = left + (width - (x1 - x0)) // 2 - x0
    y = top + (height - (y1 - y0)) // 2 - y0
    ImageDraw.Draw(image).text((x, y), icon.char, font=_font(size), fill=fill, anchor="la")
    return x + x0, y + y0, x + x1, y + y1
