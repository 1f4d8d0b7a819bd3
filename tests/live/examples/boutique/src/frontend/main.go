// Live-test boutique frontend (tests/live/examples.rs): a static Go binary on a distroless
// runtime, serving on LISTEN_ADDR; `-healthcheck` asks its own server.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	health := flag.Bool("healthcheck", false, "check the running server and exit")
	flag.Parse()
	addr := os.Getenv("LISTEN_ADDR")
	if *health {
		c := http.Client{Timeout: 3 * time.Second}
		r, err := c.Get("http://127.0.0.1" + addr[strings.LastIndex(addr, ":"):] + "/")
		if err != nil || r.StatusCode != http.StatusOK {
			fmt.Fprintln(os.Stderr, "unhealthy:", err)
			os.Exit(1)
		}
		return
	}
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "boutique: cart at %s, currency at %s, recommendations at %s\n",
			os.Getenv("CART_ADDR"), os.Getenv("CURRENCY_ADDR"), os.Getenv("RECOMMENDATION_ADDR"))
	})
	log.Fatal(http.ListenAndServe(addr, nil))
}
