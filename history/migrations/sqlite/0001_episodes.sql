-- One row per parking episode (a move or a swap closes a step and opens a linked one).
-- Times are milliseconds since the Unix epoch (UTC).
CREATE TABLE episodes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    server_id BIGINT NOT NULL,
    lot TEXT NOT NULL,
    space BIGINT NOT NULL,
    channel TEXT NOT NULL,
    unique_id TEXT NOT NULL,
    linked_id TEXT NOT NULL,
    caller_num TEXT NOT NULL,
    caller_name TEXT NOT NULL,
    parker TEXT NOT NULL,
    parked_by_user TEXT,
    parked_at BIGINT NOT NULL,
    first_parked_at BIGINT NOT NULL,
    ended_at BIGINT,
    outcome TEXT NOT NULL,
    retrieved_by TEXT,
    retrieved_to TEXT,
    returned_to TEXT,
    previous_id BIGINT,
    seen_late BOOLEAN NOT NULL,
    wait_ms BIGINT
);
CREATE INDEX episodes_first_parked_at ON episodes (first_parked_at);
CREATE INDEX episodes_ended_at ON episodes (ended_at);
CREATE INDEX episodes_caller_num ON episodes (caller_num);
