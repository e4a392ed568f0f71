"""Tests of videoforge.media on stills, tones and clips made here."""

from __future__ import annotations

import math
import os
import signal
import struct
import subprocess
import time
import wave
from pathlib import Path

import pytest
from PIL import Image

from videoforge.core import files
from videoforge.core.errors import FFmpegError, FFmpegInterrupted, Retryable, Stopped
from videoforge.core.types import Segment, Size
from videoforge.media import compose, ffmpeg, h264, inspection, loudness

FRAME = 1 / 30
RED, GREEN, BLUE, YELLOW = (230, 20, 20), (20, 200, 40), (30, 40, 230), (240, 220, 30)
WHITE, MAGENTA, BLACK = (255, 255, 255), (220, 30, 220), (0, 0, 0)
PALETTE = (RED, GREEN, BLUE, YELLOW, WHITE, MAGENTA, BLACK)
TONE_AMPLITUDE = 12000
SMALL = Size(640, 360)
GAP = 0.15  # seconds of silence before each slide change, so sound onsets mark the changes


def make_png(path: Path, colour: tuple[int, int, int], size=(640, 360), mode="RGB") -> Path:
    """Draw a solid-colour still."""
    image = Image.new("RGB", size, colour)
    if mode == "P":
        image = image.convert("P", palette=Image.Palette.ADAPTIVE)  # keeps the exact colour
    elif mode != "RGB":
        image = image.convert(mode)
    image.save(path)
    return path


def make_wav(
    path: Path, seconds: float, *, rate: int = 22050, gaps_before: tuple[float, ...] = ()
) -> Path:
    """Write a 440 Hz mono tone, silent for GAP seconds before each time in `gaps_before`."""
    frames = bytearray()
    for i in range(round(seconds * rate)):
        t = i / rate
        silent = any(b - GAP <= t < b for b in gaps_before)
        value = 0 if silent else int(TONE_AMPLITUDE * math.sin(2 * math.pi * 440 * t))
        frames += struct.pack("<h", value)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    return path


def segments_for(
    images: list[Path], durations: list[float], titles: list[str], clips=None
) -> list[Segment]:
    """Lay images end to end with the given durations."""
    clips = clips or [None] * len(images)
    segments, start = [], 0.0
    for n, (image, duration, title, clip) in enumerate(
        zip(images, durations, titles, clips, strict=True), start=1
    ):
        segments.append(Segment(n, title, image, start, duration, clip=clip))
        start += duration
    return segments


def colour_at(video: Path, t: float, tmp: Path, xy: tuple[float, float] = (0.5, 0.5)):
    """Return the palette colour nearest to the pixel at relative position `xy` at time `t`."""
    png = inspection.extract_frame(video, t, tmp / f"frame-{t:.4f}.png")
    with Image.open(png) as im:
        pixel = im.convert("RGB").getpixel((int(im.width * xy[0]), int(im.height * xy[1])))
    nearest = min(PALETTE, key=lambda c: sum((a - b) ** 2 for a, b in zip(c, pixel, strict=True)))
    assert sum((a - b) ** 2 for a, b in zip(nearest, pixel, strict=True)) < 12**2, pixel
    return nearest


def onset_after(samples, rate: int, t: float) -> float:
    """Return the first time after `t` where the tone is at least half its amplitude."""
    for i in range(int(t * rate), len(samples)):
        if abs(samples[i]) > TONE_AMPLITUDE // 2:
            return i / rate
    raise AssertionError(f"no sound after {t}")


# --- a composed video shared by the slow tests --------------------------------------------

DURATIONS = [1.37, 2.02, 0.81, 1.2]
COLOURS = [RED, GREEN, BLUE, YELLOW]
TITLES = ["Intro = start", "Costs; 50% #1 \\ back", "Über café — naïve ✓", "Fin"]


@pytest.fixture(scope="module")
def composed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("composed")
    images = [make_png(tmp / f"s{i}.png", c) for i, c in enumerate(COLOURS)]
    segments = segments_for(images, DURATIONS, TITLES)
    total = sum(DURATIONS)
    audio = make_wav(tmp / "speech.wav", total, gaps_before=tuple(s.start for s in segments[1:]))
    out = compose.compose_video(segments, audio, tmp / "out" / "video.mp4", size=Size(640, 360))
    return out, segments, audio, tmp


@pytest.mark.slow
def test_composed_video_is_h264_yuv420p_with_aac(composed):
    out, _, _, _ = composed
    info = inspection.probe(out)
    assert info.video is not None and info.audio is not None
    assert (info.video.codec, info.video.pix_fmt) == ("h264", "yuv420p")
    assert (info.video.width, info.video.height) == (640, 360)
    assert info.video.profile == "High"
    assert info.video.level == "4.1"
    assert info.video.fps == 30
    assert info.audio.codec == "aac"
    assert info.audio.sample_rate == 48000  # 22,050 Hz input goes up to 48 kHz
    assert info.audio.channels == 1


