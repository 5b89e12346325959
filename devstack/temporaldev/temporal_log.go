package temporaldev

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// temporalNoise are WARN lines the embedded server prints on every start
// that say nothing useful here.
var temporalNoise = []string{
	"HTTP API port has not been set", // Nexus over HTTP is not used
}

// temporalLogger hands the embedded Temporal server's log lines at WARN and
// above to slog; the server logs a great deal at INFO and DEBUG, all dropped.
// Once the server is stopping, only errors pass: its services then warn
// about every poll and dial the shutdown interrupts.
type temporalLogger struct {
	log      *slog.Logger
	stopping *atomic.Bool
}

var (
	_ log.Logger     = temporalLogger{}
	_ log.WithLogger = temporalLogger{}
)

// newTemporalLogger returns a server logger writing to l (nil: nowhere, but
// Fatal and Panic still panic); setting stopping quiets its warnings.
func newTemporalLogger(l *slog.Logger, stopping *atomic.Bool) log.Logger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return temporalLogger{log: l.With("component", "temporal-server"), stopping: stopping}
}

func (l temporalLogger) Debug(string, ...tag.Tag)           {}
func (l temporalLogger) Info(string, ...tag.Tag)            {}
func (l temporalLogger) Warn(msg string, tags ...tag.Tag)   { l.emit(slog.LevelWarn, msg, tags) }
func (l temporalLogger) Error(msg string, tags ...tag.Tag)  { l.emit(slog.LevelError, msg, tags) }
func (l temporalLogger) DPanic(msg string, tags ...tag.Tag) { l.emit(slog.LevelError, msg, tags) }

// Panic logs and panics, as the server's own (zap) logger does.
func (l temporalLogger) Panic(msg string, tags ...tag.Tag) {
	l.emit(slog.LevelError, msg, tags)
	panic(newServerFatal(msg, tags))
}

// Fatal logs and panics with a *serverFatal, where the server's own logger
// would exit the process; StartTemporal turns it into an error when it
// happens during the start (e.g. "Failed to start gRPC listener").
func (l temporalLogger) Fatal(msg string, tags ...tag.Tag) {
	l.emit(slog.LevelError, msg, tags)
	panic(newServerFatal(msg, tags))
}

func (l temporalLogger) With(tags ...tag.Tag) log.Logger {
	return temporalLogger{log: l.log.With(tagArgs(tags)...), stopping: l.stopping}
}

func (l temporalLogger) emit(lv slog.Level, msg string, tags []tag.Tag) {
	if lv < slog.LevelError && l.stopping.Load() {
		return
	}
	if !l.log.Enabled(context.Background(), lv) {
		return
	}
	for _, noise := range temporalNoise {
		if strings.HasPrefix(msg, noise) {
			return
		}
	}
	l.log.Log(context.Background(), lv, msg, tagArgs(tags)...)
}

// serverFatal is what the embedded server reported as fatal.
type serverFatal struct{ msg string }

func (e *serverFatal) Error() string { return e.msg }

func newServerFatal(msg string, tags []tag.Tag) *serverFatal {
	var b strings.Builder
	b.WriteString(msg)
	for _, t := range tags {
		fmt.Fprintf(&b, " %s=%v", t.Key(), t.Value())
	}
	return &serverFatal{msg: b.String()}
}

func tagArgs(tags []tag.Tag) []any {
	args := make([]any, 0, len(tags))
	for _, t := range tags {
		args = append(args, slog.Any(t.Key(), t.Value()))
	}
	return args
}
