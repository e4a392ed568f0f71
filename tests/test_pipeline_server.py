"""An outline becomes a real narrated MP4 through the real serve.py and worker.py (offline)."""

from __future__ import annotations

import json
import math
import re

import pytest
from PIL import Image, ImageChops, ImageStat

from tests.helpers import read_stream, request, request_json
from videoforge.core.stages import STAGE
from videoforge.core.types import Size, Slide
from videoforge.media import inspection
from videoforge.render.draw import render_slide

pytestmark = [pytest.mark.server, pytest.mark.slow]

OUTLINE = [
    {
        "title": "What is photosynthesis?",
        "bullets": ["Plants capture light", "Chloroplasts do the work"],
        "narration": "Photosynthesis is how plants turn light into chemical energy. "
        "It happens inside tiny structures called chloroplasts.",
    },
    {
        "title": "The light reactions",
        "bullets": ["Split water", "Make ATP and NADPH"],
        "narration": "First, the light reactions split water and store energy.",
    },
    {
        "title": "The Calvin cycle",
        "bullets": ["Fixes carbon dioxide", "Builds sugar"],
        "narration": "Then the Calvin cycle uses that energy to build sugar from carbon dioxide. "
        "That sugar feeds the plant, and eventually us.",
    },
]
SIZE = Size(1280, 720)
FRAME = 1 / 30


def fetch_by_ranges(service, path, chunk=50_000):
    """Fetch a file with successive Range requests and check each 206's headers."""
    status, headers, whole = request(service, "GET", path)
    assert status == 200 and headers["accept-ranges"] == "bytes"
    size = int(headers["content-length"])
    assert size == len(whole) > 10_000
    parts, start = [], 0
    while start < size:
        end = min(start + chunk, size) - 1
        status, headers, data = request(
            service, "GET", path, headers={"Range": f"bytes={start}-{end}"}
        )
        assert status == 206
        assert headers["content-range"] == f"bytes {start}-{end}/{size}"
        assert int(headers["content-length"]) == len(data) == end - start + 1
        parts.append(data)
        start = end + 1
    assert b"".join(parts) == whole
    status, headers, _ = request(service, "GET", path, headers={"Range": f"bytes={size}-"})
    assert status == 416 and headers["content-range"] == f"bytes */{size}"
    status, _, tail = request(service, "GET", path, headers={"Range": "bytes=-100"})
    assert status == 206 and tail == whole[-100:]
    return whole


def parse_vtt(text):
    cues = []
    for start, end in re.findall(r"(\d\d:\d\d:\d\d\.\d{3}) --> (\d\d:\d\d:\d\d\.\d{3})", text):
        cues.append((_seconds(start), _seconds(end)))
    return cues


def _seconds(stamp):
    h, m, s = stamp.replace(",", ".").split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def rms(samples):
    return math.sqrt(sum(x * x for x in samples) / max(len(samples), 1))