@pytest.mark.slow
def test_every_frame_lasts_one_thirtieth_of_a_second_from_zero(composed):
    out, _, _, _ = composed
    video = inspection.packets(out)
    assert [p.pts for p in video] == pytest.approx([i * FRAME for i in range(len(video))])
    assert all(p.duration == pytest.approx(FRAME, abs=1e-9) for p in video)
    assert [p.dts for p in video] == [p.pts for p in video]  # no reordering: -bf 0


@pytest.mark.slow
def test_video_and_audio_last_as_long_as_the_narration(composed):
    out, _, audio, _ = composed
    total = files.wav_duration(audio)
    assert inspection.probe(out).duration == pytest.approx(total, abs=FRAME)
    video = inspection.packets(out)
    end = max(p.pts + p.duration for p in video)
    assert end == pytest.approx(total, abs=FRAME)
    samples = inspection.decode_audio(out, sample_rate=16000)
    assert len(samples) / 16000 == pytest.approx(total, abs=FRAME)


@pytest.mark.slow
def test_moov_atom_comes_before_mdat(composed):
    out, _, _, _ = composed
    kinds = [atom.type for atom in inspection.mp4_atoms(out)]
    assert kinds[0] == "ftyp"
    assert kinds.index("moov") < kinds.index("mdat")


def on_frames(t: float) -> float:
    """Return the frame boundary nearest to t."""
    return round(t / FRAME) * FRAME


@pytest.mark.slow
def test_chapters_carry_segment_titles_and_start_on_the_slides_first_frame(composed):
    out, segments, audio, _ = composed
    chapters = inspection.probe(out).chapters
    assert [c.title for c in chapters] == TITLES
    for chapter, segment in zip(chapters, segments, strict=True):
        assert chapter.start == pytest.approx(on_frames(segment.start), abs=1e-5)
        assert chapter.end == pytest.approx(on_frames(segment.end), abs=1e-5)
        assert abs(chapter.start - segment.start) <= FRAME / 2 + 1e-6
    assert chapters[-1].end == pytest.approx(files.wav_duration(audio), abs=FRAME / 2)


@pytest.mark.slow
def test_keyframes_sit_on_every_slide_change_and_at_most_two_seconds_apart(composed):
    out, segments, _, _ = composed
    keyframes = sorted(p.pts for p in inspection.packets(out) if p.keyframe)
    changes = [on_frames(s.start) for s in segments]
    assert all(min(abs(k - c) for k in keyframes) < 1e-6 for c in changes)
    end = inspection.probe(out).duration
    assert max(b - a for a, b in zip([*keyframes], [*keyframes[1:], end], strict=True)) <= 2.0
    assert keyframes[0] == 0


@pytest.mark.slow
@pytest.mark.parametrize("boundary", [1, 2, 3])
def test_slide_changes_on_the_frame_boundary_within_half_a_frame_of_segment_start(
    composed, boundary
):
    out, segments, _, tmp = composed
    t = on_frames(segments[boundary].start)
    assert abs(t - segments[boundary].start) <= FRAME / 2
    assert colour_at(out, t - FRAME / 2, tmp) == COLOURS[boundary - 1]
    assert colour_at(out, t + FRAME / 2, tmp) == COLOURS[boundary]


@pytest.mark.slow
def test_first_and_last_moments_show_first_and_last_slide(composed):
    out, _, audio, tmp = composed
    assert colour_at(out, 0.0, tmp) == COLOURS[0]
    assert colour_at(out, files.wav_duration(audio) - FRAME / 2, tmp) == COLOURS[-1]


@pytest.mark.slow
def test_sound_onsets_stay_on_slide_changes(composed):
    out, segments, _, _ = composed
    rate = 16000
    samples = inspection.decode_audio(out, sample_rate=rate)
    for segment in segments[1:]:
        onset = onset_after(samples, rate, segment.start - GAP / 2)
        assert onset == pytest.approx(segment.start, abs=FRAME / 2)


@pytest.mark.slow
def test_portrait_video_letterboxes_stills_of_other_shapes_and_modes(tmp_path):
    images = [
        make_png(tmp_path / "wide.png", RED, size=(640, 360)),
        make_png(tmp_path / "alpha.png", GREEN, size=(300, 300), mode="RGBA"),
        make_png(tmp_path / "palette.png", BLUE, size=(200, 500), mode="P"),
    ]
    segments = segments_for(images, [0.7, 0.5, 0.6], ["a", "b", "c"])
    audio = make_wav(tmp_path / "a.wav", 1.8, rate=44100)
    out = compose.compose_video(
        segments, audio, tmp_path / "portrait.mp4", size=Size(360, 640), chapters=False
    )
    info = inspection.probe(out)
    assert (info.video.width, info.video.height) == (360, 640)
    assert info.audio.sample_rate == 48000  # 44.1 kHz goes to 48 kHz too
    assert info.chapters == ()
    assert colour_at(out, 0.3, tmp_path) == RED
    assert colour_at(out, 0.3, tmp_path, xy=(0.5, 0.05)) == BLACK  # bar above a wide still
    assert colour_at(out, 0.9, tmp_path) == GREEN
    assert colour_at(out, 1.5, tmp_path) == BLUE
    assert colour_at(out, 1.5, tmp_path, xy=(0.05, 0.5)) == BLACK  # bar beside a tall still


