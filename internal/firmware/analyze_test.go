package firmware

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"iotwatch/internal/firmware/component"
	"iotwatch/internal/firmware/fwtest"
	"iotwatch/internal/model"
	"iotwatch/internal/testpeer"
)

func TestMain(m *testing.M) {
	code := m.Run()
	fwtest.Cleanup()
	os.Exit(code)
}

type fakeMatcher struct{ asked []string }

func (f *fakeMatcher) MatchCPE(_ context.Context, cpe string) ([]model.VulnMatch, error) {
	f.asked = append(f.asked, cpe)
	if strings.Contains(cpe, ":busybox:busybox:") {
		return []model.VulnMatch{{CPE: cpe, CVE: "CVE-2022-48174", CVSS: 9.8, Severity: model.SeverityCritical,
			CVSSVector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", Summary: "busybox ash stack overflow"}}, nil
	}
	return nil, nil
}

func TestAnalyzeVulnerableImage(t *testing.T) {
	img := fwtest.Image(t, true, "gzip")
	m := &fakeMatcher{}
	res, err := Analyze(context.Background(), img, Options{Matcher: m})
	if err != nil {
		t.Fatal(err)
	}

	// Unpacking: uImage → gzip kernel, and the SquashFS root filesystem.
	formats := map[string]bool{}
	for _, e := range res.Unpack.Extracted {
		formats[e.Format] = true
	}
	for _, f := range []string{"uimage", "gzip", "squashfs"} {
		if !formats[f] {
			t.Errorf("format %s not extracted; got %v", f, formats)
		}
	}

	// Components, with versions from dpkg for the real binaries.
	comps := map[string]component.Component{}
	for _, c := range res.Components {
		if _, ok := comps[c.Name]; !ok || c.Source != "kernel-modules" {
			comps[c.Name] = c
		}
	}
	want := map[string]string{
		"busybox": testpeer.DebVersion("busybox-static"), "dropbear": testpeer.DebVersion("dropbear-bin"),
		"lighttpd": testpeer.DebVersion("lighttpd"), "openssl": testpeer.DebVersion("libssl3"), "zlib": testpeer.DebVersion("zlib1g"),
		"sqlite": testpeer.DebVersion("libsqlite3-0"), "linux": fwtest.KernelVersion, "openwrt": "18.06.1",
	}
	for name, ver := range want {
		c, ok := comps[name]
		if !ok {
			t.Errorf("component %s not found", name)
			continue
		}
		if ver != "" && c.Version != ver {
			t.Errorf("%s version = %q, want %q", name, c.Version, ver)
		}
		if c.CPE == "" || c.PURL == "" {
			t.Errorf("%s: missing CPE or purl: %+v", name, c)
		}
	}

	// The kernel version also comes from the decompressed kernel blob.
	blobKernel := false
	for _, c := range res.Components {
		if c.Name == "linux" && c.Source == "signature:linux" && c.Version == fwtest.KernelVersion {
			blobKernel = true
		}
	}
	if !blobKernel {
		t.Error("kernel version not found in the decompressed uImage payload")
	}

	// Findings by kind and marker.
	type key struct{ kind, marker string }
	have := func(kind, marker string) bool {
		for _, f := range res.Findings {
			if f.Kind == kind && strings.Contains(f.Title+" "+f.Detail, marker) {
				return true
			}
		}
		return false
	}
	for _, k := range []key{
		{KindDefaultPassword, `"root"`},
		{KindEmptyPassword, `"guest"`},
		{KindPrivateKey, "/etc/ssl/private/device.key"},
		{KindSecret, "aws-access-key"},
		{KindSecret, "(key)"},
		{KindDebugService, "Telnet server"},
		{KindDebugService, "bind shell"},
		{KindDebugService, "UART"},
		{KindUpdate, "plain HTTP"},
		{KindUpdate, "curl -k"},
		{KindUpdate, "wget --no-check-certificate"},
		{KindUpdate, "without verifying a signature"},
		{KindUpdate, "opkg check_signature off"},
		{KindUpdate, "no update public key"},
		{KindUpdate, "anti-rollback"},
		{KindUpdate, "checksum but no signature"},
	} {
		if !have(k.kind, k.marker) {
			t.Errorf("missing finding %s containing %q", k.kind, k.marker)
		}
	}

	// Secrets are redacted by default.
	b, _ := json.Marshal(res)
	for _, raw := range []string{"AKIAQ4XK7PLM2NB5ZR3T", "Vendor2016wifi", `"password":"admin"`} {
		if bytes.Contains(b, []byte(raw)) {
			t.Errorf("raw secret %q in result without ShowSecrets", raw)
		}
	}

	// Vulnerability matches flow from the matcher into result and SBOM.
	if len(res.Matches) != 1 || res.Matches[0].CVE != "CVE-2022-48174" || !strings.HasPrefix(res.Matches[0].Subject, img) {
		t.Errorf("matches = %+v", res.Matches)
	}
	var sb bytes.Buffer
	if err := WriteSBOM(&sb, res.SBOM); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		BOMFormat       string           `json:"bomFormat"`
		SpecVersion     string           `json:"specVersion"`
		Components      []map[string]any `json:"components"`
		Vulnerabilities []map[string]any `json:"vulnerabilities"`
	}
	if err := json.Unmarshal(sb.Bytes(), &doc); err != nil {
		t.Fatalf("sbom: %v", err)
	}
	// The library's own decoder reads it back.
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(sb.Bytes()), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatalf("decode sbom: %v", err)
	}
	if bom.Components == nil || len(*bom.Components) != len(res.Components) || bom.Metadata.Component.Type != cdx.ComponentTypeFirmware {
		t.Errorf("decoded sbom: %+v", bom.Metadata)
	}
	if doc.BOMFormat != "CycloneDX" || doc.SpecVersion != "1.6" || len(doc.Components) != len(res.Components) || len(doc.Vulnerabilities) != 1 {
		t.Errorf("sbom: format %q spec %q, %d components (want %d), %d vulns", doc.BOMFormat, doc.SpecVersion, len(doc.Components), len(res.Components), len(doc.Vulnerabilities))
	}
}

