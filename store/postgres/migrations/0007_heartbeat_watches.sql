-- When assay began to watch each heartbeat check: the first deadline of a
-- check never pinged counts from the earliest of them, so that a restart
-- (a deploy, a crash loop) does not push a missed heartbeat back.
CREATE TABLE heartbeat_watches (
	check_name TEXT PRIMARY KEY,
	since_ms   BIGINT NOT NULL
);
