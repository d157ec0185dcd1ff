package vex

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestReadPublishedDocuments(t *testing.T) {
	tests := []struct {
		file string
		want []Statement
	}{
		{"openvex-sample-not_affected.json", []Statement{{
			Doc:    "https://openvex.dev/docs/public/vex-cbce60e4c921512c381e3234db5f9bd19704658a1b670e196d42a96f3dd80cd3",
			Author: "The OpenVEX Project", Issued: "2023-08-16T19:55:22.076684217-06:00",
			Product:       "pkg:oci/nginx@sha256%3A13d22ec63300e16014d4a42aed735207a8b33c223cff19627dd3042e5a10a3a0",
			Vulnerability: "CVE-2023-27103", Status: NotAffected, Justification: "component_not_present",
			Statement: "This is a sample OpenVEX file, it is not a real security assessment.",
		}}},
		{"openvex-demo-fixed.json", []Statement{
			{Doc: "https://openvex.dev/docs/public/vex-d7653e1c3ccc092c02e2cfd2b12549be29264ff28f9f704f599613b007584dbe", Author: "Wolfi J Inkinson",
				Issued: "2023-12-04T21:55:19.945015302-06:00", Product: "pkg:apk/distro/git@2.39.0-r1?arch=armv7", Vulnerability: "CVE-2014-123456", Status: Fixed},
			{Doc: "https://openvex.dev/docs/public/vex-d7653e1c3ccc092c02e2cfd2b12549be29264ff28f9f704f599613b007584dbe", Author: "Wolfi J Inkinson",
				Issued: "2023-12-04T21:55:19.945015302-06:00", Product: "pkg:apk/distro/git@2.39.0-r1?arch=x86_64", Vulnerability: "CVE-2014-123456", Status: Fixed},
		}},
		{"openvex-under_investigation.json", []Statement{{
			Doc: "https://openvex.dev/docs/public/vex-3f59b4dffdeae0183e5e6a9d7a2461fdf86a03c079f4129050bb462eca366beb", Author: "John Doe",
			Issued: "2022-12-22T16:36:43-05:00", Product: "pkg:apk/wolfi/bash@1.0.0", Vulnerability: "CVE-9876-54321", Status: UnderInvestigation,
		}}},
		{"cyclonedx-vex-not_affected.json", []Statement{{
			Doc: "cyclonedx", Issued: "2022-03-03T00:00:00Z", Product: "ABC 4.2", Vulnerability: "CVE-2021-44228", Status: NotAffected,
			Justification: "code_not_present",
			Statement:     "This version of Product ABC is not affected by the vulnerability. Class with vulnerable code was removed before shipping.",
		}}},
		{"cyclonedx-vex-fixed.json", []Statement{{
			Doc: "cyclonedx", Issued: "2022-03-03T00:00:00Z", Product: "DEF 1.1", Vulnerability: "CVE-2021-44228", Status: Fixed,
			Statement: "This version of Product DEF has been fixed.",
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(published(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := Read(f)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("statements\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestReadRefuses(t *testing.T) {
	for _, in := range []string{
		`{"statements":[{"vulnerability":{"name":"CVE-2024-1"},"status":"maybe","products":[{"@id":"x"}]}]}`,
		`{"statements":[{"status":"fixed","products":[{"@id":"x"}]}]}`,
		`{"bomFormat":"SPDX"}`,
		`[1,2]`,
		`not json`,
	} {
		if _, err := Read(strings.NewReader(in)); err == nil {
			t.Errorf("%s accepted", in)
		}
	}
}

func TestWriteOpenVEXRoundTrip(t *testing.T) {
	in := Document{ID: "https://example.invalid/vex/fw-1", Author: "iotwatch", Timestamp: time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC),
		Statements: []Statement{
			{Product: "cpe:2.3:a:busybox:busybox:1.36.1:*:*:*:*:*:*:*", Vulnerability: "CVE-2022-48174", Status: Affected},
			{Product: "cpe:2.3:a:thekelleys:dnsmasq:2.90:*:*:*:*:*:*:*", Vulnerability: "CVE-2022-48174", Status: Affected},
			{Product: "cpe:2.3:a:openbsd:openssh:9.2:p1:*:*:*:*:*:*", Vulnerability: "CVE-2024-6387", Status: Fixed},
		}}
	var buf bytes.Buffer
	if err := WriteOpenVEX(&buf, in); err != nil {
		t.Fatal(err)
	}
	got, err := Read(&buf)
	if err != nil {
		t.Fatalf("reading what was written: %v\n%s", err, buf.String())
	}
	if len(got) != 3 {
		t.Fatalf("%d statements back, want 3: %+v", len(got), got)
	}
	for i, s := range got {
		w := in.Statements[i]
		if s.Product != w.Product || s.Vulnerability != w.Vulnerability || s.Status != w.Status || s.Doc != in.ID {
			t.Errorf("statement %d = %+v, want %+v", i, s, w)
		}
	}
	if got[0].Statement == "" {
		t.Error("affected statement without an action statement (OpenVEX requires one)")
	}
}

// sharedVEX holds the published VEX documents the tests read: copies of
// public files (sources in testdata/README.md) that live in the workplace's
// shared fixtures, not in this repository.
const sharedVEX = "../../../../shared/data/vuln/vex"

// published returns the path of a published VEX document, or skips the test
// when the shared fixtures do not hold it.
func published(t *testing.T, name string) string {
	t.Helper()
	for _, dir := range []string{sharedVEX, "testdata"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skipf("published VEX document %s is not in %s (see testdata/README.md for its source)", name, sharedVEX)
	return ""
}

func FuzzRead(f *testing.F) {
	for _, dir := range []string{sharedVEX, "testdata"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	// Seeds written here, so the target has OpenVEX and CycloneDX shapes
	// without the shared fixtures.
	f.Add([]byte(`{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://example.org/vex-1","author":"iotwatch tests","timestamp":"2026-12-06T00:00:00Z","version":1,"statements":[{"vulnerability":{"name":"CVE-2024-6387"},"products":[{"@id":"pkg:deb/debian/openssh-server@1:9.2p1-2+deb12u3"}],"status":"fixed"},{"vulnerability":{"name":"CVE-2023-38408"},"products":[{"@id":"cpe:2.3:a:openbsd:openssh:9.2:p1:*:*:*:*:*:*"}],"status":"not_affected","justification":"vulnerable_code_not_in_execute_path"}]}`))
	f.Add([]byte(`{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[{"bom-ref":"c1","type":"application","name":"dropbear","version":"2019.78","purl":"pkg:generic/dropbear@2019.78"}],"vulnerabilities":[{"id":"CVE-2021-36369","affects":[{"ref":"c1"}],"analysis":{"state":"not_affected","justification":"requires_configuration","detail":"password authentication is disabled"}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sts, err := Read(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, s := range sts {
			if !validStatus[s.Status] || s.Vulnerability == "" || s.Product == "" {
				t.Fatalf("invalid statement handed on: %+v", s)
			}
		}
	})
}
