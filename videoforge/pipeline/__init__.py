"""The generation pipeline: plain stage functions over dataclasses and paths, run in order.

The worker calls ``pipeline.run(run, report, workdir)`` (the ``Pipeline`` protocol in
``core.types``); ``report(status, progress, message)`` records a progress event (and raises
when the run was cancelled or the worker is stopping), and ``report.usage`` counts what the
run consumes from paid services; ``run`` returns the result to store with the completed run.
``video.make_pipeline(settings)`` builds the real one.
"""
