package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	sloggokit "github.com/tjhop/slog-gokit"
)

// newLogger returns the go-kit logger, and an slog.Logger for exporter-toolkit
// that writes through the same encoder and level filter, so every line of the
// process has one format and one time key, ts.
func newLogger(format, lvl string) (log.Logger, *slog.Logger) {
	return newLoggerTo(os.Stderr, format, lvl)
}

func newLoggerTo(w io.Writer, format, lvl string) (log.Logger, *slog.Logger) {
	var base log.Logger
	if format == "json" {
		base = log.NewJSONLogger(log.NewSyncWriter(w))
	} else {
		base = log.NewLogfmtLogger(log.NewSyncWriter(w))
	}
	base = level.NewFilter(base, level.Allow(level.ParseDefault(lvl, level.InfoValue())))
	base = log.With(base, "ts", log.DefaultTimestampUTC)
	// slog-gokit passes the level as the first pair; prefixing it puts it
	// before ts, where level.Info and friends put it on go-kit lines.
	levelFirst := log.LoggerFunc(func(kv ...any) error {
		return log.WithPrefix(base, kv[:2]...).Log(kv[2:]...)
	})
	// The go-kit filter above is the only level filter: the slog handler
	// passes every level down to it. slog-gokit adds the caller from the
	// record itself, which go-kit's DefaultCaller cannot see past slog.
	return log.With(base, "caller", log.DefaultCaller),
		slog.New(untimedHandler{sloggokit.NewGoKitHandler(levelFirst, slog.LevelDebug)})
}

// untimedHandler drops slog's own time, which slog-gokit would write as a
// second timestamp under the key time next to go-kit's ts.
type untimedHandler struct{ slog.Handler }

func (h untimedHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Time = time.Time{}
	return h.Handler.Handle(ctx, r)
}

func (h untimedHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return untimedHandler{h.Handler.WithAttrs(attrs)}
}

func (h untimedHandler) WithGroup(name string) slog.Handler {
	return untimedHandler{h.Handler.WithGroup(name)}
}
