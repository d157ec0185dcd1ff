package simulate

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// boundEndpoint is a local address and port some socket in this network
// namespace holds (listening TCP or bound UDP).
type boundEndpoint struct {
	addr netip.Addr // unspecified for wildcard binds
	port uint16
}

// boundSockets reads /proc/net/{tcp,udp} for the sockets that would make a
// per-device bind fail: listening TCP sockets and unconnected UDP sockets.
func boundSockets() (tcp, udp map[boundEndpoint]bool, err error) {
	tcp, err = readProcNet("/proc/net/tcp", "0A") // TCP_LISTEN
	if err != nil {
		return nil, nil, err
	}
	udp, err = readProcNet("/proc/net/udp", "07") // TCP_CLOSE: unconnected UDP
	return tcp, udp, err
}

func readProcNet(path, state string) (map[boundEndpoint]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[boundEndpoint]bool{}
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 4 || fs[3] != state {
			continue
		}
		ep, ok := parseProcAddr(fs[1])
		if ok {
			out[ep] = true
		}
	}
	return out, sc.Err()
}

// parseProcAddr parses "0100007F:1F90" (IPv4 in host byte order, port in hex).
func parseProcAddr(s string) (boundEndpoint, bool) {
	ipHex, portHex, ok := strings.Cut(s, ":")
	if !ok || len(ipHex) != 8 {
		return boundEndpoint{}, false
	}
	b, err := hex.DecodeString(ipHex)
	if err != nil {
		return boundEndpoint{}, false
	}
	port, err := strconv.ParseUint(portHex, 16, 16)
	if err != nil {
		return boundEndpoint{}, false
	}
	var a [4]byte
	binary.LittleEndian.PutUint32(a[:], binary.BigEndian.Uint32(b))
	return boundEndpoint{addr: netip.AddrFrom4(a), port: uint16(port)}, true
}

// checkConflicts reports the first device service whose address and port
// is already held by another socket (or a UDP wildcard bind on that port,
// which would stop the real-port UDP bind), so that steering never silently
// takes over someone else's endpoint. TCP wildcard listeners are no
// conflict when steering: the program runs before the kernel's own lookup.
func checkConflicts(devs []*device, steering bool) error {
	tcp, udp, err := boundSockets()
	if err != nil {
		return nil // best effort: without /proc the binds still catch the anchors
	}
	any4 := netip.IPv4Unspecified()
	for _, d := range devs {
		for _, s := range d.services {
			m, proto := tcp, "tcp"
			if udpProtocols[s.sp.Protocol] {
				m, proto = udp, "udp"
			}
			wild := m[boundEndpoint{any4, s.port}] && (proto == "udp" || !steering)
			if m[boundEndpoint{d.addr, s.port}] || wild {
				return fmt.Errorf("bind %s:%d/%s: %w", d.addr, s.port, proto, ErrAddrInUse)
			}
		}
	}
	return nil
}

// probeTaken connects to a few device addresses of each TCP port before
// the steering program is attached: an answer there means another fleet
// (steered addresses hold no socket of their own, so /proc does not show
// them) or another program already serves the address.
func probeTaken(devs []*device) error {
	wild := wildcardTCPPorts()
	byPort := map[uint16][]netip.Addr{}
	for _, d := range devs {
		for _, s := range d.services {
			if !udpProtocols[s.sp.Protocol] {
				byPort[s.port] = append(byPort[s.port], d.addr)
			}
		}
	}
	for port, addrs := range byPort {
		if len(addrs) < 2 || wild[port] {
			continue // a wildcard listener answers everywhere: nothing to learn
		}
		// addrs[0] is the anchor this fleet bound itself.
		for _, a := range []netip.Addr{addrs[1], addrs[len(addrs)/2], addrs[len(addrs)-1]} {
			ap := netip.AddrPortFrom(a, port)
			c, err := net.DialTimeout("tcp", ap.String(), 200*time.Millisecond)
			if err == nil {
				c.Close()
				return fmt.Errorf("bind %s/tcp: %w (another fleet or program answers there)", ap, ErrAddrInUse)
			}
		}
	}
	return nil
}

// wildcardTCPPorts returns the ports with a TCP listener on 0.0.0.0 or ::.
func wildcardTCPPorts() map[uint16]bool {
	out := map[uint16]bool{}
	for _, path := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) < 4 || fs[3] != "0A" {
				continue
			}
			ip, portHex, ok := strings.Cut(fs[1], ":")
			if !ok || strings.Trim(ip, "0") != "" {
				continue
			}
			if p, err := strconv.ParseUint(portHex, 16, 16); err == nil {
				out[uint16(p)] = true
			}
		}
	}
	return out
}
