// Live-test link shortener (tests/live/examples.rs): a static Go binary on a distroless
// runtime. Reads the database password from DB_PASSWORD_FILE (the spec's secret), serves the
// links on :8080 and Prometheus metrics on METRICS_ADDR; `-healthcheck` asks its own /healthz.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

func main() {
	health := flag.Bool("healthcheck", false, "check the running server and exit")
	flag.Parse()
	if *health {
		c := http.Client{Timeout: 3 * time.Second}
		r, err := c.Get("http://127.0.0.1:8080/healthz")
		if err != nil || r.StatusCode != http.StatusOK {
			fmt.Fprintln(os.Stderr, "unhealthy:", err)
			os.Exit(1)
		}
		return
	}
	pw, err := os.ReadFile(os.Getenv("DB_PASSWORD_FILE"))
	if err != nil || len(strings.TrimSpace(string(pw))) == 0 {
		log.Fatalf("shortener: cannot read the database password: %v", err)
	}
	var hits atomic.Int64
	links := http.NewServeMux()
	links.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	links.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, "https://example.org"+r.URL.Path, http.StatusFound)
	})
	metrics := http.NewServeMux()
	metrics.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "shortener_redirects_total %d\n", hits.Load())
	})
	go func() { log.Fatal(http.ListenAndServe(os.Getenv("METRICS_ADDR"), metrics)) }()
	log.Printf("shortener: links on :8080, metrics on %s, database %s@%s", os.Getenv("METRICS_ADDR"), os.Getenv("DB_USER"), os.Getenv("DB_HOST"))
	log.Fatal(http.ListenAndServe(":8080", links))
}
