"""The designed deck through the real serve.py and worker.py (offline pipeline, real Piper):
a title slide and a closing slide with their chapters and captions, a theme, burned-in captions."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.helpers import (
    Service,
    base_env,
    free_port,
    offline_service,
    read_stream,
    request,
    request_json,
)
from videoforge.core.themes import THEMES
from videoforge.media import inspection

pytestmark = [pytest.mark.server, pytest.mark.slow]

TOPIC = "How plants make food"
OUTLINE = [
    {
        "title": "Light in",
        "bullets": ["Chlorophyll", "Sunlight"],
        "narration": "Leaves catch the light of the sun. Chlorophyll makes them green.",
    },
    {
        "title": "Sugar out",
        "bullets": ["Glucose", "Oxygen"],
        "narration": "The plant builds sugar from water and air. Oxygen is what is left over.",
    },
]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    yield from offline_service(tmp_path_factory.mktemp("design"))


@pytest.fixture(scope="module")
def designed(service, tmp_path_factory):
    """One run with a title slide, a summary, the light theme and burned-in captions."""
    body = {
        "topic": TOPIC,
        "slides": OUTLINE,
        "size": "1280x720",
        "theme": "light",
        "title_slide": True,
        "subtitle": "Photosynthesis in a minute",
        "closing": "summary",
        "burn_captions": True,
    }
    status, posted = request_json(service, "POST", "/api/generate", body)
    assert status == 202, posted
    _, _, messages = read_stream(service, posted["progress_url"], timeout=240)
    assert messages[-2].data["status"] == "completed", [m.data for m in messages[-4:]]
    gid = posted["generation_id"]
    _, run = request_json(service, "GET", f"/api/status/{gid}")
    _, content = request_json(service, "GET", f"/api/content/{gid}")
    _, script = request_json(service, "GET", f"/api/script/{gid}")
    _, _, vtt = request(service, "GET", f"/api/captions/{gid}.vtt")
    _, _, video = request(service, "GET", f"/api/generations/{gid}/video")
    path = tmp_path_factory.mktemp("designed") / "video.mp4"
    path.write_bytes(video)
    return {
        "gid": gid,
        "run": run,
        "content": content,
        "script": script,
        "vtt": vtt.decode(),
        "video": path,
    }


def test_title_and_closing_slides_are_in_the_content_and_script(designed):
    content, script = designed["content"], designed["script"]
    assert content["total_slides"] == 4
    assert [s["kind"] for s in content["slides"]] == ["title", "content", "content", "closing"]
    assert [s["title"] for s in content["slides"]] == [TOPIC, "Light in", "Sugar out", "Summary"]
    assert content["slides"][0]["subtitle"] == "Photosynthesis in a minute"
    assert content["slides"][3]["bullets"] == ["Light in", "Sugar out"]
    assert content["theme"] == "light"
    said = [s["narration_text"] for s in script["slide_scripts"]]
    assert said[0] == "How plants make food. Photosynthesis in a minute."
    assert said[3] == "To sum up: Light in; Sugar out."
    assert [s["kind"] for s in script["slide_scripts"]][::3] == ["title", "closing"]


def test_title_and_closing_slides_have_chapters_and_captions(designed):
    chapters = inspection.probe(designed["video"]).chapters
    assert [c.title for c in chapters] == [TOPIC, "Light in", "Sugar out", "Summary"]
    vtt = designed["vtt"]
    assert "How plants make food." in vtt and "To sum up: Light in; Sugar out." in vtt
    first_cue = vtt.split("\n\n")[1]
    assert "How plants make food." in first_cue  # the title slide speaks first


def _frame(video, t: float, tmp_path, name: str) -> np.ndarray:
    png = inspection.extract_frame(video, t, tmp_path / f"{name}.png")
    with Image.open(png) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int16)


def test_the_theme_and_burned_captions_are_in_the_pictures(designed, service, tmp_path):
    script = designed["script"]["slide_scripts"]
    start, end = script[1]["start_time"], script[1]["end_time"]
    gid = designed["gid"]
    _, _, still_png = request(service, "GET", f"/api/generations/{gid}/slides/2.png")
    still = np.asarray(Image.open(io.BytesIO(still_png)).convert("RGB"), dtype=np.int16)
    light = np.array(THEMES["light"].background)
    assert (np.abs(still[40, 40] - light) <= 2).all()  # the light theme's background
    # Two moments of slide 2, in its first and its second sentence: the top of the picture is
    # the slide as drawn; the bottom carries each sentence's caption, different each time.
    cues = [
        c for c in designed["vtt"].split("\n\n") if "Leaves catch" in c or "Chlorophyll makes" in c
    ]
    assert len(cues) == 2
    moments = []
    for cue in cues:
        times = next(line for line in cue.splitlines() if " --> " in line).split(" --> ")
        a, b = (_seconds(t) for t in times)
        assert start - 0.05 <= a < b <= end + 0.05
        moments.append(_frame(designed["video"], (a + b) / 2, tmp_path, f"{a}"))
    height = still.shape[0]
    for frame in moments:
        top = np.abs(frame[: height // 2] - still[: height // 2]).mean()
        bottom = frame[int(height * 0.75) :] - still[int(height * 0.75) :]
        assert top < 3, top
        assert np.abs(bottom).mean() > 3  # a caption band
        band = frame[int(height * 0.8) : int(height * 0.95), 200:1080]
        assert (band.sum(axis=2) < 300).mean() > 0.2  # a dark band over the light slide
    lows = [m[int(height * 0.8) :].astype(float) for m in moments]
    assert np.abs(lows[0] - lows[1]).mean() > 1  # each sentence its own caption


def _seconds(stamp: str) -> float:
    h, m, s = stamp.strip().split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def test_the_deck_lists_content_slides_and_the_look_to_add_the_others(designed, service):
    status, deck = request_json(service, "GET", f"/api/generations/{designed['gid']}/deck")
    assert status == 200
    assert [s["title"] for s in deck["slides"]] == ["Light in", "Sugar out"]
    assert deck["title_slide"] is True and deck["closing"] == "summary"
    assert deck["theme"] == "light" and deck["burn_captions"] is True


def test_bad_look_fields_are_400(service):
    for field, value in [
        ("theme", "neon"),
        ("brand_color", "red"),
        ("closing", "outro"),
        ("title_slide", "yes"),
        ("logo", "../secrets.png"),
        ("subtitle", "x" * 500),
    ]:
        body = {"topic": "Bad look", "slides": OUTLINE, field: value}
        status, answer = request_json(service, "POST", "/api/generate", body)
        assert status == 400, (field, status, answer)
        assert field in answer["detail"], answer
    body = {"topic": "Missing logo", "slides": OUTLINE, "logo": "absent.png"}
    status, answer = request_json(service, "POST", "/api/generate", body)
    assert status == 422 and "logo" in answer["detail"]


def test_a_logo_that_is_not_a_picture_is_422(tmp_path_factory):
    # Checked at POST with Pillow, so a bad file never reaches the worker.
    data = tmp_path_factory.mktemp("logo")
    library = data / "library"
    library.mkdir()
    (library / "logo.png").write_text("not a picture")
    Image.new("RGB", (40, 40), (200, 0, 0)).save(library / "good.png")
    port = free_port()
    svc = Service(data, port, base_env(data, port, VIDEOFORGE_MEDIA_LIBRARY=str(library)))
    svc.start_web()
    try:
        body = {"topic": "Bad logo", "slides": OUTLINE, "logo": "logo.png"}
        status, answer = request_json(svc, "POST", "/api/generate", body)
        assert status == 422 and "not a picture" in answer["detail"], answer
        assert str(library) not in answer["detail"]
        body["logo"] = "good.png"
        status, answer = request_json(svc, "POST", "/api/generate", body)
        assert status == 202, answer
    finally:
        svc.stop()
