package scan

import (
	"cmp"
	"encoding/csv"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/protocol"
)

// JSON Lines schema (stable; fields are only ever added). One object per
// service, model.Service's JSON encoding:
//
//	ip, port, transport ("tcp"|"udp"), protocol (a protocol table name:
//	telnet ssh http https ftp mqtt mqtts rtsp snmp ssdp coap modbus dns, or ""
//	when nothing answered),
//	status (success refused timeout protocol-error io-error unknown-error),
//	banner (printable, at most 256 bytes), error, time (RFC 3339),
//	fingerprint {vendor, product, version, device_type, cpe (CPE 2.3 in NVD
//	spelling), confidence (0..1), rule (rules.yaml id or "recog:<db>:<desc>")},
//	data: the protocol's handshake record (probe/<proto>.Record):
//	  ssh     banner proto_version software pre_banner kex_algorithms
//	          host_key_algorithms ciphers macs compression host_key_type host_key_sha256
//	          flagged_algorithms [{list name level (fail|warn) why}]
//	  http(s) status_code status_line headers server title auth_scheme realm
//	          www_authenticate body_snippet body_md5 favicon_md5
//	          tls {version cipher subject issuer not_before not_after self_signed dns_names
//	               ja4s ja4s_raw server_hello {legacy_version version cipher_suite extensions alpn}
//	               chain [{subject issuer serial not_before not_after dns_names ip_addresses
//	                       self_signed is_ca signature_algorithm key_type key_bits sha256 spki_sha256}]}
//	  telnet  banner negotiation login_prompt shell_prompt
//	  ftp     banner code anonymous anon_reply
//	  mqtt(s) connack_code connack_text anonymous broker_version tls (as http's)
//	  rtsp    server public options_status describe_status auth_scheme realm sdp_session no_auth
//	  snmp    version community (redacted unless --show-secrets) sys_descr sys_object_id
//	          sys_name sys_uptime sys_contact sys_location
//	  ssdp    server location st usn device_type friendly_name manufacturer model_name
//	          model_number model_description serial_number udn description_error
//	  coap    code resources links
//	  modbus  unit_id exception vendor_name product_code revision vendor_url product_name model_name
//	  dns     version query rcode authoritative recursion_available

// WriteTable writes services as an aligned table.
func WriteTable(w io.Writer, svcs []model.Service) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "IP\tPORT\tPROTOCOL\tSTATUS\tVENDOR\tPRODUCT\tVERSION\tDEVICE\tCPE")
	for _, s := range sorted(svcs) {
		fp := s.Fingerprint
		if fp == nil {
			fp = &model.Fingerprint{}
		}
		fmt.Fprintf(tw, "%s\t%d/%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.IP, s.Port, s.Transport, cmp.Or(s.Protocol, "-"), s.Status,
			cmp.Or(fp.Vendor, "-"), cmp.Or(fp.Product, "-"), cmp.Or(fp.Version, "-"), cmp.Or(fp.DeviceType, "-"), cmp.Or(fp.CPE, "-"))
	}
	return tw.Flush()
}

func sorted(svcs []model.Service) []model.Service {
	out := slices.Clone(svcs)
	slices.SortFunc(out, func(a, b model.Service) int {
		if c := a.IP.Compare(b.IP); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Transport, b.Transport); c != 0 {
			return c
		}
		return cmp.Compare(a.Port, b.Port)
	})
	return out
}

// WriteCSV writes services as CSV with a header row.
func WriteCSV(w io.Writer, svcs []model.Service) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"ip", "port", "transport", "protocol", "status", "vendor", "product", "version", "device_type", "cpe", "confidence", "rule", "banner"})
	for _, s := range sorted(svcs) {
		fp := s.Fingerprint
		if fp == nil {
			fp = &model.Fingerprint{}
		}
		conf := ""
		if fp.Confidence > 0 {
			conf = strconv.FormatFloat(fp.Confidence, 'f', 2, 64)
		}
		_ = cw.Write([]string{s.IP.String(), strconv.Itoa(int(s.Port)), s.Transport, s.Protocol, string(s.Status),
			fp.Vendor, fp.Product, fp.Version, fp.DeviceType, fp.CPE, conf, fp.Rule, s.Banner})
	}
	cw.Flush()
	return cw.Error()
}

// nmap XML (-oX) shapes, the subset importers (Metasploit db_import,
// DefectDojo, Faraday) read.
type nmapRun struct {
	XMLName  xml.Name   `xml:"nmaprun"`
	Scanner  string     `xml:"scanner,attr"`
	Args     string     `xml:"args,attr"`
	Start    int64      `xml:"start,attr"`
	StartStr string     `xml:"startstr,attr"`
	Version  string     `xml:"version,attr"`
	XMLOut   string     `xml:"xmloutputversion,attr"`
	Hosts    []nmapHost `xml:"host"`
	Finished struct {
		Time    int64  `xml:"time,attr"`
		TimeStr string `xml:"timestr,attr"`
		Elapsed string `xml:"elapsed,attr"`
		Exit    string `xml:"exit,attr"`
	} `xml:"runstats>finished"`
	HostsStat struct {
		Up    int `xml:"up,attr"`
		Down  int `xml:"down,attr"`
		Total int `xml:"total,attr"`
	} `xml:"runstats>hosts"`
}

