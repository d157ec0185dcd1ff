// Command flowdump prints what a database holds of flow telemetry — every
// device↔peer relation, the destinations per device, country and owner,
// and the alerts — as sorted JSON Lines, so that two ingests of the same
// input (say before and after a change to the ingest) can be compared with
// cmp or md5sum:
//
//	flowdump --db before.db | md5sum; flowdump --db after.db | md5sum
package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"log"
	"net/netip"
	"os"
	"slices"
	"time"

	"iotwatch/internal/flow"
	"iotwatch/internal/store"
)

func main() {
	db := flag.String("db", "", "database (SQLite path or postgres:// URL)")
	flag.Parse()
	if *db == "" {
		log.Fatal("flowdump: --db is required")
	}
	ctx := context.Background()
	st, err := store.Open(ctx, *db)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	enc := json.NewEncoder(w)
	emit := func(kind string, v any) {
		if err := enc.Encode(map[string]any{kind: v}); err != nil {
			log.Fatal(err)
		}
	}
	uses, err := flow.PeerUses(ctx, st, netip.Addr{})
	if err != nil {
		log.Fatal(err)
	}
	slices.SortFunc(uses, func(a, b flow.PeerUse) int {
		return cmp.Or(a.Device.Compare(b.Device), a.Peer.Compare(b.Peer), cmp.Compare(a.Proto, b.Proto),
			cmp.Compare(a.Port, b.Port), cmp.Compare(b2i(a.Outbound), b2i(b.Outbound)))
	})
	for _, u := range uses {
		emit("relation", u)
	}
	dests, err := flow.Destinations(ctx, st, netip.Addr{})
	if err != nil {
		log.Fatal(err)
	}
	for _, d := range dests {
		emit("destination", d)
	}
	alerts, err := flow.Alerts(ctx, st, time.Time{})
	if err != nil {
		log.Fatal(err)
	}
	for _, a := range alerts {
		a.RunID = 0 // runs are numbered per database
		emit("alert", a)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
