"""Test doubles of the pipeline, loaded by worker.py --pipeline tests.doubles:make_pipeline.

They walk the contract's stages without making media, so queue and stream tests run fast.
Delays come from VF_TEST_STEP_DELAY; every run appends "run_id pid" to runs.log in the data
directory so tests can count how often each run ran.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from videoforge.core.errors import StageError
from videoforge.core.settings import Settings

STEPS = [
    ("generating_content", 10, "📝 Generating presentation content..."),
    ("generating_scripts", 20, "📜 Generating voice scripts..."),
    ("generating_audio", 30, "🎤 Generating audio for slide 1/1..."),
    ("generating_audio", 33, "✅ Generated audio for slide 1/1 (1.0s)"),
    ("combining_audio", 48, "🎚️ Combining audio tracks..."),
    ("generating_media", 50, "🖼️ Creating slide visuals..."),
    ("generating_slide", 60, "🖼️ Creating text slide 1/1..."),
    ("composing_video", 85, "🎞️ Composing final video with audio..."),
]


class ScriptedPipeline:
    def __init__(self, settings: Settings):
        self.delay = float(os.environ.get("VF_TEST_STEP_DELAY", "0.02"))
        self.log = Path(settings.data_dir) / "runs.log"

    def run(self, run, report, workdir):
        with self.log.open("a") as f:
            f.write(f"{run.id} {os.getpid()}\n")
        for status, progress, message in STEPS:
            report(status, progress, message)
            if "explode" in run.request["topic"] and status == "generating_audio":
                raise StageError("generating_audio", "the test double was asked to fail")
            time.sleep(self.delay)
        return {"video": None, "double": True}


def make_pipeline(settings: Settings) -> ScriptedPipeline:
    return ScriptedPipeline(settings)
