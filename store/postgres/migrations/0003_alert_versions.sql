-- Compare-and-set of alert state changes: a change is kept only if it is
-- newer than the stored state.
ALTER TABLE alert_state ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
