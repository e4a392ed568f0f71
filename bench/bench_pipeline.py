"""Benchmark the whole offline run, POST to completed, against speech synthesis alone.

Run by hand:  .venv/bin/python bench/bench_pipeline.py [--slides 10] [--unique] [--deck pdf|pptx]

Same run, same machine:
  1. baseline: a fresh process loads the Piper voice and synthesizes every slide's narration
     (exactly the text the pipeline speaks), nothing else;
  2. the service: serve.py and worker.py (the real pipeline, a cold cache, the voice already
     loaded as a running worker has it), one outline POSTed and its stream read to `done`.
     Before it, a one-slide video of another text at the same size is made and not timed, as
     a running service has made one: it makes the format's skip frames (media.h264), which
     are cached once per size and frame rate (about 1 s at 1080p).
Reports seconds of video per second of wall time, the ratio of (2) to (1), how long the run
took after its last slide's speech was done (what composition still had to do), the video's
loudness and true peak as ffmpeg's ebur128 measures them, and the worker's peak memory (VmHWM).

With --deck, the same slides go as an uploaded deck (a PDF made with fpdf2, or a PPTX with
python-pptx and the narration as speaker notes, converted by LibreOffice when installed),
so the pages are rendered by PDFium instead of our layouts; the baseline is the same.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.decks import multipart  # noqa: E402
from tests.helpers import (  # noqa: E402
    Service,
    base_env,
    free_port,
    read_stream,
    request,
    request_json,
)
from videoforge.media import inspection  # noqa: E402

SENTENCES = [
    "Every living cell needs a steady supply of energy to stay organized and alive.",
    "Plants capture that energy directly from sunlight, using pigments packed into chloroplasts.",
    "The light reactions split water, release oxygen, and charge up carrier molecules.",
    "Those carriers then power the Calvin cycle, which fixes carbon dioxide into sugar.",
    "The sugar becomes the raw material for growth, repair, and storage in the plant.",
    "Animals, in turn, eat plants and release the stored energy through respiration.",
    "This is why photosynthesis sits at the base of almost every food web on Earth.",
]


def outline(slides: int, unique: bool = False) -> list[dict]:
    """Return the outline; slides 8-10 repeat slides 1-3's narration unless `unique`.

    The service speaks a repeated narration once (its cache), the baseline every time: with
    `unique`, each narration starts with its own sentence, so both speak the same.
    """
    deck = []
    for i in range(slides):
        text = " ".join(SENTENCES[(i + k) % len(SENTENCES)] for k in range(4))
        if unique:
            text = f"This is part {i + 1} of the story. {text}"
        deck.append(
            {
                "title": f"Part {i + 1}: how energy flows",
                "bullets": ["Light is captured", "Carbon is fixed", "Sugar is stored"],
                "narration": text,
            }
        )
    return deck


BASELINE = """
import json, sys, time, tempfile
from pathlib import Path
t0 = time.perf_counter()
from videoforge.providers.piper import PiperSpeech
speech = PiperSpeech()
speech.voice()
t1 = time.perf_counter()
total = 0.0
with tempfile.TemporaryDirectory() as d:
    for i, text in enumerate(json.load(sys.stdin)):
        total += speech.synthesize_sentences(text, Path(d) / f"{i}.wav")[0]
