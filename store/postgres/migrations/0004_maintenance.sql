-- Maintenance windows and silences: a result says whether it ran in
-- one, and silences made through the API are shared by every replica.
ALTER TABLE results ADD COLUMN in_maintenance SMALLINT NOT NULL DEFAULT 0;
CREATE TABLE silences (
	id         TEXT PRIMARY KEY,
	starts_ms  BIGINT NOT NULL,
	ends_ms    BIGINT NOT NULL,
	updated_ms BIGINT NOT NULL,
	doc        TEXT NOT NULL
);
CREATE INDEX silences_ends ON silences (ends_ms);
