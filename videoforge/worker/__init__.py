"""The worker: claim a run, hold its lease, run the pipeline, record how it ended (loop)."""
