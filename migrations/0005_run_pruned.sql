-- When retention removed a finished run's files (its videos and run folder); NULL while they
-- are kept. The row itself stays: it is the generation's history.
ALTER TABLE runs ADD COLUMN pruned_at DOUBLE PRECISION;

-- Retention reads the finished runs whose files are kept, oldest first.
CREATE INDEX runs_kept_by_finish ON runs (finished_at, id) WHERE pruned_at IS NULL;
