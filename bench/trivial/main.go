// Command trivial is the yardstick for sessiond's load measurements: a
// net/http server that answers every request with a small fixed JSON body,
// as cheap as a Go HTTP server gets. sessiond's numbers are quoted as ratios
// to it, measured in the same run on the same machine.
package main

import (
	"flag"
	"log"
	"net/http"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "listen address")
	flag.Parse()
	body := []byte(`{"user":{"id":"u_1","email":"a@example.com","roles":[],"org_id":""}}` + "\n")
	log.Fatal(http.ListenAndServe(*addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})))
}
