//go:build linux

package scan

import (
	"context"
	"errors"
	"hash/maphash"
	"net"
	"sync"
	"testing"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/testpeer"
)

// TestSYNDiscovery scans closed ports and one open port (lighttpd) in SYN
// mode and checks the open one is then probed and identified.
func TestSYNDiscovery(t *testing.T) {
	web := testpeer.Lighttpd(t, testpeer.LighttpdOptions{})
	var mu sync.Mutex
	var got []model.Service
	st, err := Run(context.Background(), Config{Targets: []string{"127.0.0.1", "127.1.9.0/28"}, TCPPorts: []uint16{1, 2, uint16(web.Port)},
		SYN: true, Engine: testEngine(t)}, func(s model.Service) error {
		mu.Lock()
		got = append(got, s)
		mu.Unlock()
		return nil
	})
	if errors.Is(err, ErrNoRaw) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if st.Items != 17*3 || st.ByStatus[model.StatusRefused] != 17*3-1 {
		t.Errorf("stats %+v, want %d items, %d refused", st, 17*3, 17*3-1)
	}
	if len(got) != 1 || got[0].Port != uint16(web.Port) || got[0].Fingerprint == nil || got[0].Fingerprint.Product != "lighttpd" {
		t.Errorf("got %+v, want lighttpd identified", got)
	}
}

func TestTCPChecksum(t *testing.T) {
	// A SYN from 10.0.0.1:40000 to 10.0.0.2:80, seq 1, checksum computed by hand.
	seg := []byte{0x9c, 0x40, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0}
	c := tcpChecksum([4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}, seg)
	seg[16], seg[17] = byte(c>>8), byte(c)
	// Summing again including the checksum must give 0xffff (i.e. ^sum == 0).
	if tcpChecksum([4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}, seg) != 0 {
		t.Errorf("checksum %#04x does not verify", c)
	}
}

func FuzzParseSYNReply(f *testing.F) {
	p := &synProber{sport: 40001, seed: maphash.MakeSeed()}
	f.Add([]byte{0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1, 0, 80, 0x9c, 0x41, 0, 0, 0, 0, 0, 0, 0, 1, 0x50, 0x14, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) { p.parseSYNReply(b) })
}

// TestSYNCheckpointLags interrupts a SYN scan and checks that its checkpoint
// stays behind the SYNs whose replies were not awaited.
func TestSYNCheckpointLags(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var sent bool
	st, err := Run(ctx, Config{Targets: []string{"127.1.10.0/24"}, TCPPorts: []uint16{1, 2}, SYN: true, SYNWait: time.Hour, Seed: 9,
		DiscoveryOnly: true, Rate: 2000, Progress: func(p Progress) {
			if !sent && p.Elapsed > 300*time.Millisecond {
				sent = true
				cancel()
			}
		}}, func(model.Service) error { return nil })
	if errors.Is(err, ErrNoRaw) {
		t.Skip(err)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want canceled", err)
	}
	// With replies awaited for an hour, nothing sent counts as finished.
	if st.Position != 0 {
		t.Errorf("checkpoint position %d, want 0 (SYNs still awaiting replies)", st.Position)
	}
}

// TestSYNIPv6OnlyFallsBack: SYN mode with IPv6 targets only connect-scans
// them instead of failing.
func TestSYNIPv6OnlyFallsBack(t *testing.T) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skip(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("SSH-2.0-OpenSSH_9.2p1\r\n"))
			time.Sleep(50 * time.Millisecond)
			c.Close()
		}
	}()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	var mu sync.Mutex
	var got []model.Service
	st, err := Run(context.Background(), Config{Targets: []string{"::1"}, TCPPorts: []uint16{port}, SYN: true, Engine: testEngine(t)}, func(s model.Service) error {
		mu.Lock()
		got = append(got, s)
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Items != 1 || len(got) != 1 || got[0].Port != port || got[0].IP.String() != "::1" {
		t.Errorf("stats %+v, got %+v; want the one IPv6 service", st, got)
	}
}
