-- The retention prune reads the oldest runs by start time: through this
-- index it reads only the runs it deletes, not every run kept.
CREATE INDEX results_started ON results (started_ms);
