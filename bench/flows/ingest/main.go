// Command flowingest runs the same ingest as `iotwatch flows ingest` (package
// internal/flow/ingest) without the rest of the CLI, for bench/flows/flows.sh
// when the full binary cannot be built.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"log"
	"os"

	"iotwatch/internal/flow/ingest"
	"iotwatch/internal/store"
)

func main() {
	db := flag.String("db", "flows.db", "SQLite file")
	kind := flag.String("kind", "netflow-pcap", "pcap, zeek, nfdump-csv, netflow-pcap")
	flag.Parse()
	if flag.NArg() != 1 {
		log.Fatal("usage: flowingest [-db FILE] [-kind KIND] INPUT")
	}
	ctx := context.Background()
	st, err := store.Open(ctx, *db)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	sum, err := ingest.Run(ctx, st, ingest.Source{Kind: ingest.Kind(*kind), Path: flag.Arg(0)}, ingest.Options{})
	if err != nil {
		log.Fatal(err)
	}
	sum.Alerts = nil
	_ = json.NewEncoder(os.Stdout).Encode(sum)
}
