package vuln

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
)

// vulndb update --source epss fetches the daily file (here from loopback).
func TestUpdateEPSS(t *testing.T) {
	gz, err := os.ReadFile("testdata/epss/epss_scores-2025-09-03.csv.gz")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(gz)
	}))
	defer srv.Close()
	if KnownSources[SourceEPSS] == "" {
		t.Fatal("no known EPSS endpoint")
	}
	d := openDB(t)
	res, err := d.Update(context.Background(), UpdateOptions{Sources: map[string]string{SourceEPSS: srv.URL + "/epss_scores-current.csv.gz"}, Client: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Format != "epss" || res[0].EPSS != 4 {
		t.Fatalf("update = %+v, want 4 EPSS rows", res)
	}
	files, err := d.EPSSFiles(context.Background())
	if err != nil || len(files) != 1 || files[0].Date != "2025-09-03" {
		t.Errorf("files = %+v, %v", files, err)
	}
}
