// Package protocol is the one table of the protocols iotwatch speaks. Each
// row carries everything the stages need to know about a protocol: its name
// (the spelling stored in model.Service.Protocol), its transports and default
// ports, its nmap service name, whether it runs over TLS, whether a login
// over it crosses the network readable, whether the audit has a login module
// for it, whether its answers name the device itself, and how its server
// greets a client that connected without knowing what to expect.
//
// Every list that used to be written out by hand is derived from the table: the
// default port list and port→protocol map of package target, the UDP
// protocols, scan's protocol detection from a greeting and its nmap service
// names, the audit's login surfaces, assess's cleartext and login sets and
// the report's device-identity protocols. The probers (scan/registry.go) and
// login modules (audit/registry.go) stay explicit lists beside the packages
// that import them; their tests check that every row has a prober and that
// the rows with Login are exactly the protocols the login modules claim.
//
// # Adding a protocol
//
//  1. Name it: add Proto<X> to internal/model (the spelling every stage
//     stores and compares).
//  2. Codec: put the wire format in internal/wire/<x> (or use the field's
//     library there), with a go test -fuzz target and seeds for every parser
//     of bytes that come from the network.
//  3. Probe: write internal/probe/<x> implementing probe.Prober, whose Record
//     flattens into "<x>.*" fields; add it to the list in
//     internal/scan/registry.go.
//  4. Fingerprint: add rules matching the "<x>.*" fields to
//     internal/fingerprint/rules.yaml.
//  5. Login (optional): write internal/login/<x> implementing login.Module
//     and add it to internal/audit/registry.go; set Login in the row.
//  6. Row: add one Spec to the table in protocol.go. The tests of this package and of
//     scan, audit, target, assess and report then check that everything
//     derived from the row is consistent.
//
// Test it against a real daemon on loopback (internal/testpeer) and list its
// Debian package in scripts/setup.sh.
//
// DNS was added this way: model.ProtoDNS; internal/wire/dns (CHAOS TXT
// queries and replies over github.com/miekg/dns, FuzzParseReply);
// internal/probe/dns (version.bind, then version.server, over UDP or TCP);
// the dns-* rules for dnsmasq, BIND, Unbound and PowerDNS; no login module;
// its row; testpeer.Dnsmasq and dnsmasq-base in scripts/setup.sh.
package protocol
