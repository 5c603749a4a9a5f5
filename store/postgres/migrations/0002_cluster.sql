-- Replicas sharing the store: who is alive, which checks each loaded, and
-- which replica owns which check. Expiry is by the database's now() only.
CREATE TABLE members (
	id          TEXT PRIMARY KEY,
	fingerprint TEXT NOT NULL,
	started     TIMESTAMPTZ NOT NULL,
	heartbeat   TIMESTAMPTZ NOT NULL,
	owned       INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE member_checks (
	member_id   TEXT NOT NULL,
	check_name  TEXT NOT NULL,
	fingerprint TEXT NOT NULL,
	PRIMARY KEY (member_id, check_name)
);
-- epoch grows by one each time the lease changes hands: every write for
-- the check carries the epoch it was made under, and one made under an
-- older epoch is refused (fencing).
CREATE TABLE leases (
	check_name TEXT PRIMARY KEY,
	owner      TEXT NOT NULL,
	epoch      BIGINT NOT NULL,
	expires    TIMESTAMPTZ NOT NULL
);
CREATE INDEX leases_owner ON leases (owner);