t2 = time.perf_counter()
print(json.dumps({"load": t1 - t0, "synth": t2 - t1, "audio": total}))
"""


def deck_file(deck: list[dict], kind: str, folder: Path) -> Path:
    """Write the outline as a PDF (narration sent in the request) or a PPTX (notes)."""
    if kind == "pdf":
        from fpdf import FPDF

        pdf = FPDF(orientation="L", unit="pt", format=(540, 960))
        for slide in deck:
            pdf.add_page()
            pdf.set_font("Helvetica", "B", 36)
            pdf.text(60, 100, slide["title"])
            pdf.set_font("Helvetica", size=24)
            for i, bullet in enumerate(slide["bullets"]):
                pdf.text(80, 170 + 44 * i, f"- {bullet}")
            pdf.set_fill_color(40, 120, 200)
            pdf.ellipse(620, 180, 260, 260, style="F")
        pdf.output(str(folder / "deck.pdf"))
        return folder / "deck.pdf"
    from pptx import Presentation
    from pptx.util import Inches

    prs = Presentation()
    prs.slide_width, prs.slide_height = Inches(13.333), Inches(7.5)
    for slide in deck:
        page = prs.slides.add_slide(prs.slide_layouts[1])
        page.shapes.title.text = slide["title"]
        page.placeholders[1].text_frame.text = "\n".join(slide["bullets"])
        page.notes_slide.notes_text_frame.text = slide["narration"]
    prs.save(str(folder / "deck.pptx"))
    return folder / "deck.pptx"


def post_deck(svc: Service, deck: list[dict], kind: str, folder: Path) -> tuple[int, dict]:
    fields = {"topic": "Energy"}
    if kind == "pdf":
        fields["narrations"] = json.dumps([s["narration"] for s in deck])
    body, content_type = multipart(fields, deck_file(deck, kind, folder))
    status, _, data = request(
        svc, "POST", "/api/generate", raw=body, headers={"Content-Type": content_type}
    )
    return status, json.loads(data)


def vm_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slides", type=int, default=10)
    parser.add_argument(
        "--unique", action="store_true", help="no narration repeated (no cache hits in the run)"
    )
    parser.add_argument("--deck", choices=("pdf", "pptx"), help="upload the slides as a deck")
    args = parser.parse_args()
    deck = outline(args.slides, args.unique)

    base = subprocess.run(
        [sys.executable, "-c", BASELINE],
        input=json.dumps([s["narration"] for s in deck]),
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    baseline = json.loads(base.stdout)

    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        svc = Service(Path(tmp), port, base_env(Path(tmp), port))
        try:
            svc.start_web()
            worker = svc.start_worker(pipeline=None)
            deadline = time.time() + 60
            while "loaded Piper voice" not in svc.logs() and time.time() < deadline:
                time.sleep(0.1)
            warm = {"title": "Warm-up", "bullets": ["One"], "narration": "A first video."}
            status, body = request_json(
                svc, "POST", "/api/generate", {"topic": "Warm-up", "slides": [warm]}
            )
            assert status == 202, body
            read_stream(svc, body["progress_url"], timeout=120)
            started = time.perf_counter()
            if args.deck:
                status, body = post_deck(svc, deck, args.deck, Path(tmp))
            else:
                status, body = request_json(
                    svc, "POST", "/api/generate", {"topic": "Energy", "slides": deck}
                )
            assert status == 202, body
            _, _, messages = read_stream(svc, body["progress_url"], timeout=600)
            wall = time.perf_counter() - started
            assert messages[-2].data["status"] == "completed", messages[-3:]
            spoken = [m for m in messages if m.data and m.data["status"] == "generating_audio"]
            after_speech = messages[-2].received_at - spoken[-1].received_at
            _, info = request_json(svc, "GET", f"/api/status/{body['generation_id']}")
            peak = vm_hwm_kib(worker.pid)
            video = Path(tmp) / "video.mp4"
            video.write_bytes(request(svc, "GET", info["result"]["video_url"])[2])
            sound = inspection.loudness(video)
            frames = inspection.probe(video).video.fps
        finally:
            svc.stop()

    video = info["result"]["duration"]
    synth = baseline["synth"]
    rows = [
        ("slides", f"{args.slides}{' (unique narrations)' if args.unique else ''}"),
        ("input", f"an uploaded {args.deck.upper()} deck" if args.deck else "an outline"),
        ("narrations synthesized by the service", info["result"]["narrations_synthesized"]),
        ("video length (s)", f"{video:.1f}"),
        ("speech alone: voice load (s)", f"{baseline['load']:.2f}"),
        ("speech alone: synthesis (s)", f"{synth:.2f}"),
        ("POST to completed (s)", f"{wall:.2f}"),
        ("speed (s of video per s of wall time)", f"{video / wall:.1f}x realtime"),
        ("POST to completed / speech alone", f"{wall / synth:.2f}"),
        ("POST to completed / (speech + voice load)", f"{wall / (synth + baseline['load']):.2f}"),
        ("after the last slide's speech (s)", f"{after_speech:.2f}"),
        ("loudness, true peak (ebur128)", f"{sound.integrated} LUFS, {sound.true_peak} dBTP"),
        ("frame rate", f"{frames:g} fps"),
        ("worker stage timings (s)", json.dumps(info["result"]["timings"])),
        ("worker peak RSS (MiB)", f"{peak / 1024:.0f}"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
