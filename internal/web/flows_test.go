package web

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"iotwatch/internal/flow"
	"iotwatch/internal/flow/ingest"
)

// TestFlowRoutes ingests a real SSH brute-force capture and reads its alert,
// daily count and destinations back through the API.
func TestFlowRoutes(t *testing.T) {
	const capture = "../../../shared/data/flows/ssh-bruteforce.pcap"
	if _, err := os.Stat(capture); err != nil {
		t.Skip(err)
	}
	st := openStore(t)
	srv := New(st, Options{})
	if res, body := get(t, srv, "GET", "/api/flows/daily"); res.StatusCode != 200 || body != "[]\n" && body != "[]" {
		t.Errorf("daily before any ingest: %d %q, want an empty list", res.StatusCode, body)
	}
	if _, err := ingest.Run(context.Background(), st, ingest.Source{Kind: ingest.PCAP, Path: capture}, ingest.Options{Networks: []string{"147.32.0.0/16"}}); err != nil {
		t.Fatal(err)
	}
	var alerts []flow.StoredAlert
	decode(t, srv, "/api/flows/alerts", &alerts)
	if len(alerts) != 1 || alerts[0].Detector != "brute-force" {
		t.Errorf("alerts = %+v, want the one brute-force alert", alerts)
	}
	var days []flow.DayCount
	decode(t, srv, "/api/flows/daily?since=2000-01-01", &days)
	if len(days) != 1 || days[0].Devices != 1 {
		t.Errorf("daily = %+v, want one day with one device", days)
	}
	decode(t, srv, "/api/flows/daily?since=2999-01-01", &days)
	if len(days) != 0 {
		t.Errorf("daily since 2999 = %+v, want none", days)
	}
	// ?device= selects one device's alerts and days; another device has none.
	if len(alerts) == 1 {
		dev := alerts[0].Device.String()
		var mine, other []flow.StoredAlert
		decode(t, srv, "/api/flows/alerts?device="+dev, &mine)
		decode(t, srv, "/api/flows/alerts?device=192.0.2.77", &other)
		if len(mine) != 1 || len(other) != 0 {
			t.Errorf("alerts of %s = %d, of 192.0.2.77 = %d; want 1 and 0", dev, len(mine), len(other))
		}
		var myDays, otherDays []flow.DayCount
		decode(t, srv, "/api/flows/daily?device="+dev, &myDays)
		decode(t, srv, "/api/flows/daily?device=192.0.2.77", &otherDays)
		if len(myDays) != 1 || myDays[0].Devices != 1 || len(otherDays) != 0 {
			t.Errorf("daily of %s = %+v, of 192.0.2.77 = %+v; want one day and none", dev, myDays, otherDays)
		}
	}
	var dests []flow.Destination
	decode(t, srv, "/api/flows/destinations?device=147.32.80.40", &dests)
	if len(dests) == 0 || dests[0].Country != "CZ" || dests[0].Flows == 0 {
		t.Errorf("destinations = %+v, want the device's traffic to CZ", dests)
	}
	for _, bad := range []string{"/api/flows/alerts?since=yesterday", "/api/flows/destinations?device=nope",
		"/api/flows/alerts?device=nope", "/api/flows/daily?device=300.1.1.1"} {
		if res, _ := get(t, srv, "GET", bad); res.StatusCode != 400 {
			t.Errorf("%s: %d, want 400", bad, res.StatusCode)
		}
	}
}

func decode(t *testing.T, srv *Server, target string, v any) {
	t.Helper()
	res, body := get(t, srv, "GET", target)
	if res.StatusCode != 200 {
		t.Fatalf("%s: %d %s", target, res.StatusCode, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("%s: %v", target, err)
	}
}
