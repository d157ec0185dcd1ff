package netflow

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"iotwatch/internal/flow"
)

// ReplayStats counts a replayed capture.
type ReplayStats struct {
	Packets   int64 // packets in the capture
	Datagrams int64 // UDP datagrams handed to the decoder
	Errors    int64 // datagrams the decoder rejected or only partly decoded
	Truncated bool
}

// ErrFormat reports input that is no pcap capture (ReplayPCAP reads the
// classic pcap format only).
var ErrFormat = errors.New("not a pcap capture of exporter datagrams")

// ReplayPCAP decodes the UDP payloads of a capture of exporter traffic (as
// taken with tcpdump on a collector) as if they had arrived at a collector.
// Only datagrams to port (0 = any) are used.
func (d *Decoder) ReplayPCAP(ctx context.Context, r io.Reader, port uint16, sink flow.Sink) (ReplayStats, error) {
	var st ReplayStats
	pr, err := pcapgo.NewReader(bufio.NewReaderSize(r, 1<<16))
	if err != nil {
		return st, fmt.Errorf("read exporter capture: %w: %v", ErrFormat, err)
	}
	var (
		eth  layers.Ethernet
		ip4  layers.IPv4
		ip6  layers.IPv6
		udp  layers.UDP
		sll  layers.LinuxSLL
		pl   gopacket.Payload
		decs []gopacket.LayerType
	)
	first := layers.LayerTypeEthernet
	switch pr.LinkType() {
	case layers.LinkTypeLinuxSLL:
		first = layers.LayerTypeLinuxSLL
	case layers.LinkTypeRaw, layers.LinkTypeIPv4:
		first = layers.LayerTypeIPv4
	}
	parser := gopacket.NewDecodingLayerParser(first, &eth, &sll, &ip4, &ip6, &udp, &pl)
	parser.IgnoreUnsupported = true
	for {
		if st.Packets%1024 == 0 && ctx.Err() != nil {
			return st, ctx.Err()
		}
		data, ci, err := pr.ReadPacketData()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return st, nil
			}
			st.Truncated = true
			return st, nil
		}
		st.Packets++
		if err := parser.DecodeLayers(data, &decs); err != nil && len(decs) == 0 {
			continue
		}
		var src netip.Addr
		hasUDP := false
		for _, lt := range decs {
			switch lt {
			case layers.LayerTypeIPv4:
				src, _ = netip.AddrFromSlice(ip4.SrcIP)
			case layers.LayerTypeIPv6:
				src, _ = netip.AddrFromSlice(ip6.SrcIP)
			case layers.LayerTypeUDP:
				hasUDP = true
			}
		}
		if !hasUDP || (port != 0 && uint16(udp.DstPort) != port) {
			continue
		}
		st.Datagrams++
		if _, err := d.Decode(udp.Payload, netip.AddrPortFrom(src.Unmap(), uint16(udp.SrcPort)), ci.Timestamp, sink); err != nil {
			st.Errors++
		}
	}
}
