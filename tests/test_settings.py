"""The settings table: from_env parses by it, and the README's tables are generated from it."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from videoforge.core.settings import (
    GROUPS,
    Choice,
    CommaList,
    ConfigError,
    Directory,
    Float,
    Int,
    Setting,
    Settings,
    Text,
    UpperText,
    settings_rows,
    settings_table,
)

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
FIELDS = dataclasses.fields(Settings)
NAMES = {f.metadata["setting"].env for f in FIELDS if "setting" in f.metadata}

# Variables the README may name that the service does not read: the tests read them
# (tests/conftest.py, tests/test_browser.py), so they are no settings.
TEST_ONLY = {
    "VIDEOFORGE_TEST_POSTGRES_URL",
    "VIDEOFORGE_REQUIRE_POSTGRES",
    "VIDEOFORGE_REQUIRE_BROWSER",
    "VIDEOFORGE_UPDATE_DOCS_SCREENSHOTS",
}
VARIABLE = re.compile(
    r"\b(?:VIDEOFORGE_[A-Z0-9_]+|OPENAI_[A-Z0-9_]+|DATABASE_URL|HOST|PORT"
    r"|[A-Z0-9_]+_API_KEY|[A-Z0-9_]+_ACCESS_KEY)\b"
)


# --- the table is complete ------------------------------------------------------------------


def test_every_field_is_a_setting_with_help_and_a_group():
    # So a setting cannot be added without its variable, parser and documentation.
    for f in FIELDS:
        row = f.metadata.get("setting")
        assert isinstance(row, Setting), f"{f.name} is not declared with setting(...)"
        assert row.help.strip() and "|" not in row.help, f.name
        assert row.group in GROUPS, f.name
        assert callable(row.parser), f.name


def test_each_variable_belongs_to_one_field():
    assert len(NAMES) == len(FIELDS)


def test_secrets_stay_out_of_the_repr():
    secret = {f.name for f in FIELDS if f.metadata["setting"].secret}
    assert secret == {
        "database_url",
        "api_token",
        "unsplash_access_key",
        "pexels_api_key",
        "openai_api_key",
    }
    values = {name: f"hidden-{name}" for name in secret}
    text = repr(Settings(**values))
    assert not any(value in text for value in values.values())


# --- the README ----------------------------------------------------------------------------


@pytest.mark.parametrize("group", GROUPS)
def test_the_readme_holds_each_groups_generated_table(group):
    table = settings_table(group)
    assert table in README, f"README.md should contain this table, verbatim:\n\n{table}"


def test_every_setting_is_in_exactly_one_table():
    rows = [row.env for group in GROUPS for _f, row in settings_rows(group)]
    assert sorted(rows) == sorted(NAMES)
    for name in NAMES:
        rows_naming = re.findall(rf"^\| `{name}` \|", README, flags=re.MULTILINE)
        assert len(rows_naming) == 1, name


def test_every_variable_the_readme_names_is_a_setting():
    named = set(VARIABLE.findall(README))
    assert named - TEST_ONLY <= NAMES, "README names variables the code does not read"


def test_the_test_only_variables_are_read_by_the_tests():
    # Keeps TEST_ONLY honest: each really is read by the test suite, not the service.
    tests = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").glob("*.py"))
    tests = tests.replace(Path(__file__).read_text(encoding="utf-8"), "")
    service = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "videoforge").rglob("*.py"))
    for name in TEST_ONLY:
        assert name in tests and name not in service, name


def test_defaults_are_shown_as_people_write_them():
    table = settings_table("stream") + settings_table("service") + settings_table("media")
    assert "| `VIDEOFORGE_HEARTBEAT_INTERVAL` | `2` |" in table
    assert "| `VIDEOFORGE_POLL_INTERVAL` | `0.5` |" in table
    assert "| `VIDEOFORGE_DATA_DIR` | `data` |" in table
    assert "| `DATABASE_URL` | SQLite file in the data dir |" in table
    assert "| `PEXELS_API_KEY` | unset |" in table
    assert "| `VIDEOFORGE_MEDIA_LIBRARY` | unset |" in table
    assert (
        "| `VIDEOFORGE_IMAGE_SOURCES` | `library,openverse,wikimedia,unsplash,pexels,openai` |"
        in table
    )
    assert "(0 to 65535)" in table


def test_an_unknown_group_is_refused():
    with pytest.raises(ValueError):
        settings_table("nope")


# --- from_env --------------------------------------------------------------------------------


def test_an_empty_environment_gives_the_defaults():
    assert Settings.from_env({}) == Settings()
    settings = Settings.from_env({})
    assert settings.port == 8000 and settings.data_dir == Path("data")
    assert settings.cors_origins == ("http://localhost:5173",)
    assert settings.speech == "auto" and settings.log_level == "INFO"


def test_blank_values_mean_the_default_except_for_lists():
    blank = {row.env: "  " for _f, row in settings_rows()}
    settings = Settings.from_env(blank)
    lists = {f.name for f in FIELDS if isinstance(f.metadata["setting"].parser, CommaList)}
    assert lists == {"cors_origins", "image_sources", "allowed_hosts"}
    for f in FIELDS:
        assert getattr(settings, f.name) == (() if f.name in lists else f.default), f.name


def test_yes_and_no_settings():
    for raw, value in [("1", True), (" TRUE ", True), ("yes", True), ("on", True), ("0", False)]:
        assert Settings.from_env({"VIDEOFORGE_PUBLIC": raw}).public is value
    assert Settings.from_env({"VIDEOFORGE_PUBLIC": "off"}).public is False
    assert Settings.from_env({}).public is False
    with pytest.raises(ConfigError, match="VIDEOFORGE_PUBLIC must be 1, true, yes or on"):
        Settings.from_env({"VIDEOFORGE_PUBLIC": "maybe"})


def test_each_parser_kind():
    settings = Settings.from_env(
        {
            "PORT": " 9000 ",
            "VIDEOFORGE_POLL_INTERVAL": "0.25",
            "VIDEOFORGE_SPEECH": " Piper ",
            "VIDEOFORGE_CORS_ORIGINS": " https://a.example , ,https://b.example",
            "VIDEOFORGE_DATA_DIR": " /srv/vf ",
            "VIDEOFORGE_LOG_LEVEL": " debug ",
            "VIDEOFORGE_TEXT_MODEL": " llama3.1 ",
            "DATABASE_URL": " postgresql://u:p@h/db ",
        }
    )
    assert settings.port == 9000
    assert settings.poll_interval == 0.25
    assert settings.speech == "piper"
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.data_dir == Path("/srv/vf")
    assert settings.log_level == "DEBUG"
    assert settings.text_model == "llama3.1"
    assert settings.database == "postgresql://u:p@h/db"


def test_an_empty_list_means_none():
    assert Settings.from_env({"VIDEOFORGE_CORS_ORIGINS": ""}).cors_origins == ()
    assert Settings.from_env({"VIDEOFORGE_IMAGE_SOURCES": " , "}).image_sources == ()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PORT": "x"}, "PORT must be a whole number, got 'x'"),
        ({"PORT": "8000.5"}, "PORT must be a whole number, got '8000.5'"),
        ({"PORT": "70000"}, "PORT must be between 0 and 65535, got 70000"),
        ({"VIDEOFORGE_THREADS": "2"}, "VIDEOFORGE_THREADS must be between 4 and 4096, got 2"),
        (
            {"VIDEOFORGE_SPEECH": "x"},
            "VIDEOFORGE_SPEECH must be one of auto, piper, openai, got 'x'",
        ),
        (
            {"VIDEOFORGE_POLL_INTERVAL": "soon"},
            "VIDEOFORGE_POLL_INTERVAL must be a number, got 'soon'",
        ),
        (
            {"VIDEOFORGE_POLL_INTERVAL": "nan"},
            "VIDEOFORGE_POLL_INTERVAL must be between 0.01 and 10, got nan",
        ),
        (
            {"VIDEOFORGE_WAITING_PERIOD": "-1"},
            "VIDEOFORGE_WAITING_PERIOD must be between 0 and 600, got -1.0",
        ),
    ],
)
def test_bad_values_are_refused_naming_the_variable(env, message):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert str(caught.value) == message


def test_parsers_on_their_own():
    assert Int(1, 3)("N", None, 2) == 2
    assert Float(0, 1)("N", " 1 ", 0.5) == 1.0
    assert Choice("a", "b")("N", "B", "a") == "b"
    assert CommaList()("N", None, ("x",)) == ("x",)
    assert CommaList()("N", "", ("x",)) == ()
    assert Text()("N", " ", "d") == "d"
    assert UpperText()("N", None, "info") == "INFO"
    assert Directory()("N", "", Path("data")) == Path("data")


def test_derived_properties():
    settings = Settings.from_env({"OPENAI_API_KEY": "k", "VIDEOFORGE_DATA_DIR": "/d"})
    assert settings.text_model_configured and settings.cloud_speech
    assert settings.secrets == ("k",)
    url = "postgresql://u:pw@db/x"
    assert Settings.from_env({"DATABASE_URL": url, "VIDEOFORGE_API_TOKEN": "t"}).secrets == (
        url,
        "t",
    )
    assert settings.runs_dir == Path("/d/runs")
    assert Settings.from_env({}).database.endswith("/data/videoforge.db")
    assert not Settings.from_env({"OPENAI_API_KEY": "k", "VIDEOFORGE_SPEECH": "piper"}).cloud_speech
