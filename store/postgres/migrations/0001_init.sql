-- The tables of the SQLite store, for replicas sharing one PostgreSQL.
-- Times are Unix milliseconds (BIGINT) as in SQLite, so that both drivers
-- read and write the same values; leases (0002) use the database's now().
CREATE TABLE alert_state (
	check_name TEXT PRIMARY KEY,
	state      TEXT NOT NULL,
	updated_ms BIGINT NOT NULL
);
CREATE TABLE outbox (
	seq        BIGSERIAL PRIMARY KEY,
	event_key  TEXT NOT NULL,
	check_name TEXT NOT NULL,
	notifier   TEXT NOT NULL,
	kind       TEXT NOT NULL,
	payload    TEXT NOT NULL,
	created_ms BIGINT NOT NULL,
	attempts   INTEGER NOT NULL DEFAULT 0,
	next_ms    BIGINT NOT NULL,
	last_error TEXT NOT NULL DEFAULT '',
	UNIQUE (event_key, notifier)
);
CREATE INDEX outbox_queue ON outbox (check_name, notifier, seq);
CREATE TABLE dead_letter (
	seq        BIGINT PRIMARY KEY,
	event_key  TEXT NOT NULL,
	check_name TEXT NOT NULL,
	notifier   TEXT NOT NULL,
	kind       TEXT NOT NULL,
	payload    TEXT NOT NULL,
	created_ms BIGINT NOT NULL,
	attempts   INTEGER NOT NULL,
	reason     TEXT NOT NULL,
	last_error TEXT NOT NULL,
	failed_ms  BIGINT NOT NULL
);
CREATE TABLE results (
	id           BIGINT PRIMARY KEY,
	check_name   TEXT NOT NULL,
	started_ms   BIGINT NOT NULL,
	duration_us  BIGINT NOT NULL,
	passed       SMALLINT NOT NULL,
	reason       TEXT NOT NULL,
	message      TEXT NOT NULL,
	failing_step TEXT NOT NULL,
	result       TEXT NOT NULL,
	-- rolled is set when the run is added to the aggregates: several
	-- replicas write runs with interleaved ids, so no single id mark says
	-- which runs are counted.
	rolled       BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX results_check ON results (check_name, id);
CREATE INDEX results_unrolled ON results (id) WHERE NOT rolled;
CREATE TABLE baselines (
	check_name TEXT NOT NULL,
	step_name  TEXT NOT NULL,
	run_id     BIGINT NOT NULL,
	started_ms BIGINT NOT NULL,
	response   TEXT NOT NULL,
	PRIMARY KEY (check_name, step_name)
);
CREATE TABLE rollup_minute (
	check_name  TEXT NOT NULL,
	bucket_ms   BIGINT NOT NULL,
	runs        BIGINT NOT NULL,
	failures    BIGINT NOT NULL,
	duration_us BIGINT NOT NULL,
	PRIMARY KEY (check_name, bucket_ms)
);
CREATE INDEX rollup_minute_bucket ON rollup_minute (bucket_ms);
CREATE TABLE rollup_hour (
	check_name  TEXT NOT NULL,
	bucket_ms   BIGINT NOT NULL,
	runs        BIGINT NOT NULL,
	failures    BIGINT NOT NULL,
	duration_us BIGINT NOT NULL,
	PRIMARY KEY (check_name, bucket_ms)
);
CREATE INDEX rollup_hour_bucket ON rollup_hour (bucket_ms);
CREATE TABLE incidents (
	id            TEXT PRIMARY KEY,
	check_name    TEXT NOT NULL,
	started_ms    BIGINT NOT NULL,
	opened_ms     BIGINT NOT NULL,
	resolved_ms   BIGINT NOT NULL,
	resolution    TEXT NOT NULL,
	first_failure TEXT NOT NULL,
	first_reason  TEXT NOT NULL,
	last_failure  TEXT NOT NULL,
	runs          INTEGER NOT NULL,
	failed_runs   INTEGER NOT NULL
);
CREATE INDEX incidents_check ON incidents (check_name, opened_ms);
CREATE INDEX incidents_opened ON incidents (opened_ms);
CREATE TABLE counters (
	name  TEXT PRIMARY KEY,
	value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('next_result_id', 1);
