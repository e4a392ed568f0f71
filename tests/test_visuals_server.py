"""A full offline run with a local media library: picture slides, an animation slide and a text
slide, through the real serve.py and worker.py."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from tests.helpers import read_stream, request, request_json
from videoforge.media import inspection

pytestmark = [pytest.mark.server, pytest.mark.slow]

PICTURE_RGB = (250, 200, 20)


@pytest.fixture
def library(tmp_path):
    folder = tmp_path / "library"
    folder.mkdir()
    Image.new("RGB", (800, 600), PICTURE_RGB).save(folder / "volcano-eruption.png")
    (folder / "volcano-eruption.json").write_text(
        json.dumps(
            {
                "tags": ["lava", "mountain"],
                "title": "Lava field",
                "author": "Ada Example",
                "license": "CC BY 4.0",
                "source_url": "https://example.org/lava",
            }
        )
    )
    return folder


def test_a_media_library_and_an_animation_make_picture_and_animated_slides(
    make_service, library, tmp_path
):
    svc = make_service(VIDEOFORGE_MEDIA_LIBRARY=str(library), VIDEOFORGE_IMAGE_SOURCES="library")
    svc.start_web()
    svc.start_worker(pipeline=None)
    slides = [
        {
            "title": "Volcanoes",
            "bullets": ["Molten rock", "Gas and ash"],
            "image": "volcano",
            "narration": "A volcano lets molten rock reach the surface. Gas and ash come with it.",
        },
        {
            "title": "How an eruption unfolds",
            "bullets": ["Magma rises", "Pressure builds", "Eruption"],
            "animation": {"type": "flow", "steps": ["Magma rises", "Pressure builds", "Eruption"]},
            "narration": "First magma rises. Then pressure builds. Finally the volcano erupts.",
        },
        {
            "title": "Where to see them",
            "bullets": ["Iceland", "Hawaii"],
            "image": "unicorn",
            "narration": "You can see active volcanoes in Iceland and Hawaii.",
        },
    ]
    status, body = request_json(
        svc, "POST", "/api/generate", {"topic": "Volcanoes", "slides": slides, "size": "1280x720"}
    )
    assert status == 202, body
    _, _, messages = read_stream(svc, body["progress_url"], timeout=180)
    events = [m.data for m in messages if m.data and not m.data.get("heartbeat")]
    assert events[-2]["status"] == "completed", events[-4:]
    media_events = [
        e
        for e in events
        if e["status"] in ("fetching_image", "generating_animation", "generating_slide")
    ]
    assert [e["status"] for e in media_events] == [
        "fetching_image",
        "generating_animation",
        "fetching_image",
    ]
    assert "Ada Example" in media_events[0]["message"]
    assert (
        "No image found" in media_events[2]["message"] and "unicorn" in media_events[2]["message"]
    )
    assert [e["progress"] for e in media_events] == sorted(e["progress"] for e in media_events)

    gid = body["generation_id"]
    _, content = request_json(svc, "GET", f"/api/content/{gid}")
    assert [s["visual"] for s in content["slides"]] == ["image", "animation", "text"]
    credit = content["slides"][0]["image_credit"]
    assert credit["author"] == "Ada Example" and credit["license"] == "CC BY 4.0"
    assert content["credits"] == [credit]
    _, _, vtt = request(svc, "GET", f"/api/captions/{gid}.vtt")
    assert "Images: " in vtt.decode() and "Ada Example" in vtt.decode()

    _, info = request_json(svc, "GET", f"/api/status/{gid}")
    video = tmp_path / "v.mp4"
    video.write_bytes(request(svc, "GET", info["result"]["video_url"])[2])
    _, script = request_json(svc, "GET", f"/api/script/{gid}")
    spans = [(s["start_time"], s["end_time"]) for s in script["scripts"]]

    # the picture slide shows the library picture
    frame = Image.open(
        inspection.extract_frame(video, spans[0][0] + 0.5, tmp_path / "p.png")
    ).convert("RGB")
    near = sum(
        1
        for px in frame.getdata()
        if all(abs(a - b) < 24 for a, b in zip(px, PICTURE_RGB, strict=True))
    )
    assert near > 0.05 * frame.width * frame.height
    # the animation slide moves: its first and last moments differ
    start, end = spans[1]
    first = Image.open(inspection.extract_frame(video, start + 0.05, tmp_path / "a0.png")).convert(
        "L"
    )
    last = Image.open(inspection.extract_frame(video, end - 0.1, tmp_path / "a1.png")).convert("L")
    diff = sum(abs(a - b) for a, b in zip(first.getdata(), last.getdata(), strict=True))
    assert diff / (first.width * first.height) > 1.0