type nmapHost struct {
	Status struct {
		State  string `xml:"state,attr"`
		Reason string `xml:"reason,attr"`
	} `xml:"status"`
	Address []nmapAddr `xml:"address"`
	Names   []nmapName `xml:"hostnames>hostname,omitempty"`
	Ports   []nmapPort `xml:"ports>port"`
}

type nmapAddr struct {
	Addr     string `xml:"addr,attr"`
	AddrType string `xml:"addrtype,attr"`
}

type nmapName struct {
	Name string `xml:"name,attr"`
	Type string `xml:"type,attr"`
}

type nmapPort struct {
	Protocol string `xml:"protocol,attr"`
	PortID   int    `xml:"portid,attr"`
	State    struct {
		State  string `xml:"state,attr"`
		Reason string `xml:"reason,attr"`
	} `xml:"state"`
	Service nmapService `xml:"service"`
}

type nmapService struct {
	Name       string   `xml:"name,attr"`
	Product    string   `xml:"product,attr,omitempty"`
	Version    string   `xml:"version,attr,omitempty"`
	ExtraInfo  string   `xml:"extrainfo,attr,omitempty"`
	DeviceType string   `xml:"devicetype,attr,omitempty"`
	Method     string   `xml:"method,attr"`
	Conf       int      `xml:"conf,attr"`
	CPE        []string `xml:"cpe,omitempty"`
}

// WriteNmapXML writes services as nmap XML. args is recorded as the command line.
func WriteNmapXML(w io.Writer, svcs []model.Service, args string, start, end time.Time) error {
	run := nmapRun{Scanner: "iotwatch", Args: args, Start: start.Unix(), StartStr: start.Format(time.ANSIC), Version: "7.93", XMLOut: "1.05"}
	byHost := map[string]*nmapHost{}
	var order []string
	for _, s := range sorted(svcs) {
		if s.Status == model.StatusRefused || s.Status == model.StatusTimeout && s.Protocol == "" {
			continue
		}
		k := s.IP.String()
		h, ok := byHost[k]
		if !ok {
			h = &nmapHost{}
			h.Status.State, h.Status.Reason = "up", "conn-refused"
			typ := "ipv4"
			if s.IP.Is6() {
				typ = "ipv6"
			}
			h.Address = []nmapAddr{{Addr: k, AddrType: typ}}
			byHost[k] = h
			order = append(order, k)
		}
		p := nmapPort{Protocol: s.Transport, PortID: int(s.Port)}
		p.State.State, p.State.Reason = "open", "syn-ack"
		if s.Transport == model.UDP {
			p.State.Reason = "udp-response"
		}
		name := cmp.Or(protocol.Lookup(s.Protocol).Nmap, s.Protocol, "unknown")
		p.Service = nmapService{Name: name, Method: "probed", Conf: 10}
		if fp := s.Fingerprint; fp != nil {
			p.Service.Product = strings.TrimSpace(fp.Vendor + " " + fp.Product)
			if strings.HasPrefix(fp.Product, fp.Vendor) {
				p.Service.Product = fp.Product
			}
			p.Service.Version, p.Service.DeviceType = fp.Version, fp.DeviceType
			if fp.CPE != "" {
				p.Service.CPE = []string{CPE22(fp.CPE)}
			}
		}
		h.Ports = append(h.Ports, p)
	}
	for _, k := range order {
		run.Hosts = append(run.Hosts, *byHost[k])
	}
	run.HostsStat.Up, run.HostsStat.Total = len(order), len(order)
	run.Finished.Time, run.Finished.TimeStr = end.Unix(), end.Format(time.ANSIC)
	run.Finished.Elapsed, run.Finished.Exit = strconv.FormatFloat(end.Sub(start).Seconds(), 'f', 2, 64), "success"
	if _, err := io.WriteString(w, xml.Header+"<!DOCTYPE nmaprun>\n"); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(run); err != nil {
		return fmt.Errorf("nmap xml: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// CPE22 turns a CPE 2.3 formatted string into the CPE 2.2 URI nmap prints
// ("cpe:/a:openbsd:openssh:9.2p1" style, trailing wildcards dropped).
func CPE22(c string) string {
	if !strings.HasPrefix(c, "cpe:2.3:") {
		return c
	}
	parts := strings.Split(strings.TrimPrefix(c, "cpe:2.3:"), ":")
	if len(parts) > 7 {
		parts = parts[:7]
	}
	for len(parts) > 0 && parts[len(parts)-1] == "*" {
		parts = parts[:len(parts)-1]
	}
	for i, p := range parts {
		if p == "*" {
			parts[i] = ""
		}
		parts[i] = strings.ReplaceAll(parts[i], `\`, "")
	}
	return "cpe:/" + strings.Join(parts, ":")
}
