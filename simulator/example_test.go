package simulator_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
)

func Example() {
	s := simulator.New(simulator.Options{APIKey: "abcd1234", APISecret: "secret", Seed: 1, BasePath: "/beta/audit"})
	day := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	s.Generate(120, day, day.Add(24*time.Hour))
	s.SetFaults(simulator.Faults{RateLimit: 1, RetryAfter: "1"})

	ts := httptest.NewServer(s)
	defer ts.Close()
	for range 2 {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, ts.URL+"/beta/audit/events?size=100", nil)
		req.SetBasicAuth("abcd1234", "secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, resp.Header.Get("Retry-After"), strings.Contains(string(body), `"totalElements":120`))
	}
	fmt.Println(len(s.Visible()), s.Stats().ByStatus)
	// Output:
	// 429 1 false
	// 200  true
	// 120 map[200:1 429:1]
}
