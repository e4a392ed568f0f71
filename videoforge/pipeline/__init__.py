"""The generation pipeline behind one small seam: a job in, progress reports out.

The worker calls ``pipeline.run(job, report, workdir)``; ``report(status, progress, message)``
records a progress event (and raises when the job was cancelled or the worker is stopping);
``run`` returns the result to store with the completed job.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from ..jobqueue import Job

Report = Callable[[str, int, str], None]


class Pipeline(Protocol):
    def run(self, job: Job, report: Report, workdir: Path) -> dict[str, Any]: ...
