"""The MP4 a run makes, through the real serve.py and worker.py (offline pipeline, real Piper):
a constant frame rate any platform or tool takes, in sync, seamless and loud enough."""

from __future__ import annotations

import io
import math
import wave

import numpy as np
import pytest
from PIL import Image, ImageChops, ImageStat

from tests.helpers import (
    offline_service,
    read_stream,
    request,
    request_json,
)
from videoforge.core.types import Size, Slide
from videoforge.media import ffmpeg, inspection
from videoforge.media.loudness import from_pcm16
from videoforge.render.draw import render_slide

pytestmark = [pytest.mark.server, pytest.mark.slow]

SIZE = Size(1280, 720)
FPS = 30
FRAME = 1 / FPS
OUTLINE = [
    {
        "title": "Why the sky is blue",
        "bullets": ["Sunlight holds every colour", "Air scatters blue the most"],
        "narration": "Sunlight holds every colour of the rainbow. "
        "Air molecules scatter blue light far more than red.",
    },
    {
        "title": "Sunsets",
        "bullets": ["A longer path", "Red gets through"],
        "narration": "At sunset the light crosses much more air, so the blue is scattered away.",
    },
    {
        "title": "On Mars",
        "bullets": ["Dust, not air", "Blue sunsets"],
        "narration": "On Mars, fine dust does the scattering, and the sunsets there are blue.",
    },
]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """One real service and worker for the module's runs."""
    yield from offline_service(tmp_path_factory.mktemp("video-file"))


def make_video(service, topic: str, slides: list[dict], **fields) -> dict:
    """POST an outline, follow it to its end and return what the run made."""
    body = {"topic": topic, "slides": slides, "size": str(SIZE), **fields}
    status, posted = request_json(service, "POST", "/api/generate", body)
    assert status == 202, posted
    _, _, messages = read_stream(service, posted["progress_url"], timeout=180)
    assert messages[-2].data["status"] == "completed", [m.data for m in messages[-4:]]
    gid = posted["generation_id"]
    _, run = request_json(service, "GET", f"/api/status/{gid}")
    _, script = request_json(service, "GET", f"/api/script/{gid}")
    status, _, data = request(service, "GET", f"/api/generations/{gid}/video")
    assert status == 200
    folder = service.data_dir / "runs" / str(run["run_id"]) / str(run["attempts"])
    video = service.data_dir / f"{gid}.mp4"
    video.write_bytes(data)
    return {
        "gid": gid,
        "video": video,
        "spans": [(s["start_time"], s["end_time"]) for s in script["scripts"]],
        "total": script["total_duration"],
        "narration": folder / "narration.wav",
        "result": run["result"],
    }


@pytest.fixture(scope="module")
def made(service):
    return make_video(service, "Blue skies", OUTLINE)


@pytest.fixture(scope="module")
def frames(made):
    """The MD5 of every decoded frame."""
    return inspection.frame_sums(made["video"])


def changes(sums: list[str]) -> list[int]:
    return [i for i in range(1, len(sums)) if sums[i] != sums[i - 1]]


def test_every_frame_lasts_one_thirtieth_of_a_second_and_keyframes_are_at_most_2_s_apart(made):
    info = inspection.probe(made["video"])
    assert info.video.fps == FPS and info.video.pix_fmt == "yuv420p"
    assert (info.video.profile, info.video.level) == ("High", "4.1")
    assert (info.audio.codec, info.audio.sample_rate) == ("aac", 48000)
    video = inspection.packets(made["video"])
    assert all(p.duration == pytest.approx(FRAME, abs=1e-9) for p in video)
    assert [p.pts for p in video] == pytest.approx([i * FRAME for i in range(len(video))])
    keyframes = [p.pts for p in video if p.keyframe]
    end = video[-1].pts + video[-1].duration
    assert keyframes[0] == 0
    assert max(b - a for a, b in zip(keyframes, [*keyframes[1:], end], strict=True)) <= 2 + 1e-9
    assert made["result"]["fps"] == FPS


def test_a_thumbnail_at_twenty_times_shows_what_a_player_shows_and_the_last_second_has_frames(
    made, tmp_path
):
    video = made["video"]
    count = len(inspection.packets(video))
    step = count // 20
    # what a player shows at each time: the last frame starting at or before it, as the fps
    # filter picks it when it counts a frame from its start (round=up)
    ffmpeg.run_ffmpeg(
        ["-i", str(video), "-map", "0:v:0", "-vf", f"fps={FPS}/{step}:round=up"]
        + ["-frames:v", "20", str(tmp_path / "player-%02d.png")]
    )
    for k in range(20):
        t = k * step * FRAME
        thumb = inspection.thumbnail(video, t, tmp_path / f"thumb-{k}.png")
        with Image.open(thumb) as a, Image.open(tmp_path / f"player-{k + 1:02d}.png") as b:
            assert a.tobytes() == b.tobytes(), f"the thumbnail at {t:.3f} s"
    last = [p for p in inspection.packets(video) if p.pts >= made["total"] - 1.0]
    assert len(last) >= FPS - 1  # the final second is all there, frame by frame
    inspection.thumbnail(video, made["total"] - 0.5, tmp_path / "late.png")


