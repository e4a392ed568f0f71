"""The studio in a real browser: outline, progress, player, slides, edit and re-render, deck, cancel.

Chromium (the Debian package, driven by Playwright) uses the page served by the real serve.py,
with the real worker.py running the real offline pipeline (Piper, Pillow, ffmpeg). Screenshots
of each stage, at desktop and phone widths, are kept in test-artifacts/screenshots/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from tests.helpers import ROOT, request_json
from videoforge.core.animation_spec import ANIMATIONS
from videoforge.core.stages import STAGES

STATIC = ROOT / "videoforge" / "web" / "static"
SHOTS = ROOT / "test-artifacts" / "screenshots"
DOCS_SHOTS = ROOT / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}

OUTLINE = [
    (
        "How tides work",
        ["The Moon pulls on the oceans", "Water bulges toward it"],
        "The Moon pulls on the oceans, and the water bulges toward it.",
    ),
    (
        "Two tides a day",
        ["The Earth turns under two bulges"],
        "The Earth turns under two bulges, so most coasts see two high tides a day.",
    ),
    (
        "Spring tides",
        ["Sun and Moon line up", "The bulges add up"],
        "When the Sun and the Moon line up, their pulls add up and the tides grow.",
    ),
]
NEW_NARRATION = "Every day the Earth turns under both bulges of water, so a coast meets two."
LONG_DOCUMENT = "# Ocean currents\n\n" + "\n\n".join(
    f"## Current {i}\n\n"
    + " ".join(
        f"Sentence {j} about current {i} explains how warm and cold water move around the globe."
        for j in range(12)
    )
    for i in range(1, 7)
)


def _table(name: str) -> list:
    """Read one of the JSON tables of static/contract.js."""
    text = (STATIC / "contract.js").read_text(encoding="utf-8")
    match = re.search(rf"export const {name} = (\[.*?\n\]);", text, re.S)
    assert match, f"contract.js has no table {name}"
    return json.loads(match.group(1))


def test_the_pages_step_list_follows_the_stage_tables_order():
    steps = _table("STEPS")
    order = [stage.status for stage in STAGES]
    listed = [status for step in steps for status in step["statuses"]]
    assert listed == sorted(listed, key=order.index)  # in the contract's order
    run_statuses = set(order) - {"connected", "error", "done"}  # the stream's own, and failure
    assert set(listed) == run_statuses


def test_the_pages_animation_editor_knows_every_type_and_field_of_the_table():
    page = [
        {
            "name": a["name"],
            "fields": [
                (
                    f["name"],
                    f["kind"],
                    tuple(f["count"]) if "count" in f else None,
                    bool(f.get("optional")),
                )
                for f in a["fields"]
            ],
        }
        for a in _table("ANIMATIONS")
    ]
    table = [
        {
            "name": a.name,
            "fields": [(f.name, f.kind, f.count, f.optional) for f in a.fields],
        }
        for a in ANIMATIONS
    ]
    assert page == table


class Studio:
    """One browser tab on the studio, collecting console errors and taking screenshots."""

    def __init__(self, browser, base: str, shots: Path):
        self.context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on(
            "console",
            lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None,
        )
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.shots = shots
        shots.mkdir(parents=True, exist_ok=True)
        self.page.goto(base + "/")
        self.page.wait_for_selector("body[data-ready]", state="attached")

    def shoot(self, name: str, section: str | None = None) -> None:
        """Save the page at desktop and phone widths (the whole page, and the section shown)."""
        page = self.page
        for width, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(viewport)
            if section:
                page.locator(section).scroll_into_view_if_needed()
                page.locator(section).screenshot(path=self.shots / f"{name}-{width}.png")
            else:
                page.screenshot(path=self.shots / f"{name}-{width}.png", full_page=True)
        page.set_viewport_size(DESKTOP)

    def log(self) -> str:
        return self.page.inner_text("#log")

    def wait_for_log(self, text: str, timeout: float = 180_000) -> None:
        self.page.wait_for_function(
            "(t) => document.getElementById('log').textContent.includes(t)",
            arg=text,
            timeout=timeout,
        )

    def record_progress(self) -> None:
        """Record every value of the bar and every step marked current, as the page sets them."""
        self.page.evaluate(
            """() => {
              window.__bars = []; window.__steps = [];
              const bar = document.getElementById('bar');
              new MutationObserver(() => window.__bars.push(bar.value))
                .observe(bar, {attributes: true});
              const steps = document.getElementById('steps');
              const note = () => {
                const cur = steps.querySelector('[aria-current=step]');
                if (cur) window.__steps.push(Number(cur.dataset.step));
                window.__done = steps.querySelectorAll('.done').length;
              };
              new MutationObserver(note).observe(steps, {attributes: true, subtree: true, childList: true});
            }"""
        )


def _card(page, n: int):
    return page.locator(".slide-card").nth(n - 1)


def _fill_card(page, n: int, title: str, bullets: list[str], narration: str) -> None:
    card = _card(page, n)
    card.locator("[name=title]").fill(title)
    card.locator("[name=bullets]").fill("\n".join(bullets))
    card.locator("[name=narration]").fill(narration)


@pytest.mark.server
@pytest.mark.slow
@pytest.mark.browser
def test_the_studio_builds_plays_edits_rerenders_exports_and_cancels_without_console_errors(
    service, browser, tmp_path
):
    service.start_web()
    service.start_worker(pipeline=None)
    studio = Studio(browser, service.base, SHOTS)
    page = studio.page

    # --- build a 3-slide outline in the editor (adding four, deleting one, moving one) -------
    assert page.locator(".slide-card").count() == 1
    for _ in range(3):
        page.click("#add-slide")
    assert page.locator(".slide-card").count() == 4
    _fill_card(page, 1, *OUTLINE[0])
    _fill_card(page, 2, *OUTLINE[2])  # in the wrong place: moved below
    _fill_card(page, 3, *OUTLINE[1])
    _fill_card(page, 4, "Draft", ["to be deleted"], "")
    _card(page, 4).locator("[data-action=delete]").click()
    _card(page, 3).locator("[data-action=up]").click()
    assert page.locator(".slide-card").count() == 3
    titles = [_card(page, n).locator("[name=title]").input_value() for n in (1, 2, 3)]
    assert titles == [s[0] for s in OUTLINE]
    third = _card(page, 3)
    third.locator("[name=visual]").select_option("animation")
    third.locator("[name=anim-type]").select_option("flow")
    third.locator("[name=anim-steps]").fill("New moon\nSun and Moon in line\nHigh spring tide")
    page.select_option("#size", "1280x720")
    page.select_option("#tone", "casual")
    studio.shoot("01-editor", "#create")

    # --- generate: the bar reaches 100 and the step list advances ---------------------------
    studio.record_progress()
    page.click("#go")
    page.wait_for_function(
        "document.querySelector('#steps .current') || document.getElementById('bar').value >= 100"
    )
    studio.shoot("02-progress", "#progress")
    studio.wait_for_log("Video generation complete")
    page.wait_for_function("document.getElementById('bar').value === 100")
    bars = page.evaluate("window.__bars")
    assert bars == sorted(bars) and bars[-1] == 100, bars
    steps = page.evaluate("window.__steps")
    assert steps == sorted(steps) and len(set(steps)) >= 5, steps  # it advanced, never back
    assert page.locator("#steps .done").count() == page.locator("#steps li").count()
    gid = "How_tides_work"
    _, status = request_json(service, "GET", f"/api/status/{gid}")
    assert status["run_status"] == "completed"

    # --- the result: player, captions, chapters, slides ----------------------------------------
    page.wait_for_selector("#result:not([hidden])")
    page.wait_for_function(
        "[...document.querySelectorAll('#thumbs img')].length === 3 && "
        "[...document.querySelectorAll('#thumbs img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    thumbs = page.locator("#thumbs .thumb")
    assert OUTLINE[1][2] in thumbs.nth(1).inner_text()  # narration beside its thumbnail
    assert page.eval_on_selector("#video", "v => v.poster").split("?")[0].endswith("/poster.jpg")
    played = page.evaluate(
        """async () => {
          const v = document.getElementById('video');
          v.muted = true;
          await v.play();
          window.__before = v.currentTime;
          return {w: v.videoWidth, h: v.videoHeight,
                  captions: v.textTracks.length && v.textTracks[0].mode};
        }"""
    )
    page.wait_for_function("document.getElementById('video').currentTime > window.__before + 0.3")
    page.evaluate("document.getElementById('video').pause()")
    assert played["w"] > 0 and (played["w"], played["h"]) == (1280, 720)
    assert played["captions"] == "showing"
    page.wait_for_function(
        "document.getElementById('video').textTracks[0].cues && "
        "document.getElementById('video').textTracks[0].cues.length > 0"
    )
    chapters = status["result"]["chapters"]
    assert page.locator("#chapters .chapter").count() == 3
    page.evaluate(
        "document.getElementById('video')"
        ".addEventListener('seeked', () => { window.__seeked = true; }, {once: true})"
    )
    page.locator("#chapters .chapter").nth(2).click()
    page.wait_for_function("window.__seeked === true")
    now = page.eval_on_selector("#video", "v => v.currentTime")
    assert abs(now - chapters[2]["start"]) < 0.05, (now, chapters[2])
    page.wait_for_selector("#chapters .chapter[aria-current=true]")
    assert "Spring tides" in page.inner_text("#chapters .chapter[aria-current=true]")
    studio.shoot("03-result", "#result")
    studio.shoot("04-slides", "#slides")

    # --- download the deck ---------------------------------------------------------------------
    with page.expect_download() as info:
        page.click("#downloads a:has-text('PPTX')")
    pptx_path = tmp_path / "deck.pptx"
    info.value.save_as(pptx_path)
    from pptx import Presentation

    deck = Presentation(str(pptx_path))
    assert len(deck.slides) == 3
    notes = [s.notes_slide.notes_text_frame.text for s in deck.slides]
    assert notes == [s[2] for s in OUTLINE]
    with page.expect_download() as info:
        page.click("#downloads a:has-text('PDF')")
    info.value.save_as(tmp_path / "deck.pdf")
    assert (tmp_path / "deck.pdf").read_bytes().startswith(b"%PDF")

    # --- edit one slide's narration and re-render: the other slides' audio is reused --------
    page.click("#edit")
    page.wait_for_function("document.getElementById('go').textContent === 'Re-render'")
    assert page.locator(".slide-card").count() == 3
    assert _card(page, 3).locator("[name=anim-steps]").input_value().startswith("New moon")
    _card(page, 2).locator("[name=narration]").fill(NEW_NARRATION)
    studio.shoot("05-edit", "#create")
    page.click("#go")
    # The first run's log stays until the new run's stream starts: wait for a message only
    # the new run sends before waiting for "complete", or the old log's "complete" matches.
    studio.wait_for_log("Reused audio for slide 3/3")
    studio.wait_for_log("Video generation complete")
    log = studio.log()
    assert "Reused audio for slide 1/3" in log and "Reused audio for slide 3/3" in log, log
    assert "Generated audio for slide 2/3" in log
    assert "Generated audio for slide 1/3" not in log and "Generated audio for slide 3/3" not in log
    _, generation = request_json(service, "GET", f"/api/generations/{gid}")
    assert [run["status"] for run in generation["history"]] == ["completed", "completed"]
    new_run = generation["run_id"]
    page.wait_for_function(
        "(run) => [...document.querySelectorAll('#thumbs img')].every("
        "i => i.src.includes('v=' + run) && i.complete && i.naturalWidth > 0)",
        arg=str(new_run),
    )
    assert NEW_NARRATION in page.locator("#thumbs .thumb").nth(1).inner_text()
    studio.shoot("06-rerendered", "#progress")

    # --- cancel a second run from the list of past generations ------------------------------
    page.click("#tab-document")
    page.fill("#source", LONG_DOCUMENT)
    page.fill("#doc-topic", "Ocean currents")
    page.click("#go")
    studio.wait_for_log("Generating audio for slide 1/")
    row = page.locator("#generations .generation[data-gid=Ocean_currents]")
    row.locator("[data-action=cancel]").click()
    studio.wait_for_log("cancelled by request")
    page.wait_for_selector("#generations .generation[data-gid=Ocean_currents] .badge.cancelled")
    assert page.locator("#cancel-run").is_hidden()
    _, cancelled = request_json(service, "GET", "/api/generations/Ocean_currents")
    assert cancelled["status"] == "cancelled"
    studio.shoot("07-history", "#history")
    studio.shoot("08-page")

    assert studio.errors == []
    if os.environ.get("VIDEOFORGE_UPDATE_DOCS_SCREENSHOTS"):  # refresh the README's pictures
        DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
        for name in ("01-editor", "02-progress", "03-result"):
            for width in ("desktop", "phone"):
                shutil.copy(SHOTS / f"{name}-{width}.png", DOCS_SHOTS / f"{name}-{width}.png")


@pytest.mark.server
@pytest.mark.slow
@pytest.mark.browser
def test_the_studio_sends_its_saved_token_as_bearer_and_in_media_urls(
    make_service, browser, tmp_path
):
    service = make_service(VIDEOFORGE_API_TOKEN="studio-secret")
    service.start_web()
    service.start_worker(pipeline=None)
    studio = Studio(browser, service.base, SHOTS)
    page = studio.page
    # without the token the list says what is missing, in the API's words
    page.wait_for_selector("#generations .error")
    assert "API token" in page.inner_text("#generations")
    page.click(".token-box summary")
    page.fill("#token", "studio-secret")
    page.click("#token-save")
    page.wait_for_selector("#generations .muted")  # "No generations yet."
    studio.errors.clear()  # the 401s before the token was saved are expected
    assert page.evaluate("localStorage.getItem('videoforge.token')") == "studio-secret"

    page.click("#tab-document")
    page.fill("#doc-topic", "Token check")
    page.select_option("#size", "1280x720")
    page.click("#go")
    studio.wait_for_log("Video generation complete")
    page.wait_for_function(
        "[...document.querySelectorAll('#thumbs img')].length === 2 && "
        "[...document.querySelectorAll('#thumbs img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    page.evaluate(
        "document.getElementById('video').muted = true; document.getElementById('video').play()"
    )
    page.wait_for_function("document.getElementById('video').currentTime > 0.3")
    assert page.eval_on_selector("#video", "v => v.videoWidth") == 1280
    page.wait_for_function(
        "document.getElementById('video').textTracks[0].cues && "
        "document.getElementById('video').textTracks[0].cues.length > 0"
    )
    with page.expect_download() as info:  # the deck takes the token only as a header
        page.click("#downloads a:has-text('PPTX')")
    info.value.save_as(tmp_path / "deck.pptx")
    from pptx import Presentation

    assert len(Presentation(str(tmp_path / "deck.pptx")).slides) == 2
    assert studio.errors == []


@pytest.mark.server
@pytest.mark.slow
@pytest.mark.browser
def test_the_studio_uploads_a_deck_follows_it_and_edits_a_slides_narration(
    service, browser, tmp_path
):
    from tests import decks

    service.start_web()
    service.start_worker(pipeline=None)
    pdf = decks.make_pdf(tmp_path / "Cell biology.pdf")
    studio = Studio(browser, service.base, SHOTS)
    page = studio.page
    page.click("#tab-deck")
    page.set_input_files("#deck-file", str(pdf))
    page.fill("#deck-skip", "2")
    page.select_option("#size", "1280x720")
    studio.shoot("09-deck", "#create")
    page.click("#go")
    studio.wait_for_log("Video generation complete")
    log = studio.log()
    assert "Reading the uploaded deck “Cell biology.pdf”" in log
    assert "Rendered page 3 of the deck as slide 2/2" in log and "page 2" not in log

    # edit the narration of the deck's third page; the first keeps its speech
    page.click("#edit")
    page.wait_for_function("document.getElementById('go').textContent === 'Re-render'")
    assert "narrated over the pages of Cell biology.pdf" in page.inner_text("#edit-note")
    assert page.locator(".slide-card").count() == 2
    _card(page, 2).locator("[name=narration]").fill("Organs are built from several tissues.")
    page.click("#go")
    studio.wait_for_log("Reused audio for slide 1/2")
    studio.wait_for_log("Video generation complete")
    _, script = request_json(service, "GET", "/api/script/Cell_biology")
    said = [s["narration_text"] for s in script["slide_scripts"]]
    assert said == ["Cells. The units of life.", "Organs are built from several tissues."]
    assert studio.errors == []
    if os.environ.get("VIDEOFORGE_UPDATE_DOCS_SCREENSHOTS"):  # the README's picture of the tab
        DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(SHOTS / "09-deck-desktop.png", DOCS_SHOTS / "09-deck-desktop.png")
