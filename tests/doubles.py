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
from videoforge.core.stages import event

# The real pipeline's events for a one-slide text deck, worded by the stage table.
STEPS = [
    event("generating_content", "start"),
    event("generating_scripts", "start"),
    event("generating_audio", "slide", 0, 1, slide=1, slides=1),
    event("generating_audio", "done", 1, 1, slide=1, slides=1, seconds=1.0),
    event("combining_audio", "start"),
    event("generating_media", "start"),
    event("generating_slide", "done", 1, 1, slide=1, slides=1),
    event("composing_video", "start"),
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
