"""A real browser (Chromium via Playwright) uses the web page: POST, EventSource, play and seek."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image, ImageChops, ImageStat

from tests.helpers import request_json
from videoforge.core.types import Size, Slide
from videoforge.render.draw import render_slide

pytestmark = [pytest.mark.server, pytest.mark.slow, pytest.mark.browser]

DOCUMENT = """# Tides

The Moon pulls on the oceans. That pull raises a bulge of water.

## Two high tides a day

The Earth turns under two bulges. So most coasts see two high tides each day.
"""


def test_the_page_follows_progress_with_eventsource_and_the_video_plays_and_seeks(service, browser):
    service.start_web()
    service.start_worker(pipeline=None)
    page = browser.new_page()
    page.goto(service.base + "/")
    page.click("#tab-document")  # the studio opens on its outline editor
    page.fill("#source", DOCUMENT)
    page.select_option("#size", "1280x720")
    page.click("#go")
    page.wait_for_function(
        "document.getElementById('log').textContent.includes('Video generation complete')",
        timeout=120_000,
    )
    log = page.inner_text("#log")
    assert "Generated audio for slide 1/2" in log and "Composing final video" in log
    assert page.eval_on_selector("#bar", "el => el.value") == 100

    _, script = request_json(service, "GET", "/api/script/Tides")
    _, content = request_json(service, "GET", "/api/content/Tides")
    second = script["scripts"][1]["start_time"]
    result = page.evaluate(
        """async (t) => {
          const v = document.getElementById('video');
          v.muted = true;
          if (v.readyState < 1) await new Promise((ok, bad) => {
            v.onloadedmetadata = ok; v.onerror = () => bad(String(v.error && v.error.message));
          });
          const out = {duration: v.duration, w: v.videoWidth, h: v.videoHeight};
          v.currentTime = t;
          await new Promise(ok => v.onseeked = ok);
          const c = document.createElement('canvas');
          c.width = v.videoWidth; c.height = v.videoHeight;
          c.getContext('2d').drawImage(v, 0, 0);
          out.frame = c.toDataURL('image/png');
          await v.play();
          const before = v.currentTime;
          await new Promise(ok => setTimeout(ok, 700));
          out.advanced = v.currentTime - before;
          v.pause();
          return out;
        }""",
        second + 0.2,
    )
    assert abs(result["duration"] - script["total_duration"]) < 0.05
    assert (result["w"], result["h"]) == (1280, 720)
    assert result["advanced"] > 0.2  # it plays
    # after seeking into slide 2 the browser shows slide 2
    frame = Image.open(io.BytesIO(base64.b64decode(result["frame"].split(",", 1)[1]))).convert(
        "RGB"
    )
    s = content["slides"][1]
    expected = render_slide(
        Slide(2, s["title"], tuple(s["bullets"])),
        Size(1280, 720),
        service.data_dir / "expected.png",
        total=2,
    )
    diff = ImageStat.Stat(ImageChops.difference(frame, Image.open(expected).convert("RGB"))).mean
    assert max(diff) < 6, diff
