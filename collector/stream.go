package collector

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/poller"
)

// Handler serves the metrics of c and of others (the Go, process and build
// collectors) as promhttp.HandlerFor would with a registry of both, the
// same bytes in every format, but writes the count families as it reads
// them. Gathering builds a dto.Metric for every series before writing any:
// at a quarter-million series, some 70 MB of garbage a scrape, which made
// the exporter's memory grow with each. Here a scrape allocates about the
// same at any size.
//
// The text and OpenMetrics formats are streamed; OpenMetrics, the only one
// with exemplars, goes to the scrapers that ask for it. The protobuf
// format, which Prometheus asks for only with native histograms on, is
// gathered.
//
// Each account is read once per family, so that its lock is held for one
// family's series at a time: a family may be one poll ahead of the one
// written before it, as two scrapes apart would be. Each is exact.
func (c *Collector) Handler(others prometheus.Gatherer, errorLog promhttp.Logger) http.Handler {
	rest := prometheus.NewRegistry()
	rest.MustRegister(uncounted{c})
	all := prometheus.NewRegistry()
	all.MustRegister(c)
	gathered := promhttp.HandlerFor(prometheus.Gatherers{others, all}, promhttp.HandlerOpts{
		ErrorLog:          errorLog,
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	})
	rests := prometheus.Gatherers{others, rest}
	formats := expfmt.DefaultOpenMetricsAcceptedFormats()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		format := expfmt.NegotiateAccept(r.Header, formats...)
		openMetrics := format.FormatType() == expfmt.TypeOpenMetrics
		if !openMetrics && format.FormatType() != expfmt.TypeTextPlain {
			gathered.ServeHTTP(w, r)
			return
		}
		mfs, err := rests.Gather()
		if err != nil && errorLog != nil {
			// As promhttp.ContinueOnError: what was gathered is served.
			errorLog.Println("error gathering metrics:", err)
		}
		w.Header().Set("Content-Type", string(format))
		var out io.Writer = w
		if acceptsGzip(r) {
			w.Header().Set("Content-Encoding", "gzip")
			gz := gzipPool.Get().(*gzip.Writer)
			gz.Reset(w)
			defer func() {
				_ = gz.Close()
				gzipPool.Put(gz)
			}()
			out = gz
		}
		s := streamers.Get().(*streamer)
		defer func() {
			// Kept without this scrape's writer and accounts.
			s.w.Reset(nil)
			s.accounts = nil
			streamers.Put(s)
		}()
		s.w.Reset(out)
		s.openMetrics, s.accounts, s.err = openMetrics, c.snapshot(), nil
		enc := expfmt.NewEncoder(s.w, format)
		// Families in the order of their names, as a registry sorts them.
		next := families
		for _, mf := range mfs {
			for len(next) > 0 && next[0].name < mf.GetName() {
				s.family(next[0])
				next = next[1:]
			}
			if s.err == nil {
				s.err = enc.Encode(mf)
			}
		}
		for _, f := range next {
			s.family(f)
		}
		if closer, ok := enc.(expfmt.Closer); ok && s.err == nil {
			// The final "# EOF" of OpenMetrics.
			s.err = closer.Close()
		}
		if s.err == nil {
			s.err = s.w.Flush()
		}
		if s.err != nil && errorLog != nil {
			errorLog.Println("error encoding and sending metrics:", s.err)
		}
	})
}

var (
	gzipPool = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}
	// streamers keeps a scrape's buffers for the next.
	streamers = sync.Pool{New: func() any { return &streamer{w: bufio.NewWriterSize(nil, 64<<10)} }}
)

// acceptsGzip tells whether the request's Accept-Encoding takes gzip, with
// a quality above zero.
func acceptsGzip(r *http.Request) bool {
	for _, h := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(h, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			q := 1.0
			for p := range strings.SplitSeq(params, ";") {
				if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "q") {
					if f, err := strconv.ParseFloat(v, 64); err == nil {
						q = f
					}
				}
			}
			return q > 0
		}
	}
	return false
}