def test_slides_change_within_a_frame_of_their_audio_and_sound_and_picture_end_together(
    made, frames, tmp_path
):
    spans = made["spans"]
    switched = changes(frames)
    assert len(switched) == len(OUTLINE) - 1  # stills: the picture changes only between slides
    for frame, (start, _) in zip(switched, spans[1:], strict=True):
        assert abs(frame * FRAME - start) <= FRAME, (frame, start)
    samples = inspection.decode_audio(made["video"], sample_rate=48000)
    assert abs(len(samples) / 48000 - len(frames) * FRAME) <= FRAME
    assert abs(len(samples) / 48000 - made["total"]) <= 0.001
    # and each slide shows its own render
    for i, (frame, s) in enumerate(zip([0, *switched], OUTLINE, strict=True)):
        shown = inspection.extract_frame(made["video"], frame * FRAME, tmp_path / f"s{i}.png")
        expected = render_slide(
            Slide(i + 1, s["title"], tuple(s["bullets"])), SIZE, tmp_path / f"r{i}.png", total=3
        )
        with Image.open(shown) as a, Image.open(expected) as b:
            diff = ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB")))
        assert max(diff.mean) < 4


def test_the_narration_joins_without_a_gap_or_click_at_slide_boundaries(made):
    with wave.open(str(made["narration"]), "rb") as w:
        rate = w.getframerate()
        written = from_pcm16(w.readframes(w.getnframes()))  # every slide's speech after its gain
    decoded = from_pcm16(inspection.decode_audio(made["video"], sample_rate=rate).tobytes())
    assert abs(len(decoded) - len(written)) <= 1
    n = min(len(decoded), len(written))
    decoded, written = decoded[:n], written[:n]
    middle = slice(rate, rate * 3)
    lags = {
        lag: float(np.dot(decoded[rate + lag : rate * 3 + lag], written[middle]))
        for lag in range(-50, 51)
    }
    assert max(lags, key=lags.get) == 0  # in step to the sample from the start
    for start, _ in made["spans"][1:]:
        at = round(start * rate)
        window = slice(at - rate // 4, at + rate // 4)  # the pause's end, the speech's start
        error = decoded[window] - written[window]
        snr = 10 * math.log10(np.sum(written[window] ** 2) / np.sum(error**2))
        assert snr > 20, (start, snr)  # no gap, no shift, no click
        before = decoded[at - rate // 4 : at - rate // 50]  # silence, up to 20 ms before
        assert np.max(np.abs(before)) < 0.01, start  # stays silent: no click
    error = decoded - written
    assert 10 * math.log10(np.sum(written**2) / np.sum(error**2)) > 20


def test_the_sound_measures_minus_16_lufs_with_true_peaks_at_most_minus_1_5_dbtp(made):
    measured = inspection.loudness(made["video"])
    assert measured.integrated == pytest.approx(-16.0, abs=1.0)
    assert measured.true_peak <= -1.5


def test_the_poster_is_a_jpeg_of_the_first_slide(service, made, tmp_path):
    gid = made["gid"]
    status, headers, data = request(service, "GET", f"/api/generations/{gid}/poster.jpg")
    assert status == 200 and headers["content-type"] == "image/jpeg"
    poster = Image.open(io.BytesIO(data))
    assert poster.format == "JPEG" and poster.size == (SIZE.width, SIZE.height)
    first = OUTLINE[0]
    expected = render_slide(
        Slide(1, first["title"], tuple(first["bullets"])), SIZE, tmp_path / "r.png", total=3
    )
    with Image.open(expected) as render:
        diff = ImageStat.Stat(ImageChops.difference(poster.convert("RGB"), render.convert("RGB")))
    assert max(diff.mean) < 4
    status, headers, part = request(
        service, "GET", f"/api/generations/{gid}/poster.jpg", headers={"Range": "bytes=0-99"}
    )
    assert status == 206 and part == data[:100]
    assert request(service, "GET", "/api/generations/No_such_id/poster.jpg")[0] == 404


@pytest.mark.parametrize("fps", [24, 25, 50, 60])
def test_each_frame_rate_a_request_names_is_honoured(service, fps):
    slide = {
        "title": f"At {fps} frames a second",
        "bullets": ["One slide"],
        "narration": "This video plays at the frame rate it asked for.",
    }
    made = make_video(service, f"Rate {fps}", [slide, {**slide, "title": "Two"}], fps=fps)
    assert inspection.probe(made["video"]).video.fps == fps
    video = inspection.packets(made["video"])
    assert all(p.duration == pytest.approx(1 / fps, abs=1e-9) for p in video)
    with wave.open(str(made["narration"]), "rb") as w:  # the exact length; the API rounds to 0.01 s
        exact = w.getnframes() / w.getframerate()
    assert abs(len(video) - exact * fps) <= 0.5 + 1e-6  # round(seconds * fps) frames
    assert len(video) == pytest.approx(made["total"] * fps, abs=0.5 + 0.005 * fps)
    keyframes = [p.pts for p in video if p.keyframe]
    assert max(b - a for a, b in zip(keyframes, keyframes[1:], strict=False)) <= 2 + 1e-9
    change = made["spans"][1][0]  # a keyframe on the frame nearest to the slide change
    assert min(abs(k - change) for k in keyframes) <= 0.5 / fps + 1e-9


@pytest.mark.parametrize("fps", [29, 0, 120, "30", 30.0, True, None, [30]])
def test_a_frame_rate_other_than_24_25_30_50_or_60_is_a_400(service, fps):
    status, body = request_json(
        service,
        "POST",
        "/api/generate",
        {"topic": "Bad rate", "slides": OUTLINE[:1], "fps": fps},
    )
    assert status == 400 and "'fps' must be one of 24, 25, 30, 50, 60" in body["detail"]
