"""The generation pipeline behind one small seam: a job in, progress reports out.

The worker calls ``pipeline.run(job, report, workdir)``; ``report(status, progress, message)``
records a progress event (and raises when the job was cancelled or the worker is stopping),
and ``report.usage`` counts what the run consumes from paid services (stored with the job,
whether it completes or fails); ``run`` returns the result to store with the completed job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from ..jobqueue import Job
from ..providers.base import Usage


class Report(Protocol):
    usage: Usage

    def __call__(self, status: str, progress: int, message: str) -> None: ...


class Pipeline(Protocol):
    def run(self, job: Job, report: Report, workdir: Path) -> dict[str, Any]: ...
