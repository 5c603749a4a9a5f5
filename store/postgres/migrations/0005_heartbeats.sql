-- The latest ping of each heartbeat check (issue 14): any replica takes a
-- ping, the check's owner judges it.
CREATE TABLE heartbeats (
	check_name TEXT PRIMARY KEY,
	at_ms      BIGINT NOT NULL,
	failed     BOOLEAN NOT NULL,
	message    TEXT NOT NULL
);
