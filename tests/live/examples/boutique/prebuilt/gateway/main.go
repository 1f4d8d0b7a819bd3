// Stand-in for the prebuilt Traefik binary of the boutique example (tests/live/examples.rs):
// the test compiles it into the static build context, as a user drops Traefik's release
// binary there. Like Traefik: `--configFile=FILE` (must be readable), `healthcheck --ping`
// (asks /ping on the entry point), and a reverse proxy from :8080 to the frontend.
package main

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		c := http.Client{Timeout: 3 * time.Second}
		r, err := c.Get("http://127.0.0.1:8080/ping")
		if err != nil || r.StatusCode != http.StatusOK {
			fmt.Fprintln(os.Stderr, "unhealthy:", err)
			os.Exit(1)
		}
		fmt.Println("OK: http://127.0.0.1:8080/ping")
		return
	}
	for _, a := range os.Args[1:] {
		if strings.HasPrefix(a, "--configFile=") {
			if _, err := os.ReadFile(strings.TrimPrefix(a, "--configFile=")); err != nil {
				log.Fatalf("traefik: %v", err)
			}
		}
	}
	front, _ := url.Parse("http://frontend:8081")
	mux := http.NewServeMux()
	mux.HandleFunc("/ping", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "OK") })
	mux.Handle("/", httputil.NewSingleHostReverseProxy(front))
	log.Fatal(http.ListenAndServe(":8080", mux))
}