def test_an_outline_becomes_a_narrated_video_in_sync(service, tmp_path):
    service.start_web()
    service.start_worker(pipeline=None)  # the real offline pipeline
    status, body = request_json(
        service,
        "POST",
        "/api/generate",
        {"topic": "Photosynthesis", "slides": OUTLINE, "size": str(SIZE)},
    )
    assert status == 202, body
    gid = body["generation_id"]

    _, _, messages = read_stream(service, body["progress_url"], timeout=180)
    events = [m.data for m in messages if m.data and not m.data.get("heartbeat")]
    statuses = [e["status"] for e in events]
    assert statuses[-2:] == ["completed", "done"], events[-3:]
    steps = [e for e in events if e["status"] not in ("connected", "waiting", "done")]
    assert [(e["status"], e["progress"]) for e in steps[:3]] == [
        ("started", 0),
        ("generating_content", 10),
        ("generating_scripts", 20),
    ]
    audio = [e for e in steps if e["status"] == "generating_audio"]
    assert len(audio) == 2 * len(OUTLINE)
    assert all(30 <= e["progress"] <= 49 for e in audio)
    assert re.search(r"Generated audio for slide 1/3 \(\d+\.\ds\)", audio[1]["message"])
    order = [
        "started",
        "generating_content",
        "generating_scripts",
        "generating_audio",
        "combining_audio",
        "generating_media",
        "generating_slide",
        "composing_video",
        "completed",
    ]
    seen = [
        s for i, s in enumerate(e["status"] for e in steps) if i == 0 or s != steps[i - 1]["status"]
    ]
    assert seen == order
    assert [e["progress"] for e in steps] == sorted(e["progress"] for e in steps)
    assert all(50 <= e["progress"] <= 80 for e in steps if e["status"] == "generating_slide")
    # every event is worded by the stage table, within its stage's progress range
    assert all(STAGE[e["status"]].describes(e["progress"], e["message"]) for e in events), events
    assert all(85 <= e["progress"] <= 95 for e in steps if e["status"] == "composing_video")

    _, status_body = request_json(service, "GET", f"/api/status/{gid}")
    result = status_body["result"]
    video = tmp_path / "video.mp4"
    video.write_bytes(fetch_by_ranges(service, f"/api/generations/{gid}/video"))
    assert request(service, "GET", result["video_url"])[0] == 200

    _, script = request_json(service, "GET", f"/api/script/{gid}")
    spans = [(s["start_time"], s["end_time"]) for s in script["scripts"]]
    total = script["total_duration"]
    assert spans[0][0] == 0 and abs(spans[-1][1] - total) < 1e-6
    assert all(abs(a[1] - b[0]) < 1e-6 for a, b in zip(spans, spans[1:], strict=False))
    _, content = request_json(service, "GET", f"/api/content/{gid}")
    assert [s["title"] for s in content["slides"]] == [s["title"] for s in OUTLINE]
    assert set(content["slides"][0]) >= {
        "slide_number",
        "title",
        "content_text",
        "needs_image",
        "image_keyword",
        "needs_animation",
        "animation_description",
        "duration",
    }

    info = inspection.probe(video)
    assert info.video.codec == "h264" and info.video.pix_fmt == "yuv420p"
    assert (info.video.width, info.video.height) == (SIZE.width, SIZE.height)
    assert info.audio.codec == "aac"
    assert abs(info.duration - total) <= FRAME
    atoms = [a.type for a in inspection.mp4_atoms(video)]
    assert atoms.index("moov") < atoms.index("mdat")  # faststart: playable while downloading
    assert [c.title for c in info.chapters] == [s["title"] for s in OUTLINE]
    # each chapter starts on its slide's first frame, the frame boundary nearest to its audio
    for chapter, (start, end) in zip(info.chapters, spans, strict=True):
        assert abs(chapter.start - start) <= FRAME / 2 + 1e-6
        assert abs(chapter.end - end) <= FRAME / 2 + 1e-6
        assert abs(chapter.start / FRAME - round(chapter.start / FRAME)) < 1e-3

    # the audio is speech: every slide's stretch is well above silence
    rate = 16000
    samples = inspection.decode_audio(video, sample_rate=rate)
    assert abs(len(samples) / rate - total) <= FRAME
    for start, end in spans:
        level = rms(samples[int(start * rate) : int(end * rate)])
        assert level > 300, (start, end, level)

    # at every slide change the picture is that slide's own render, and just before it the previous one
    renders = []
    for i, s in enumerate(OUTLINE, start=1):
        png = render_slide(
            Slide(i, s["title"], tuple(s["bullets"])),
            SIZE,
            tmp_path / f"r{i}.png",
            total=len(OUTLINE),
        )
        renders.append(Image.open(png).convert("RGB"))
    for i, chapter in enumerate(info.chapters):
        change = chapter.start  # the frame boundary nearest to the slide's audio start
        after = inspection.extract_frame(video, change + FRAME / 2, tmp_path / f"after{i}.png")
        assert _matches(after, renders[i]), f"slide {i + 1} not on screen at {change:.3f}s"
        if i:
            before = inspection.extract_frame(
                video, change - FRAME / 2, tmp_path / f"before{i}.png"
            )
            assert _matches(before, renders[i - 1]), f"slide {i} gone before {change:.3f}s"

    # captions: one cue per sentence, ordered, inside the audio, in both formats
    status, headers, vtt = request(service, "GET", f"/api/captions/{gid}.vtt")
    assert status == 200 and headers["content-type"].startswith("text/vtt")
    cues = parse_vtt(vtt.decode())
    sentences = sum(len(re.findall(r"[.!?](\s|$)", s["narration"])) for s in OUTLINE)
    assert len(cues) == sentences
    assert all(0 <= a < b <= total + 1e-3 for a, b in cues)
    assert all(b1 <= a2 + 1e-3 for (_, b1), (a2, _) in zip(cues, cues[1:], strict=False))
    status, _, srt = request(service, "GET", f"/api/captions/{gid}.srt")
    assert status == 200 and srt.decode().count(" --> ") == sentences

    # a second run of the same outline synthesizes no speech: the cache serves it
    status, again = request_json(
        service,
        "POST",
        "/api/generate",
        {"topic": "Photosynthesis", "slides": OUTLINE, "size": str(SIZE)},
    )
    assert status == 202
    read_stream(service, again["progress_url"], timeout=120)
    _, second = request_json(service, "GET", f"/api/status/{gid}")
    assert second["run_status"] == "completed"
    assert second["result"]["narrations_synthesized"] == 0
    assert json.dumps(second["result"]["chapters"]) == json.dumps(result["chapters"])


def _matches(frame_png, render):
    frame = Image.open(frame_png).convert("RGB")
    diff = ImageStat.Stat(ImageChops.difference(frame, render)).mean
    return max(diff) < 4  # x264 at CRF 18 keeps a rendered slide within a few levels