// streamer writes the count families of accounts in one exposition format.
// It is one scrape's; its buffers are kept for the next.
type streamer struct {
	w           *bufio.Writer
	openMetrics bool
	accounts    []Account
	keys        scratch
	buf         []byte // one account's lines of a family
	err         error  // the first write error; nothing is written after it
}

// family writes f: its HELP and TYPE, then each account's series, unless
// no account has any (a registry leaves out an empty family too).
func (s *streamer) family(f *family) {
	headed := false
	for _, a := range s.accounts {
		if s.err != nil {
			return
		}
		s.buf = s.buf[:0]
		a.Poller.Read(func(snap *poller.Snapshot) {
			f.each(snap, &s.keys, func(sm *sample) { s.buf = s.appendSample(s.buf, f, sm) })
		})
		if len(s.buf) == 0 {
			continue
		}
		if !headed {
			headed = true
			_, s.err = s.w.Write(s.appendHeader(nil, f))
		}
		// Written once the account is released, so that a slow reader of
		// the scrape never holds up counting.
		if s.err == nil {
			_, s.err = s.w.Write(s.buf)
		}
	}
}

// name is the family's name as the format writes it in HELP and TYPE:
// OpenMetrics names a counter without its _total.
func (s *streamer) name(f *family) string {
	if s.openMetrics && f.counter {
		return strings.TrimSuffix(f.name, "_total")
	}
	return f.name
}

func (s *streamer) appendHeader(b []byte, f *family) []byte {
	b = append(b, "# HELP "...)
	b = append(b, s.name(f)...)
	b = append(b, ' ')
	// The text format escapes no quote in a HELP; OpenMetrics does.
	b = appendEscaped(b, f.help, s.openMetrics)
	b = append(b, "\n# TYPE "...)
	b = append(b, s.name(f)...)
	if f.counter {
		b = append(b, " counter\n"...)
	} else {
		b = append(b, " gauge\n"...)
	}
	return b
}

// appendSample writes one series' line as expfmt does: the labels sorted
// by name, OpenMetrics values with a decimal point, and the exemplar in
// OpenMetrics only.
func (s *streamer) appendSample(b []byte, f *family, sm *sample) []byte {
	b = append(b, f.name...)
	for i, l := range f.labels {
		if i == 0 {
			b = append(b, '{')
		} else {
			b = append(b, ',')
		}
		b = append(b, l...)
		b = append(b, `="`...)
		b = appendEscaped(b, sm.values[i], true)
		b = append(b, '"')
	}
	b = append(b, "} "...)
	b = s.appendFloat(b, sm.value)
	if s.openMetrics && f.counter && sm.hasExemplar() {
		b = append(b, ` # {`+exemplarLabel+`="`...)
		b = appendEscaped(b, sm.exemplar.ID, true)
		b = append(b, `"} `...)
		b = s.appendFloat(b, 1)
		b = append(b, ' ')
		b = s.appendFloat(b, float64(sm.exemplar.CreatedAt.UnixNano())/1e9)
	}
	return append(b, '\n')
}

// appendFloat writes f as expfmt does: Go's shortest form, with ".0" added
// in OpenMetrics when that has neither a point nor an exponent.
func (s *streamer) appendFloat(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, +1):
		return append(b, "+Inf"...)
	case math.IsInf(f, -1):
		return append(b, "-Inf"...)
	}
	start := len(b)
	b = strconv.AppendFloat(b, f, 'g', -1, 64)
	if s.openMetrics && !bytes.ContainsAny(b[start:], "e.") {
		b = append(b, ".0"...)
	}
	return b
}

// appendEscaped escapes v as expfmt does: backslash and newline, and the
// double quote when quotes is set.
func appendEscaped(b []byte, v string, quotes bool) []byte {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quotes:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}
