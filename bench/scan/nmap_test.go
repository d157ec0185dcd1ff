package scanbench

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/simulate"
)

// nmapReport is what the comparisons read of nmap's XML report (-oX).
type nmapReport struct {
	Hosts []struct {
		Address []struct {
			Addr string `xml:"addr,attr"`
		} `xml:"address"`
		Ports []struct {
			Protocol string `xml:"protocol,attr"`
			PortID   int    `xml:"portid,attr"`
			State    struct {
				State string `xml:"state,attr"`
			} `xml:"state"`
			Service struct {
				Name    string   `xml:"name,attr"`
				Product string   `xml:"product,attr"`
				Version string   `xml:"version,attr"`
				Extra   string   `xml:"extrainfo,attr"`
				CPE     []string `xml:"cpe"`
			} `xml:"service"`
			Scripts []struct {
				ID     string `xml:"id,attr"`
				Output string `xml:"output,attr"`
			} `xml:"script"`
		} `xml:"ports>port"`
	} `xml:"host"`
}

// nmapSV runs nmap -sV (-T5, no DNS, no ping) on the tcp ports (-sT) and
// the udp ports (-sU) of targets, with extra arguments (scripts) before the
// ports, and reads the XML report it writes to out. It returns the report
// and how long nmap itself ran.
func nmapSV(out string, tcp, udp []uint16, extra []string, targets ...string) (nmapReport, time.Duration, error) {
	var ports []string
	for _, p := range tcp {
		ports = append(ports, "T:"+strconv.Itoa(int(p)))
	}
	for _, p := range udp {
		ports = append(ports, "U:"+strconv.Itoa(int(p)))
	}
	args := append([]string{"-sV", "-n", "-Pn", "-T5"}, extra...)
	args = append(args, "-p", strings.Join(ports, ","), "-oX", out)
	if len(tcp) > 0 {
		args = append(args, "-sT")
	}
	if len(udp) > 0 {
		args = append(args, "-sU")
	}
	args = append(args, targets...)
	var x nmapReport
	start := time.Now()
	b, err := exec.Command("nmap", args...).CombinedOutput()
	took := time.Since(start)
	if err != nil {
		return x, took, fmt.Errorf("nmap %v: %w\n%s", args, err, b)
	}
	if b, err = os.ReadFile(out); err != nil {
		return x, took, err
	}
	return x, took, xml.Unmarshal(b, &x)
}

// startFleet starts a simulated fleet of n devices (seed 11) on prefix,
// closed when the test ends; the test is skipped when the simulator cannot
// start (it needs the addresses of prefix on lo).
func startFleet(t *testing.T, prefix string, n int) *simulate.Fleet {
	fleet, err := simulate.Start(context.Background(), simulate.Options{Prefix: netip.MustParsePrefix(prefix), Devices: n, Seed: 11})
	if err != nil {
		t.Skipf("simulator: %v", err)
	}
	t.Cleanup(func() { fleet.Close() })
	return fleet
}
