-- One word per concept: the rows are runs of a generation (README glossary), so the table,
-- its indexes and the events' reference to it say so.
ALTER TABLE jobs RENAME TO runs;

ALTER TABLE events RENAME COLUMN job_id TO run_id;

DROP INDEX jobs_by_generation;
CREATE INDEX runs_by_generation ON runs (generation_id, id);

DROP INDEX jobs_one_active_run;
CREATE UNIQUE INDEX runs_one_active_run ON runs (generation_id)
    WHERE status IN ('queued', 'running');

DROP INDEX jobs_claimable;
CREATE INDEX runs_claimable ON runs (status, id);

DROP INDEX events_by_job;
CREATE INDEX events_by_run ON events (run_id, id);