func TestAnalyzeShowSecrets(t *testing.T) {
	img := fwtest.Image(t, true, "gzip")
	res, err := Analyze(context.Background(), img, Options{ShowSecrets: true, CrackBudget: -1})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(res.Findings)
	if !bytes.Contains(b, []byte("AKIAQ4XK7PLM2NB5ZR3T")) {
		t.Error("raw token missing with ShowSecrets")
	}
}

// TestAnalyzeCleanImage: the same software without planted weaknesses
// yields no finding above info.
func TestAnalyzeCleanImage(t *testing.T) {
	img := fwtest.Image(t, false, "gzip")
	res, err := Analyze(context.Background(), img, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Findings {
		if f.Severity > model.SeverityInfo {
			t.Errorf("false positive on clean image: %s %s: %s — %s", f.Severity, f.Kind, f.Title, f.Detail)
		}
	}
	if len(res.Components) < 8 {
		t.Errorf("clean image: %d components, want ≥ 8", len(res.Components))
	}
}

func TestRules(t *testing.T) {
	rules, err := defaultRules()
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*Rule{}
	for _, r := range rules {
		byID[r.ID] = r
	}
	tests := []struct {
		rule, line string
		want       bool
	}{
		{"telnetd", "/usr/sbin/telnetd -l /bin/login &", true},
		{"telnetd", "busybox telnetd &", true},
		{"telnetd", "::sysinit:/usr/sbin/utelnetd -d", true},
		{"telnetd", "telnet  stream  tcp  nowait  root  /usr/sbin/tcpd  in.telnetd", true},
		{"telnetd", "killall telnetd", false},
		{"telnetd", "[ -x /usr/sbin/telnetd ] || exit 0", false},
		{"bind-shell", "nc -l -p 4444 -e /bin/sh &", true},
		{"bind-shell", "telnetd -l /bin/sh", true},
		{"bind-shell", "nc example.com 80", false},
		{"uart-root-shell", "ttyS0::respawn:/bin/sh", true},
		{"uart-root-shell", "::askfirst:-/bin/ash", false},
		{"uart-root-shell", "ttyS0::askfirst:/sbin/getty -L ttyS0 115200", false},
		{"curl-insecure", "curl -k -o x https://h/fw.bin", true},
		{"curl-insecure", "curl -o x https://h/fw.bin", false},
		{"plain-http-update", "wget -O /tmp/fw.bin http://h/firmware.bin", true},
		{"plain-http-update", "src/gz base http://downloads.openwrt.org/x", true},
		{"plain-http-update", "wget -O /tmp/fw.bin https://h/firmware.bin", false},
		{"dropbear-blank-passwords", "dropbear -B -p 22", true},
		{"dropbear-blank-passwords", "dropbear -s -p 22", false},
	}
	for _, tc := range tests {
		r := byID[tc.rule]
		if r == nil {
			t.Fatalf("no rule %s", tc.rule)
		}
		got := r.re.MatchString(tc.line) && (r.ex == nil || !r.ex.MatchString(tc.line))
		if got != tc.want {
			t.Errorf("rule %s on %q = %v, want %v", tc.rule, tc.line, got, tc.want)
		}
	}
	if _, err := ParseRules([]byte(`- {id: x, kind: k, title: t, files: ["/a"], regex: "("}`)); err == nil {
		t.Error("ParseRules accepted a bad regex")
	}
}

func TestSharedKeys(t *testing.T) {
	fp := strings.Repeat("ab", 32)
	prev := []model.Finding{
		{Kind: KindPrivateKey, Subject: "/fw/a.bin", Detail: "/etc/key rsa; fingerprint sha256:" + fp},
		{Kind: KindPrivateKey, Subject: "/fw/b.bin", Detail: "/etc/key rsa; fingerprint sha256:" + strings.Repeat("cd", 32)},
	}
	cur := []model.Finding{{Kind: KindPrivateKey, Subject: "/fw/c.bin", Detail: "/etc/other rsa; fingerprint sha256:" + fp}}
	got := SharedKeys(cur, prev)
	if len(got) != 1 || got[0].Kind != KindSharedKey || !strings.Contains(got[0].Detail, "/fw/a.bin") || strings.Contains(got[0].Detail, "/fw/b.bin") {
		t.Errorf("SharedKeys = %+v", got)
	}
	if got := SharedKeys(cur, cur); len(got) != 0 {
		t.Errorf("a key is shared with its own image: %+v", got)
	}
}

// TestAnalyzeNotFirmware: a text file is analysed as itself and says so.
func TestAnalyzeNotFirmware(t *testing.T) {
	img := filepath.Join(t.TempDir(), "LICENSE")
	text := strings.Repeat("Permission is hereby granted, free of charge, to any person obtaining a copy.\n", 50)
	if err := os.WriteFile(img, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Analyze(context.Background(), img, Options{CrackBudget: -1})
	if err != nil {
		t.Fatal(err)
	}
	if !res.NotRecognised() {
		t.Fatalf("NotRecognised() = false with %d containers", len(res.Unpack.Extracted))
	}
	var kinds []string
	for _, f := range res.Findings {
		kinds = append(kinds, f.Kind)
	}
	if !slices.Contains(kinds, KindNotFirmware) {
		t.Errorf("findings %v, want %s", kinds, KindNotFirmware)
	}
}
