// Package auditbench compares iotwatch's credential audit with THC Hydra
// (Debian) on the same real daemons and the same credential list: wall time,
// attempts per second, and what each found. Run it with bench/audit/audit.sh
// (or IOTWATCH_BENCH=1 go test -run CompareHydra -v ./bench/audit); the
// normal test suite skips it.
package auditbench

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/audit"
	"iotwatch/internal/model"
	"iotwatch/internal/testpeer"
)

type bench struct {
	name  string
	proto string
	peer  *testpeer.Peer
	path  string   // HTTP path
	hydra []string // service args after host
	list  []string // user:pass lines (SNMP: communities)
	weak  string   // the pair that must be found
	snmp  bool
}

// wrong returns n wrong pairs for user followed by the weak pair.
func wrong(n int, users []string, weak string) []string {
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, fmt.Sprintf("%s:wrong-%02d", users[i%len(users)], i))
	}
	return append(out, weak)
}

var reHydraFound = regexp.MustCompile(`login:\s*(\S*)\s+password:\s*(\S*)`)

func TestCompareHydra(t *testing.T) {
	if os.Getenv("IOTWATCH_BENCH") != "1" {
		t.Skip("set IOTWATCH_BENCH=1 (bench/audit/audit.sh)")
	}
	hydra, err := exec.LookPath("hydra")
	if err != nil {
		t.Skip("hydra not installed")
	}
	n, _ := strconv.Atoi(os.Getenv("IOTWATCH_BENCH_PAIRS"))
	if n <= 0 {
		n = 23
	}
	tasks, _ := strconv.Atoi(os.Getenv("IOTWATCH_BENCH_TASKS"))
	if tasks <= 0 {
		tasks = 4
	}
	weakSys := testpeer.WeakUser + ":" + testpeer.WeakPassword
	// The weak user appears only in the last pair, so that neither tool can
	// reach it early (iotwatch groups SSH pairs by user).
	sysUsers := []string{testpeer.StrongUser, "root", "admin"}
	benches := []bench{
		{name: "ssh", proto: model.ProtoSSH, peer: testpeer.SSHD(t, testpeer.SSHDOptions{}), hydra: []string{"ssh"}, list: wrong(n, sysUsers, weakSys), weak: weakSys},
		{name: "ftp", proto: model.ProtoFTP, peer: testpeer.Vsftpd(t, testpeer.VsftpdOptions{}), hydra: []string{"ftp"}, list: wrong(n, sysUsers, weakSys), weak: weakSys},
		{name: "telnet", proto: model.ProtoTelnet, peer: testpeer.Telnetd(t), hydra: []string{"telnet"}, list: wrong(min(n, 7), sysUsers, weakSys), weak: weakSys},
	}
	web := testpeer.Lighttpd(t, testpeer.LighttpdOptions{BasicAuth: map[string]string{"admin": "admin"}, DigestAuth: map[string]string{"admin": "12345"}})
	benches = append(benches,
		bench{name: "http-basic", proto: model.ProtoHTTP, peer: web, path: testpeer.LighttpdBasicPath, hydra: []string{"http-get", testpeer.LighttpdBasicPath}, list: wrong(n, []string{"root", "user"}, "admin:admin"), weak: "admin:admin"},
		bench{name: "http-digest", proto: model.ProtoHTTP, peer: web, path: testpeer.LighttpdDigestPath, hydra: []string{"http-get", testpeer.LighttpdDigestPath}, list: wrong(n, []string{"root", "user"}, "admin:12345"), weak: "admin:12345"},
	)
	snmpList := []string{}
	for i := 0; i < n; i++ {
		snmpList = append(snmpList, fmt.Sprintf("wrong-%02d", i))
	}
	benches = append(benches, bench{name: "snmp", proto: model.ProtoSNMP, peer: testpeer.Snmpd(t, "public"), hydra: []string{"snmp"}, list: append(snmpList, "public"), weak: ":public", snmp: true})

	dir := t.TempDir()
	t.Logf("%-12s %6s | %-9s %8s %9s %-6s | %-9s %8s %9s %-6s | %s", "target", "pairs", "iotwatch", "time", "att/s", "found", "hydra", "time", "att/s", "found", "hydra/iotwatch time")
	for _, b := range benches {
		ap := netip.MustParseAddrPort(b.peer.Addr)
		// iotwatch
		dict := &audit.Dictionary{}
		if b.snmp {
			dict.Communities, _ = audit.ParseCommunities(strings.NewReader(strings.Join(b.list, "\n")), "bench")
		} else {
			dict.Generic, _ = audit.ParseUserPass(strings.NewReader(strings.Join(b.list, "\n")), "bench")
		}
		var found []string
		cfg := audit.Config{Dict: dict, MaxAttempts: len(b.list) + 5, PerHost: tasks, Timeout: 30 * time.Second,
			Paths: map[string]string{model.ProtoHTTP: b.path}}
		st, err := audit.Run(context.Background(), cfg, []model.Service{{IP: ap.Addr(), Port: ap.Port(), Protocol: b.proto}},
			func(r model.CredentialResult) error { found = append(found, r.Username+":"+r.Password); return nil })
		if err != nil {
			t.Fatal(err)
		}
		iwTime := st.Duration
		iwFound := strings.Join(found, ",") == b.weak

		// hydra, same list, same parallel tasks, stop at first found (-f)
		list := filepath.Join(dir, b.name+".txt")
		os.WriteFile(list, []byte(strings.Join(b.list, "\n")+"\n"), 0o600)
		args := []string{"-I", "-f", "-t", strconv.Itoa(tasks), "-s", strconv.Itoa(b.peer.Port), "-w", "30"}
		if b.snmp {
			args = append(args, "-P", list)
		} else {
			args = append(args, "-C", list)
		}
		args = append(args, b.peer.Host)
		args = append(args, b.hydra...)
		var out bytes.Buffer
		cmd := exec.Command(hydra, args...)
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.Dir = dir
		t0 := time.Now()
		_ = cmd.Run()
		hyTime := time.Since(t0)
		hyFound := false
		if m := reHydraFound.FindStringSubmatch(out.String()); m != nil {
			got := m[1] + ":" + m[2]
			if b.snmp {
				got = ":" + m[2]
				if m[2] == "" {
					got = ":" + m[1]
				}
			}
			hyFound = got == b.weak || strings.Contains(out.String(), "password: "+strings.TrimPrefix(b.weak, ":"))
		}
		att := float64(len(b.list))
		t.Logf("%-12s %6d | %-9s %8v %9.1f %-6v | %-9s %8v %9.1f %-6v | %.2f",
			b.name, len(b.list), "", iwTime.Round(time.Millisecond), float64(st.Attempts)/iwTime.Seconds(), iwFound,
			"", hyTime.Round(time.Millisecond), att/hyTime.Seconds(), hyFound, hyTime.Seconds()/iwTime.Seconds())
		if !iwFound {
			t.Errorf("%s: iotwatch found %v, want %s", b.name, found, b.weak)
		}
		if !hyFound {
			t.Logf("%s: hydra output:\n%s", b.name, lastLines(out.String(), 6))
		}
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