def make_clip(path: Path, colour: tuple[int, int, int], seconds: float, rate: int) -> Path:
    """Encode a solid-colour H.264 clip with ffmpeg's colour source."""
    hex_colour = "0x{:02x}{:02x}{:02x}".format(*colour)
    ffmpeg.run_ffmpeg(
        ["-f", "lavfi", "-i", f"color=c={hex_colour}:s=320x240:r={rate}:d={seconds}"]
        + ["-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)]
    )
    return path


@pytest.mark.slow
def test_clips_replace_their_stills_and_keep_the_timeline(tmp_path):
    images = [make_png(tmp_path / f"s{i}.png", c) for i, c in enumerate([RED, GREEN, BLUE])]
    short = make_clip(tmp_path / "short.mp4", WHITE, 0.5, 30)  # shorter than its segment
    long = make_clip(tmp_path / "long.mp4", MAGENTA, 3.0, 24)  # longer than its segment
    segments = segments_for(
        images, [0.9, 1.3, 1.1], ["still", "short clip", "long clip"], clips=[None, short, long]
    )
    audio = make_wav(tmp_path / "a.wav", 3.3)
    out = compose.compose_video(segments, audio, tmp_path / "clips.mp4", size=Size(640, 360))

    assert colour_at(out, 0.9 - FRAME / 2, tmp_path) == RED
    assert colour_at(out, 0.9 + FRAME / 2, tmp_path) == WHITE
    assert colour_at(out, 2.1, tmp_path) == WHITE  # the clip's last frame holds
    assert colour_at(out, 2.2 - FRAME / 2, tmp_path) == WHITE
    assert colour_at(out, 2.2 + FRAME / 2, tmp_path) == MAGENTA
    assert colour_at(out, 3.3 - FRAME / 2, tmp_path) == MAGENTA
    video = inspection.packets(out)
    keyframes = {round(p.pts, 3) for p in video if p.keyframe}
    assert {0.0, 0.9, 2.2} <= keyframes
    assert max(p.pts + p.duration for p in video) == pytest.approx(3.3, abs=FRAME)
    assert inspection.probe(out).duration == pytest.approx(3.3, abs=FRAME)


@pytest.mark.slow
@pytest.mark.parametrize("fps", [24, 25, 50, 60])
def test_each_frame_rate_gives_every_frame_exactly_one_over_fps(tmp_path, fps):
    images = [make_png(tmp_path / f"s{i}.png", c) for i, c in enumerate([RED, GREEN])]
    segments = segments_for(images, [1.03, 1.61], ["a", "b"])
    audio = make_wav(tmp_path / "a.wav", 2.64)
    out = compose.compose_video(segments, audio, tmp_path / "v.mp4", size=SMALL, fps=fps)
    info = inspection.probe(out)
    assert info.video.fps == fps and info.video.level == "4.1"
    video = inspection.packets(out)
    assert len(video) == round(2.64 * fps)
    assert all(p.duration == pytest.approx(1 / fps, abs=1e-9) for p in video)
    assert [p.pts for p in video] == pytest.approx([i / fps for i in range(len(video))])
    keyframes = [p.pts for p in video if p.keyframe]
    assert keyframes[1] == pytest.approx(round(1.03 * fps) / fps)  # the slide change
    assert colour_at(out, keyframes[1] - 0.5 / fps, tmp_path) == RED
    assert colour_at(out, keyframes[1] + 0.5 / fps, tmp_path) == GREEN


@pytest.mark.slow
def test_a_thumbnail_taken_with_ss_shows_what_a_player_shows(composed, tmp_path):
    out, _, _, _ = composed
    count = len(inspection.packets(out))
    step = count // 20  # 20 times spread over the video, each on a frame boundary
    times = [k * step * FRAME for k in range(20)]
    # what a player shows at each time, the last frame starting at or before it: a decode
    # through the fps filter at one frame a step, each frame counted from its start (round=up)
    sampled = tmp_path / "sampled"
    sampled.mkdir()
    ffmpeg.run_ffmpeg(
        ["-i", str(out), "-map", "0:v:0", "-vf", f"fps=30/{step}:round=up", "-frames:v", "20"]
        + [str(sampled / "%02d.png")]
    )
    for k, t in enumerate(times):
        thumb = inspection.thumbnail(out, t, tmp_path / f"thumb{k}.png")
        with Image.open(thumb) as a, Image.open(sampled / f"{k + 1:02d}.png") as b:
            assert a.tobytes() == b.tobytes(), t
    last = inspection.thumbnail(out, count * FRAME - 1.0, tmp_path / "last-second.png")
    assert colour_at(out, count * FRAME - 1.0, tmp_path) == COLOURS[-1]
    assert last.is_file()  # the final second has frames


@pytest.mark.slow
def test_a_held_still_decodes_to_its_picture_in_every_frame(tmp_path):
    fmt = h264.VideoFormat(SMALL, 30)
    skip = h264.SkipFrames.make(fmt, workdir=tmp_path)
    noisy = Image.effect_noise((SMALL.width, SMALL.height), 80).convert("RGB")
    noisy.save(tmp_path / "noisy.png")
    make_png(tmp_path / "red.png", RED)
    stills = [h264.encode_still(tmp_path / n, fmt) for n in ("noisy.png", "red.png")]
    assert h264.parameter_sets(stills[0]) == h264.parameter_sets(stills[1])  # joinable
    with h264.VideoTrack(tmp_path / "track.h264", fmt, skip) as track:
        track.add_still(stills[0], 121)  # 60 + 59 + 2 frames: no one-frame GOP
        track.add_still(stills[1], 3)
    assert track.frames == 124 and track.keyframes == [0, 60, 119, 121]
    video = inspection.wrap_h264(tmp_path / "track.h264", 30, tmp_path / "track.mp4")
    sums = inspection.frame_sums(video)
    assert len(sums) == 124 and len(set(sums[:121])) == 1 and len(set(sums[121:])) == 1
    assert sums[0] != sums[-1]
    # the stream is copies of the pictures' keyframes (one per GOP) and skip frames of a few
    # bytes each: nothing else was encoded
    size = (tmp_path / "track.h264").stat().st_size
    assert size < 3 * len(stills[0]) + len(stills[1]) + 124 * 40


@pytest.mark.slow
def test_the_narration_encoder_decodes_to_exactly_the_samples_written(tmp_path):
    rate = 22050
    tone = make_wav(tmp_path / "t.wav", 3.0, rate=rate, gaps_before=(1.0, 2.0))
    with wave.open(str(tone), "rb") as w:
        pcm = w.readframes(w.getnframes())
    with compose.AudioEncoder(tmp_path / "n.m4a", rate) as encoder:
        third = len(pcm) // 3 // 2 * 2
        for part in (pcm[:third], pcm[third : 2 * third], pcm[2 * third :]):  # slide by slide
            encoder.write(part)
        encoder.close()
    info = inspection.probe(tmp_path / "n.m4a")
    assert (info.audio.codec, info.audio.sample_rate, info.audio.channels) == ("aac", 48000, 1)
    decoded = loudness.from_pcm16(
        inspection.decode_audio(tmp_path / "n.m4a", sample_rate=rate).tobytes()
    )
    source = loudness.from_pcm16(pcm)
    assert len(decoded) == len(source)  # no priming samples, nothing lost at the end
    lags = {
        lag: float((decoded[4000 + lag : 60000 + lag] * source[4000:60000]).sum())
        for lag in range(-40, 41)
    }
    assert max(lags, key=lags.get) == 0  # in step to the sample
    error = decoded - source
    assert 10 * math.log10((source**2).sum() / (error**2).sum()) > 25  # dB


def speech_like(seconds: float, rate: int, level: float, seed: int = 1):
    """Return a voiced, syllable-modulated signal as loud for its peaks as speech (15 dB apart)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * rate)) / rate
    pitch = 2 * np.pi * np.cumsum(130 * (1 + 0.1 * np.sin(2 * np.pi * 0.7 * t))) / rate
    voice = sum(np.sin(k * pitch + rng.uniform(0, 6.3)) / k for k in range(1, 12))
    signal = voice * np.clip(np.sin(2 * np.pi * 3.1 * t), 0, None) ** 2
    return level * signal / np.max(np.abs(signal))


@pytest.mark.slow
def test_our_loudness_meter_agrees_with_ffmpegs_ebur128(tmp_path):
    for rate in (22050, 48000):
        samples = speech_like(6.0, rate, 0.5)
        wav = tmp_path / f"s{rate}.wav"
        with wave.open(str(wav), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(loudness.to_pcm16(samples))
        measured = inspection.loudness(wav)
        ours = loudness.integrated_loudness(loudness.from_pcm16(loudness.to_pcm16(samples)), rate)
        assert ours == pytest.approx(measured.integrated, abs=0.2)
        assert loudness.true_peak(samples) == pytest.approx(measured.true_peak, abs=0.3)


@pytest.mark.slow
def test_normalized_slides_reach_the_target_and_keep_peaks_under_the_ceiling_after_aac(tmp_path):
    import numpy as np

    rate = 22050
    slides = [speech_like(4.0, rate, level, seed=i) for i, level in enumerate((0.9, 0.2, 0.5))]
    parts = []
    for samples in slides:
        result = loudness.normalize(samples, rate, target=-16.0, ceiling=-2.5)
        assert result.loudness == pytest.approx(-16.0, abs=0.3)
        assert loudness.true_peak(result.samples) <= -2.5 + 0.05
        parts += [result.samples, np.zeros(rate // 2)]
    with compose.AudioEncoder(tmp_path / "n.m4a", rate) as encoder:
        encoder.write(loudness.to_pcm16(np.concatenate(parts)))
        encoder.close()
    measured = inspection.loudness(tmp_path / "n.m4a")
    assert measured.integrated == pytest.approx(-16.0, abs=1.0)
    assert measured.true_peak <= -1.5
    silent = loudness.normalize(np.zeros(rate), rate, target=-16.0, ceiling=-2.5)
    assert not silent.samples.any() and silent.gain == 0


@pytest.mark.slow
def test_a_stop_check_kills_a_streaming_ffmpeg_that_waits_for_input(tmp_path):
    stopping: list[bool] = []
    pipe = ffmpeg.FFmpegPipe(
        ["-f", "s16le", "-ar", "8000", "-ac", "1", "-i", "pipe:0", str(tmp_path / "o.wav")],
        should_stop=lambda: bool(stopping),
    )
    pipe.write(b"\0\0" * 800)
    assert pipe.pid in ffmpeg_children() and os.getsid(pipe.pid) == pipe.pid != os.getsid(0)
    stopping.append(True)  # nothing is being written: the watcher alone must end it
    for _ in range(100):
        if gone(pipe.pid):
            break
        time.sleep(0.05)
    assert gone(pipe.pid)
    with pytest.raises(Stopped):
        pipe.write(b"\0\0" * 800)
    with pytest.raises(Stopped):
        pipe.close()


@pytest.mark.slow
def test_a_streaming_ffmpeg_that_fails_raises_ffmpeg_error_with_its_stderr(tmp_path):
    pipe = ffmpeg.FFmpegPipe(
        ["-f", "s16le", "-ar", "8000", "-i", "pipe:0", "-c:a", "nope", "x.wav"]
    )
    with pytest.raises(FFmpegError) as caught:
        for _ in range(50):
            pipe.write(b"\0" * 65536)
        pipe.close()
    assert "nope" in caught.value.stderr_tail
    pipe.kill()  # idempotent
    assert gone(pipe.pid)


@pytest.mark.slow
def test_run_ffmpeg_raises_ffmpeg_error_with_stderr_tail(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"this is not a video" * 100)
    with pytest.raises(FFmpegError) as caught:
        ffmpeg.run_ffmpeg(["-i", str(bad), "-f", "null", "-"])
    assert caught.value.returncode != 0
    assert "Invalid data" in caught.value.stderr_tail
    assert str(bad) in caught.value.argv
    with pytest.raises(FFmpegError):
        inspection.probe(bad)


@pytest.mark.slow
def test_probe_reads_wav_facts(tmp_path):
    wav = make_wav(tmp_path / "t.wav", 1.25, rate=22050)
    info = inspection.probe(wav)
    assert info.video is None
    assert info.audio == inspection.AudioStream("pcm_s16le", 22050, 1)
    assert info.duration == pytest.approx(1.25, abs=0.01)
    assert files.wav_duration(wav) == pytest.approx(1.25, abs=1e-4)


@pytest.mark.slow
def test_extract_frame_past_the_end_raises(composed, tmp_path):
    out, _, _, _ = composed
    with pytest.raises(ValueError):
        inspection.extract_frame(out, 60.0, tmp_path / "none.png")


# A long encode of a generated picture: it runs until something stops it.
ENDLESS = ["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-t", "600"]
ENDLESS += ["-c:v", "libx264", "-preset", "veryslow", "-f", "null", "-"]


def ffmpeg_children() -> list[int]:
    """Return the pids of this process's ffmpeg children."""
    found = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        for pid in (task / "children").read_text().split():
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv and b"ffmpeg" in argv[0]:
                found.append(int(pid))
    return found


def gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True


@pytest.mark.slow
def test_a_stop_check_kills_ffmpeg_which_runs_in_a_session_of_its_own():
    seen: list[int] = []
    asked = []

    def should_stop() -> bool:
        asked.append(time.monotonic())
        if not seen:
            seen.extend(ffmpeg_children())
        return len(asked) >= 3

    started = time.monotonic()
    with pytest.raises(Stopped):
        ffmpeg.run_ffmpeg(ENDLESS, should_stop=should_stop)
    took = time.monotonic() - started
    assert len(seen) == 1
    # a terminal's Ctrl-C or a SIGTERM to our process group does not reach it
    assert not ffmpeg_children() and gone(seen[0])
    assert took < 10, took  # asked every 0.2 s: about 0.6 s here
    gaps = [b - a for a, b in zip(asked, asked[1:], strict=False)]
    assert all(0.1 < g < 2 for g in gaps), gaps


@pytest.mark.slow
def test_ffmpeg_ended_by_a_signal_nobody_here_sent_is_a_retryable_failure():
    signalled: list[int] = []

    def should_stop() -> bool:
        for pid in ffmpeg_children():
            assert os.getsid(pid) == pid != os.getsid(0)
            if pid not in signalled:
                os.kill(pid, signal.SIGTERM)  # ffmpeg exits 255, "received signal 15"
                signalled.append(pid)
        return False

    with pytest.raises(FFmpegInterrupted) as caught:
        ffmpeg.run_ffmpeg(ENDLESS, should_stop=should_stop)
    assert isinstance(caught.value, Retryable) and caught.value.returncode == 255


@pytest.mark.slow
def test_ffmpeg_ended_by_a_signal_while_the_run_stops_is_a_stop_not_a_failure():
    stopping: list[bool] = []

    def should_stop() -> bool:
        for pid in ffmpeg_children():
            os.kill(pid, signal.SIGKILL)  # the platform's signal reached ffmpeg first ...
            stopping.append(True)  # ... and reaches the worker a moment later
            return False
        return bool(stopping)

    with pytest.raises(Stopped):
        ffmpeg.run_ffmpeg(ENDLESS, should_stop=should_stop)


@pytest.mark.slow
def test_a_stopped_encode_leaves_no_clip(tmp_path):
    frames = [(Image.new("RGB", (SMALL.width, SMALL.height), c), 0.5) for c in PALETTE]
    calls = []

    def should_stop() -> bool:
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(Stopped):
        compose.encode_frames(frames, SMALL, tmp_path / "clip.mp4", should_stop=should_stop)
    assert list(tmp_path.iterdir()) == []  # neither the clip nor its frames folder


# --- fast tests: no ffmpeg run ---------------------------------------------------------------


def fake_runner(returncode=0, stdout=b"", stderr=b""):
    calls = []

    def run(argv, **kwargs):
        calls.append(argv)
        return subprocess.CompletedProcess(argv, returncode, stdout, stderr)

    run.calls = calls
    return run


def test_run_ffmpeg_prepends_binary_and_quiet_flags():
    runner = fake_runner()
    ffmpeg.run_ffmpeg(["-i", "x.wav", "out.mp3"], runner=runner)
    argv = runner.calls[0]
    assert argv[0] == ffmpeg.ffmpeg_exe()
    assert argv[1:] == ["-hide_banner", "-nostdin", "-nostats", "-y", "-i", "x.wav", "out.mp3"]


def test_run_ffmpeg_failure_carries_the_last_lines_of_stderr():
    stderr = "\n".join(f"line {i}" for i in range(100)).encode() + b"\nx.wav: No such file"
    runner = fake_runner(returncode=254, stderr=stderr)
    with pytest.raises(FFmpegError) as caught:
        ffmpeg.run_ffmpeg(["-i", "x.wav"], runner=runner)
    assert caught.value.returncode == 254
    assert caught.value.stderr_tail.endswith("x.wav: No such file")
    assert "line 0\n" not in caught.value.stderr_tail


def test_run_ffmpeg_timeout_becomes_ffmpeg_error():
    def runner(argv, **kwargs):
        raise subprocess.TimeoutExpired(argv, kwargs["timeout"], stderr=b"frame=10")

    with pytest.raises(FFmpegError, match="timed out after 2"):
        ffmpeg.run_ffmpeg(["-i", "x"], timeout=2, runner=runner)


SAMPLE_INFO = """\
Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'v.mp4':
  Metadata:
    major_brand     : isom
    title           : Not a chapter
  Duration: 01:02:03.45, start: 0.000000, bitrate: 530 kb/s
  Chapters:
    Chapter #0:0: start 0.000000, end 1.370000
      Metadata:
        title           : line one
                        : line two
    Chapter #0:1: start 1.370000, end 3723.450000
      Metadata:
        title           : A = b ; c
  Stream #0:0[0x1](und): Video: mjpeg (Baseline), yuvj420p(pc), 300x300, 90k tbr (attached pic)
  Stream #0:1[0x2](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(tv, bt709/unknown/unknown, progressive), 1920x1080 [SAR 1:1 DAR 16:9], 301 kb/s, 29.97 fps, 1k tbr, 16k tbn (default)
    Metadata:
      handler_name    : VideoHandler
  Stream #0:2[0x3](eng): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, 5.1(side), fltp, 155 kb/s (default)
  Stream #0:3[0x4](eng): Data: bin_data (text / 0x74786574), 0 kb/s
At least one output file must be specified
"""


def test_parse_input_info_reads_streams_duration_and_chapters():
    info = inspection.parse_input_info(SAMPLE_INFO)
    assert info.format == "mov,mp4,m4a,3gp,3g2,mj2"
    assert info.duration == pytest.approx(3723.45)
    assert info.video == inspection.VideoStream(
        "h264", 1920, 1080, pix_fmt="yuv420p", profile="High", fps=29.97
    )
    assert info.audio == inspection.AudioStream("aac", 44100, 6)
    assert info.chapters == (
        compose.Chapter(0.0, 1.37, "line one\nline two"),
        compose.Chapter(1.37, 3723.45, "A = b ; c"),
    )


def test_parse_input_info_without_input_section_raises():
    with pytest.raises(ValueError):
        inspection.parse_input_info("x.mp4: No such file or directory\n")


def test_parse_input_info_handles_images_and_unknown_duration():
    text = (
        "Input #0, png_pipe, from 'a.png':\n  Duration: N/A, bitrate: N/A\n"
        "  Stream #0:0: Video: png, rgba(pc, gbr/unknown/unknown), 640x480, 1k fps, 1k tbr\n"
    )
    info = inspection.parse_input_info(text)
    assert info.duration is None
    assert info.video == inspection.VideoStream("png", 640, 480, pix_fmt="rgba", fps=1000.0)


def test_ffmetadata_escapes_special_characters():
    text = compose.ffmetadata_text([compose.Chapter(0, 1.2345, "a=b;c#d\\e\nf é")])
    assert text == (
        ";FFMETADATA1\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1234\n"
        "title=a\\=b\\;c\\#d\\\\e\\\nf é\n"
    )


def test_ffmetadata_in_frames_puts_chapters_exactly_on_frame_boundaries():
    text = compose.ffmetadata_text([compose.Chapter(41 / 30, 101 / 30, "b")], time_base=30)
    assert "TIMEBASE=1/30\nSTART=41\nEND=101\n" in text


def test_frame_bounds_put_each_slide_change_on_the_nearest_frame():
    segments = segments_for([Path(f"/s/{i}.png") for i in range(4)], DURATIONS, TITLES)
    fmt = h264.VideoFormat(SMALL, 30)
    bounds = compose.frame_bounds(segments, 5.41, fmt)
    assert bounds == [0, 41, 102, 126, 162]  # 1.37 s is 41.1 frames, 3.39 s is 101.7, ...
    for seg, frame in zip(segments, bounds, strict=False):
        assert abs(frame / 30 - seg.start) <= FRAME / 2
    assert compose.frame_bounds(segments, 5.41, h264.VideoFormat(SMALL, 24))[-1] == 130


def test_frames_at_sample_positions_round_halves_up_exactly():
    fmt = h264.VideoFormat(SMALL, 25)
    assert fmt.frame_at_sample(480, 24000) == 1  # exactly half a frame at 25 fps
    assert fmt.frame_at_sample(479, 24000) == 0
    assert fmt.frame_at_sample(22050 * 3, 22050) == 75


@pytest.mark.parametrize(
    ("starts", "durations", "total", "size"),
    [
        ([0.0, 1.5], [1.0, 1.0], 2.5, Size(640, 360)),  # a gap between slides
        ([0.2, 1.2], [1.0, 1.0], 2.2, Size(640, 360)),  # does not start at 0
        ([0.0, 1.0], [1.0, 1.0], 0.9, Size(640, 360)),  # audio ends before slide 2
        ([0.0, 1.0], [1.0, 0.01], 1.01, Size(640, 360)),  # slide 2 is shorter than a frame
        ([0.0, 1.0], [1.0, 1.0], 2.0, Size(641, 360)),  # odd width
        ([], [], 2.0, Size(640, 360)),
    ],
)
def test_impossible_layouts_are_refused_before_ffmpeg_runs(
    tmp_path, starts, durations, total, size
):
    segments = [
        Segment(i + 1, "t", Path("/s.png"), s, d)
        for i, (s, d) in enumerate(zip(starts, durations, strict=True))
    ]
    audio = make_wav(tmp_path / "a.wav", total, rate=8000)
    with pytest.raises(ValueError):
        compose.compose_video(segments, audio, tmp_path / "o.mp4", size=size)
    assert not (tmp_path / "o.mp4").exists()


def test_mux_copies_both_tracks_and_times_every_frame_as_its_number_over_fps(tmp_path):
    args = compose.mux_argv(
        tmp_path / "v.h264", tmp_path / "a.m4a", tmp_path / "o.mp4", fps=25, metadata=None
    )
    assert args[:6] == ["-f", "h264", "-framerate", "25", "-i", str(tmp_path / "v.h264")]
    assert args[args.index("-c") + 1] == "copy"  # no encoding at all
    assert args[args.index("-bsf:v") + 1] == "setts=ts=N/(25*TB):duration=1/(25*TB)"
    assert args[args.index("-video_track_timescale") + 1] == "12800"  # 512 ticks a frame
    assert args[args.index("-movflags") + 1] == "+faststart"
    assert args[args.index("-map_chapters") + 1] == "-1"
    meta = compose.mux_argv(
        tmp_path / "v.h264", tmp_path / "a.m4a", tmp_path / "o.mp4", fps=60, metadata=tmp_path
    )
    assert meta[meta.index("-map_chapters") + 1] == "2"
    assert compose.mp4_timescale(60) == 15360 and compose.mp4_timescale(24) == 12288


def test_gops_are_at_most_two_seconds_and_never_a_single_frame():
    for frames in [*range(1, 200), 1800, 1801, 3601]:
        lengths = h264.chunks(frames, 60)
        assert sum(lengths) == frames and all(0 < n <= 60 for n in lengths)
        assert frames == 1 or 1 not in lengths
    assert h264.chunks(121, 60) == [60, 59, 2]


def test_access_units_split_an_annex_b_stream_at_its_delimiters():
    aud = b"\x00\x00\x00\x01\x09\xf0"
    sps, pps = b"\x00\x00\x00\x01\x67\x64\x00\x1f", b"\x00\x00\x00\x01\x68\xee"
    idr, p = b"\x00\x00\x01\x65\x88\x84\x00", b"\x00\x00\x01\x41\x9a\x00\x00\x03\x01"
    stream = aud + sps + pps + idr + aud + p + aud + p
    units = h264.access_units(stream)
    assert units == [aud + sps + pps + idr, aud + p, aud + p]
    assert [h264.is_keyframe(u) for u in units] == [True, False, False]
    assert h264.parameter_sets(units[0]) == sps.lstrip(b"\x00") + pps.lstrip(b"\x00")
    with pytest.raises(ValueError):
        h264.access_units(sps + idr)  # no delimiters: not made with our settings


def test_h264_level_fits_frame_size_and_rate():
    assert compose.h264_level_for(Size(1920, 1080)) == "4.1"
    assert compose.h264_level_for(Size(1080, 1920), 30) == "4.1"
    assert compose.h264_level_for(Size(1920, 1080), 60) == "4.2"  # 1080p60 needs 4.2
    assert compose.h264_level_for(Size(1080, 1080), 50) == "4.1"
    assert compose.h264_level_for(Size(1080, 1080), 60) == "4.2"
    assert compose.h264_level_for(Size(1280, 720), 60) == "4.1"
    assert compose.h264_level_for(Size(3840, 2160)) == "5.1"


def test_mp4_atoms_walks_top_level_boxes(tmp_path):
    path = tmp_path / "boxes.mp4"
    body = struct.pack(">I4s", 16, b"ftyp") + b"isom\0\0\0\0"
    body += struct.pack(">I4sQ", 1, b"mdat", 24) + b"\0" * 8
    body += struct.pack(">I4s", 0, b"moov") + b"\0" * 4
    path.write_bytes(body)
    assert inspection.mp4_atoms(path) == [
        inspection.Atom("ftyp", 0, 16),
        inspection.Atom("mdat", 16, 24),
        inspection.Atom("moov", 40, 12),
    ]


def test_color_matrix_follows_chromiums_height_rule():
    # Chromium's software decoder ignores the tag and picks the matrix from the height.
    assert compose.color_matrix_for(Size(1920, 1080)) == ("bt709", "bt709")
    assert compose.color_matrix_for(Size(1080, 1920)) == ("bt709", "bt709")
    assert compose.color_matrix_for(Size(960, 720)) == ("bt709", "bt709")
    assert compose.color_matrix_for(Size(1280, 718)) == ("bt601", "smpte170m")
    assert compose.color_matrix_for(Size(640, 360)) == ("bt601", "smpte170m")


@pytest.mark.parametrize(
    ("returncode", "stderr", "interrupted"),
    [
        (255, b"x\nExiting normally, received signal 15.", True),
        (123, b"Received > 3 system signals, hard exiting", True),
        (-9, b"", True),
        (255, b"Operation not permitted", False),
        (1, b"received signal in a file name", False),
    ],
)
def test_only_an_ffmpeg_ended_by_a_signal_is_retryable(returncode, stderr, interrupted):
    runner = fake_runner(returncode=returncode, stderr=stderr)
    with pytest.raises(FFmpegError) as caught:
        ffmpeg.run_ffmpeg(["-i", "x"], runner=runner)
    assert isinstance(caught.value, FFmpegInterrupted) is interrupted
    assert isinstance(caught.value, Retryable) is interrupted
