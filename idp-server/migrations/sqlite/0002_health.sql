-- One row the readiness check writes (GET /health/ready): proof that the database takes writes.
CREATE TABLE health (
    id         INTEGER NOT NULL PRIMARY KEY,
    checked_at INTEGER NOT NULL
) STRICT;
