package main

import (
	"fmt"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
)

// Timeouts of the HTTP server, so that neither a slow client nor an idle
// one holds a connection for good.
const (
	// No request here carries a body worth the name: a GET, or an empty
	// POST to /-/reload.
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	// Longer than the usual scrape intervals, so that Prometheus keeps
	// reusing its connection; a client gone quiet loses its connection
	// after this.
	idleTimeout = 2 * time.Minute
)

// newServer returns the HTTP server of h, with the timeouts above and
// connections closed after idle.
//
// It sets no WriteTimeout: Go counts it from the end of a request's
// headers, so it would include the time a scrape in scrape mode waits for
// its polls, up to the scrape timeout that Prometheus sends and that only
// the scrape interval bounds. A shorter one would cut the answer that
// Prometheus is still waiting for.
func newServer(h http.Handler, idle time.Duration) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout, IdleTimeout: idle}
}

// newMux routes the exporter's endpoints: metrics, the landing page (unless
// metrics are served at the root), /-/healthy, /-/ready, /-/reload, and with
// enablePprof the Go runtime's profiles under /debug/pprof/. The landing page
// links only what answers 200 to a GET.
func newMux(o serveOptions, metrics http.Handler, ready func() bool, reload func() error) (*http.ServeMux, error) {
	mux := http.NewServeMux()
	mux.Handle(o.metricsPath, metrics)
	mux.Handle("GET /-/healthy", plainText(http.StatusOK, "Vonage Audit Exporter is Healthy.\n"))
	mux.Handle("GET /-/ready", readyHandler(ready))
	mux.Handle("/-/reload", reloadHandler(o.enableLifecycle, reload))
	links := []web.LandingLinks{
		{Address: o.metricsPath, Text: "Metrics"},
		{Address: "/-/healthy", Text: "Health", Description: "200 while the exporter serves"},
		{Address: "/-/ready", Text: "Readiness", Description: "200 once the exporter serves meaningful data: in interval mode, after every account's first poll"},
	}
	if o.enablePprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		links = append(links, web.LandingLinks{Address: "/debug/pprof/", Text: "Profiling", Description: "the Go runtime's profiles, in pprof format"})
	}
	if o.metricsPath != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "Vonage Audit Exporter",
			Description: "Prometheus exporter for the Vonage Audit API",
			Version:     version.Info(),
			Links:       links,
			// The toolkit's own profiling links would answer 404 without
			// --web.enable-pprof, and one of them takes a minute.
			Profiling: "false",
		})
		if err != nil {
			return nil, fmt.Errorf("creating the landing page: %w", err)
		}
		mux.Handle("GET /{$}", landing)
	}
	return mux, nil
}

// readyHandler serves /-/ready: 200 when ready, 503 before, as Prometheus
// does; see exporter.Exporter.Ready.
func readyHandler(ready func() bool) http.Handler {
	isReady := plainText(http.StatusOK, "Vonage Audit Exporter is Ready.\n")
	notReady := plainText(http.StatusServiceUnavailable, "Vonage Audit Exporter is not ready: waiting for the first poll of every account.\n")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ready() {
			isReady.ServeHTTP(w, r)
		} else {
			notReady.ServeHTTP(w, r)
		}
	})
}

func plainText(code int, body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(code)
		_, _ = fmt.Fprint(w, body)
	})
}
