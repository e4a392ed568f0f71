-- The client address (REMOTE_ADDR) that asked for a run, for the per-client queue limit;
-- NULL for runs made before it was recorded.
ALTER TABLE runs ADD COLUMN client TEXT;

-- Counting one client's queued and running runs reads only the active rows.
CREATE INDEX runs_active_by_client ON runs (client) WHERE status IN ('queued', 'running');
