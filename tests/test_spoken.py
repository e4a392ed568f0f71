"""Tests of the spoken form of narration (videoforge.core.spoken) and of the sentence
splitting that runs before it (captions keep the written form of each sentence)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from videoforge.core.spoken import spoken_form
from videoforge.core.text import split_sentences

# (written, spoken) in English, by category.
CASES = [
    # years
    ("In 1850 the railway reached the town.", "In eighteen fifty the railway reached the town."),
    ("The bridge was finished in 1905.", "The bridge was finished in nineteen oh five."),
    (
        "By 1900 the city had a million people.",
        "By nineteen hundred the city had a million people.",
    ),
    ("The year 2000 was a leap year.", "The year two thousand was a leap year."),
    ("The crisis of 2008 shook the banks.", "The crisis of two thousand eight shook the banks."),
    ("In 2024 the probe reached orbit.", "In twenty twenty-four the probe reached orbit."),
    ("Music changed in the 1990s.", "Music changed in the nineteen nineties."),
    ("The Normans invaded England in 1066.", "The Normans invaded England in ten sixty-six."),
    ("Rome fell in 476.", "Rome fell in four hundred seventy-six."),
    ("Cities grew fast in the 1800s.", "Cities grew fast in the eighteen hundreds."),
    ("Protest songs filled the '60s.", "Protest songs filled the sixties."),
    # year ranges and other ranges
    (
        "The Great War lasted 1914–1918.",
        "The Great War lasted nineteen fourteen to nineteen eighteen.",
    ),
    (
        "The Great War lasted 1914-1918.",
        "The Great War lasted nineteen fourteen to nineteen eighteen.",
    ),
    (
        "The war of 1939 - 1945 reshaped Europe.",
        "The war of nineteen thirty-nine to nineteen forty-five reshaped Europe.",
    ),
    ("Read pages 10–20 before class.", "Read pages ten to twenty before class."),
    # plain and large numbers
    ("The village had 1,200 inhabitants.", "The village had one thousand two hundred inhabitants."),
    (
        "About 3,000,000 people live in the region.",
        "About three million people live in the region.",
    ),
    ("The budget grew to 2.5 million.", "The budget grew to two point five million."),
    ("The fleet had 12 ships.", "The fleet had twelve ships."),
    (
        "The census counted 1,850 farms.",
        "The census counted one thousand eight hundred fifty farms.",
    ),
    ("The mine produced 4500 tonnes.", "The mine produced four thousand five hundred tonnes."),
    ("The galaxy holds 100,000,000,000 stars.", "The galaxy holds one hundred billion stars."),
    # decimals and negative numbers
    ("Pi is about 3.14.", "Pi is about three point one four."),
    ("The probability is 0.5.", "The probability is zero point five."),
    ("Temperatures fell to -5 overnight.", "Temperatures fell to minus five overnight."),
    ("The well-known result still holds.", "The well-known result still holds."),
    ("Python 3.11.7 is installed.", "Python three point eleven point seven is installed."),
    # currency
    (
        "The house cost $1,200 in 1850.",
        "The house cost one thousand two hundred dollars in eighteen fifty.",
    ),
    ("A loaf of bread cost $3.50.", "A loaf of bread cost three dollars and fifty cents."),
    ("Entry is $1 for students.", "Entry is one dollar for students."),
    ("Tickets cost €20 each.", "Tickets cost twenty euros each."),
    ("The book costs £5.99.", "The book costs five pounds and ninety-nine pence."),
    ("A bowl of rice costs ¥100.", "A bowl of rice costs one hundred yen."),
    ("The company raised $2 billion.", "The company raised two billion dollars."),
    ("A stamp cost $0.05 then.", "A stamp cost five cents then."),
    ("The plan costs $5/month.", "The plan costs five dollars per month."),
    ("They lost $3.5M in a year.", "They lost three point five million dollars in a year."),
    # percentages
    ("Turnout reached 45%.", "Turnout reached forty-five percent."),
    ("The economy grew 3.5 % last year.", "The economy grew three point five percent last year."),
    ("Prices rose 2-3% a year.", "Prices rose two to three percent a year."),
    # units and temperatures
    ("The trail is 5 km long.", "The trail is five kilometers long."),
    ("The sample weighs 1 kg.", "The sample weighs one kilogram."),
    ("The wind blew at 10 m/s.", "The wind blew at ten meters per second."),
    ("The train runs at 100 km/h.", "The train runs at one hundred kilometers per hour."),
    ("The speed limit is 60 mph.", "The speed limit is sixty miles per hour."),
    ("Add 5 ml of acid.", "Add five milliliters of acid."),
    ("The file is 2 GB.", "The file is two gigabytes."),
    ("The leaf is 3 cm wide.", "The leaf is three centimeters wide."),
    ("Gravity pulls at 9.8 m/s².", "Gravity pulls at nine point eight meters per second squared."),
    ("The lake covers 5 km².", "The lake covers five square kilometers."),
    ("She ran a 5-km race.", "She ran a five-kilometer race."),
    ("It was 25°C in the shade.", "It was twenty-five degrees Celsius in the shade."),
    ("At night it fell to -3 °F.", "At night it fell to minus three degrees Fahrenheit."),
    ("Turn the plate 90° clockwise.", "Turn the plate ninety degrees clockwise."),
    ("Water freezes at 0 °C.", "Water freezes at zero degrees Celsius."),
    # ordinals
    ("She finished 1st, he came 2nd.", "She finished first, he came second."),
    ("He was 3rd in line.", "He was third in line."),
    ("The 22nd Amendment limits terms.", "The twenty-second Amendment limits terms."),
    ("The 101st Airborne landed.", "The one hundred first Airborne landed."),
    ("The 19th century saw railways spread.", "The nineteenth century saw railways spread."),
    # dates
    (
        "The museum opened on Jan. 5, 2024.",
        "The museum opened on January fifth, twenty twenty-four.",
    ),
    (
        "The treaty was signed on 5 January 2024.",
        "The treaty was signed on the fifth of January twenty twenty-four.",
    ),
    ("The launch was on 2024-01-05.", "The launch was on January fifth, twenty twenty-four."),
    ("Americans celebrate on July 4.", "Americans celebrate on July fourth."),
    (
        "The Declaration was adopted on July 4th, 1776.",
        "The Declaration was adopted on July fourth, seventeen seventy-six.",
    ),
    ("The storm hit on the 3rd of March.", "The storm hit on the third of March."),
    ("Harvest ends in Sept. and Oct.", "Harvest ends in September and October."),
    # times
    ("The lecture starts at 3:30 pm.", "The lecture starts at three thirty p m."),
    ("The train leaves at 10:05.", "The train leaves at ten oh five."),
    ("The shop opens at 9 a.m. sharp.", "The shop opens at nine a m sharp."),
    ("The market closes at 5 p.m.", "The market closes at five p m."),
    ("The shift starts at 14:00.", "The shift starts at fourteen hundred."),
    ("We meet at 10:00 every day.", "We meet at ten o'clock every day."),
    # fractions
    ("Add 1/2 cup of flour.", "Add one half cup of flour."),
    ("Fill 3/4 of the tank.", "Fill three quarters of the tank."),
    ("About 2/3 of voters agreed.", "About two thirds of voters agreed."),
    ("The recipe needs 1 1/2 cups of sugar.", "The recipe needs one and a half cups of sugar."),
    ("Stir for 2½ minutes.", "Stir for two and a half minutes."),
    ("Add ¼ teaspoon of salt.", "Add one quarter teaspoon of salt."),
    # abbreviations
    ("Metals, e.g. iron, conduct heat.", "Metals, for example iron, conduct heat."),
    ("The capital, i.e. Paris, grew.", "The capital, that is Paris, grew."),
    ("They traded silk, spices, etc.", "They traded silk, spices, et cetera."),
    ("They traded silk, spices, etc. and gold.", "They traded silk, spices, et cetera and gold."),
    ("It was Athens vs. Sparta.", "It was Athens versus Sparta."),
    ("Dr. Smith discovered the cause.", "Doctor Smith discovered the cause."),
    (
        "Mr. and Mrs. Curie met Ms. Lee and Prof. Bohr.",
        "Mister and Missus Curie met Miz Lee and Professor Bohr.",
    ),
    ("St. Petersburg was founded by Peter.", "Saint Petersburg was founded by Peter."),
    ("The climb takes approx. 6 hours.", "The climb takes approximately six hours."),
    ("No. 5 was the winning entry.", "Number five was the winning entry."),
    (
        "Martin Luther King Jr. spoke in Washington.",
        "Martin Luther King Junior spoke in Washington.",
    ),
    ("See Fig. 3 for the map.", "See Figure three for the map."),
    ("You may bring a pen and/or a pencil.", "You may bring a pen and or a pencil."),
    ("Smith et al. measured it.", "Smith and others measured it."),
    # acronyms and initialisms
    ("NASA and NATO were founded after the war.", "NASA and NATO were founded after the war."),
    ("UNESCO protects the site.", "UNESCO protects the site."),
    ("DNA carries genetic information.", "D N A carries genetic information."),
    ("The CPU runs at 3 GHz.", "The C P U runs at three gigahertz."),
    ("Modern CPUs have many cores.", "Modern C P Us have many cores."),
    ("The FBI and the CIA disagreed.", "The F B I and the C I A disagreed."),
    ("The WHO declared COVID a pandemic.", "The W H O declared COVID a pandemic."),
    ("The U.S. economy grew.", "The U S economy grew."),
    ("Many settlers moved to the U.S.", "Many settlers moved to the U S."),
    ("World War II ended in 1945.", "World War II ended in nineteen forty-five."),
    ("Water is H2O.", "Water is H two O."),
    # symbols
    ("Research & development costs rose.", "Research and development costs rose."),
    ("R&D budgets doubled.", "R and D budgets doubled."),
    ("We know that 2 + 2 = 4.", "We know that two plus two equals four."),
    ("The area is 3 × 4 square meters.", "The area is three times four square meters."),
    ("Then 12 ÷ 4 gives 3.", "Then twelve divided by four gives three."),
    ("The ratio is ≈ 1.6.", "The ratio is approximately one point six."),
    ("The town had ~5 churches.", "The town had about five churches."),
    (
        "Here x ≥ 0 and y ≤ 1.",
        "Here x greater than or equal to zero and y less than or equal to one.",
    ),
    ("Is 3 < 5 and 7 > 2?", "Is three less than five and seven greater than two?"),
    ("Meet us @ the museum.", "Meet us at the museum."),
    ("The song reached #1 in 1965.", "The song reached number one in nineteen sixty-five."),
    ("Ice → water → steam.", "Ice to water to steam."),
    ("A circle's area is π r².", "A circle's area is pi r squared."),
    ("Use C++ for speed.", "Use C plus plus for speed."),
    (
        "The arc spans 30°, about ½ of the range.",
        "The arc spans thirty degrees, about one half of the range.",
    ),
    # punctuation and untouched words
    ("Why did Rome fall in 476?", "Why did Rome fall in four hundred seventy-six?"),
    ('She said, "It costs $5!"', 'She said, "It costs five dollars!"'),
    (
        "The river, which is 6,650 km long, floods yearly.",
        "The river, which is six thousand six hundred fifty kilometers long, floods yearly.",
    ),
    ("Nothing here changes at all.", "Nothing here changes at all."),
    ("WELCOME TO THE COURSE", "WELCOME TO THE COURSE"),
]


@pytest.mark.parametrize(("written", "spoken"), CASES)
def test_spoken_form_reads_english_aloud(written, spoken):
    assert spoken_form(written) == spoken


def test_the_table_covers_enough_cases():
    assert len(CASES) >= 80
    assert len({written for written, _ in CASES}) == len(CASES)


@pytest.mark.parametrize(("written", "spoken"), CASES)
def test_spoken_form_is_idempotent(written, spoken):
    assert spoken_form(spoken_form(written)) == spoken_form(written)


@pytest.mark.parametrize(("written", "spoken"), CASES)
def test_spoken_form_adds_no_sentence_ends(written, spoken):
    result = spoken_form(written)
    assert result.count(".") <= written.count(".")
    assert (result.count("!"), result.count("?")) == (written.count("!"), written.count("?"))
    assert result[-1] == written[-1] or written[-1] not in '.!?"'


@pytest.mark.parametrize(
    "language", ["en", "EN", "en-US", "en_GB", "en-au", "English", " english "]
)
def test_english_in_any_spelling(language):
    assert spoken_form("It is 5 km.", language) == "It is five kilometers."


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("de", "Im Jahr 1850 kostete es $5, z.B. 3 km und 25°C. Die DNA!"),
        ("fr", "En 1914–1918, 45% des hommes, Dr. Dupont & Cie."),
        ("hi", "सन 1947 में 3:30 बजे भारत स्वतंत्र हुआ।"),
        ("es", "El 5 de enero de 2024 costó €20."),
        ("de-DE", "Nr. 5: 1/2 Liter"),
    ],
)
def test_other_languages_pass_through_unchanged(language, text):
    assert spoken_form(text, language) == text


PRONUNCIATIONS = {"Nguyen": "win", "GIF": "jiff", "New York": "noo york", "SQL": "sequel"}


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        ("Dr. Nguyen explained it.", "Doctor win explained it."),
        ("A GIF from 1987 went viral.", "A jiff from nineteen eighty-seven went viral."),
        ("Nguyen's GIF is in New York.", "win's jiff is in noo york."),
        ("The SQL standard is not spelled S Q L.", "The sequel standard is not spelled S Q L."),
        ("Any case: nguyen and gif.", "Any case: win and jiff."),
        ("Whole words only: Nguyens and GIFs.", "Whole words only: Nguyens and GIFs."),
        ("Spaces: New   York grew.", "Spaces: noo york grew."),
    ],
)
def test_pronunciations_apply_to_whole_words_and_phrases(written, spoken):
    assert spoken_form(written, "en", PRONUNCIATIONS) == spoken


def test_pronunciations_prefer_exact_case_and_the_longest_key():
    pronunciations = {"US": "you ess", "us": "uss", "York": "yawk", "New York": "noo york"}
    assert spoken_form("The US and us in New York.", "en", pronunciations) == (
        "The you ess and uss in noo york."
    )


def test_pronunciations_apply_in_other_languages_with_numbers_untouched():
    text = "Frau Nguyen kam 1850 nach Berlin und zahlte $5."
    assert (
        spoken_form(text, "de", {"Nguyen": "Win"}) == "Frau Win kam 1850 nach Berlin und zahlte $5."
    )
    assert spoken_form("श्री Nguyen 1947 में", "hi", {"Nguyen": "विन"}) == "श्री विन 1947 में"


def test_pronunciation_keys_are_literal_text_not_regexes():
    pronunciations = {"C++": "see plus plus", "a.b": "A dot B", "(x)": "ex", ".*": "anything"}
    assert spoken_form("We code C++ and a.b, (x) too.", "en", pronunciations) == (
        "We code see plus plus and A dot B, ex too."
    )
    assert spoken_form("axb stays, C+ stays.", "en", pronunciations) == "axb stays, C plus stays."
    assert spoken_form("Nothing matches .* here? No: .* does.", "de", pronunciations) == (
        "Nothing matches anything here? No: anything does."
    )


def test_pronunciation_values_are_literal_and_not_rewritten():
    pronunciations = {"Nguyen": r"\1 win", "ACME": "ACME 2000"}
    assert spoken_form("Nguyen of ACME.", "en", pronunciations) == r"\1 win of ACME 2000."


@pytest.mark.parametrize("pronunciations", [None, {}, {"": "nothing", "  ": "blank"}])
def test_no_pronunciations(pronunciations):
    assert spoken_form("DNA in 1953.", "en", pronunciations) == "D N A in nineteen fifty-three."


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_spoken_form_never_raises(text):
    assert isinstance(spoken_form(text), str)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text(alphabet=st.sampled_from("0123456789 ,.-–:/$€£%°CFkmsg+=&~<>#@½×πaApPmMJanDecNASA")),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
    st.sampled_from(["en", "de", "en_GB", ""]),
)
def test_spoken_form_never_raises_on_number_like_text(text, pronunciations, language):
    assert isinstance(spoken_form(text, language, pronunciations), str)


# --- sentence splitting before normalisation ---------------------------------------------------

# split_sentences runs first: each sentence's written form is its caption and its spoken
# form goes to the speech engine, so no abbreviation or number may end a sentence early.
SPLITS = [
    (
        "Metals, e.g. iron, conduct heat. Glass does not.",
        ["Metals, e.g. iron, conduct heat.", "Glass does not."],
    ),
    ("Some, i.e. Rome, fell. Others rose.", ["Some, i.e. Rome, fell.", "Others rose."]),
    ("Dr. Smith found it. It mattered.", ["Dr. Smith found it.", "It mattered."]),
    ("It opened on Jan. 5, 2024. Crowds came.", ["It opened on Jan. 5, 2024.", "Crowds came."]),
    ("Silk, spices, etc. and gold. Then war.", ["Silk, spices, etc. and gold.", "Then war."]),
    ("Pi is 3.14 roughly. It is irrational.", ["Pi is 3.14 roughly.", "It is irrational."]),
    ("The U.S. economy grew. Europe slowed.", ["The U.S. economy grew.", "Europe slowed."]),
    ("No. 5 won. No. 6 lost.", ["No. 5 won.", "No. 6 lost."]),
    (
        "They traded silk, spices, etc. Then came war.",
        ["They traded silk, spices, etc.", "Then came war."],
    ),
    ("Settlers moved to the U.S. Many stayed.", ["Settlers moved to the U.S.", "Many stayed."]),
    ("It ended at 5 p.m. sharp. We left.", ["It ended at 5 p.m. sharp.", "We left."]),
    ("It cost $3.50 in 1850. Prices rose.", ["It cost $3.50 in 1850.", "Prices rose."]),
]


@pytest.mark.parametrize(("text", "sentences"), SPLITS)
def test_split_sentences_keeps_abbreviations_and_numbers_inside_sentences(text, sentences):
    assert split_sentences(text) == sentences


def test_captions_keep_the_written_form_and_speech_gets_the_spoken_form():
    narration = "Dr. Smith moved to the U.S. in 1850. He paid $1,200, i.e. a fortune, etc."
    sentences = split_sentences(narration)
    assert sentences == [
        "Dr. Smith moved to the U.S. in 1850.",
        "He paid $1,200, i.e. a fortune, etc.",
    ]
    assert [spoken_form(s) for s in sentences] == [
        "Doctor Smith moved to the U S in eighteen fifty.",
        "He paid one thousand two hundred dollars, that is a fortune, et cetera.",
    ]
