package daemon

import "log/slog"

// RouteStandardLog makes l the process's default logger and sends what
// libraries write through the standard log package into l at debug
// level, instead of as plain text on stderr. net/http's transport writes
// such a line whenever a server sends more than its Content-Length
// announced ("Unsolicited response received on idle HTTP channel"): a
// target that does so would otherwise add an unstructured line to the
// daemon's JSON log on every run. cmd/assay calls it once, before the
// daemon starts; it changes process-wide state.
func RouteStandardLog(l *slog.Logger) {
	slog.SetDefault(l)
	slog.SetLogLoggerLevel(slog.LevelDebug)
}
