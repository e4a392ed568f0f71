-- One row per generation run; a generation id's newest row is the run it refers to.
CREATE TABLE jobs (
    id AUTOINCREMENT_PK,
    generation_id TEXT NOT NULL,
    status TEXT NOT NULL
        CHECK (status IN ('queued', 'running', 'completed', 'error', 'cancelled')),
    request TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    worker_id TEXT,
    lease_expires_at DOUBLE PRECISION,
    created_at DOUBLE PRECISION NOT NULL,
    started_at DOUBLE PRECISION,
    finished_at DOUBLE PRECISION,
    error TEXT,
    result TEXT
);

CREATE INDEX jobs_by_generation ON jobs (generation_id, id);

-- At most one queued or running run per generation id: the 409 rule, enforced by the database.
CREATE UNIQUE INDEX jobs_one_active_run ON jobs (generation_id)
    WHERE status IN ('queued', 'running');

CREATE INDEX jobs_claimable ON jobs (status, id);

-- Append-only progress events, ordered by id.
CREATE TABLE events (
    id AUTOINCREMENT_PK,
    job_id BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    progress INTEGER NOT NULL CHECK (progress BETWEEN 0 AND 100),
    message TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);

CREATE INDEX events_by_job ON events (job_id, id);
