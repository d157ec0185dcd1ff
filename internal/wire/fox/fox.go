// Package fox is the hello exchange of Tridium's Niagara Fox protocol (TCP
// 1911): the client sends a "fox a 1 -1 fox hello" message and the station
// answers with its own hello, a block of name=type:value lines (station
// name, host name, Niagara version, VM, OS, host id, brand). nmap's fox-info
// reads the same answer. The hello is the only message the package encodes.
package fox

import (
	"bufio"
	"fmt"
	"strings"

	"iotwatch/internal/netx"
	"iotwatch/internal/wire"
)

// ErrNotFox marks bytes that are not a Fox hello.
var ErrNotFox = fmt.Errorf("not a Niagara Fox hello: %w", netx.ErrProtocol)

// Hello is the client's hello.
func Hello() []byte {
	return []byte("fox a 1 -1 fox hello\n{\nfox.version=s:1.0\nid=i:1\n};;\n")
}

// maxLines caps an answer.
const maxLines = 64

// ReadHello reads a hello answer and returns its fields (name → value,
// without the type letter).
func ReadHello(r *bufio.Reader) (map[string]string, error) {
	first, err := wire.ReadLine(r, 256)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(first, "fox a ") || !strings.HasSuffix(first, "fox hello") {
		return nil, fmt.Errorf("fox: first line %q: %w", wire.Excerpt(first, 40), ErrNotFox)
	}
	if l, err := wire.ReadLine(r, 256); err != nil || l != "{" {
		return nil, fmt.Errorf("fox: no field block: %w", ErrNotFox)
	}
	out := map[string]string{}
	for range maxLines {
		l, err := wire.ReadLine(r, 1024)
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(l, "}") {
			return out, nil
		}
		name, v, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		if _, val, ok := strings.Cut(v, ":"); ok {
			v = val
		}
		out[name] = v
	}
	return nil, fmt.Errorf("fox: more than %d fields: %w", maxLines, ErrNotFox)
}

// Answer builds a station's hello answer from fields given as name, type,
// value triples (for tests and the simulator).
func Answer(fields ...string) []byte {
	var b strings.Builder
	b.WriteString("fox a 0 -1 fox hello\n{\n")
	for i := 0; i+2 < len(fields); i += 3 {
		fmt.Fprintf(&b, "%s=%s:%s\n", fields[i], fields[i+1], fields[i+2])
	}
	b.WriteString("};;\n")
	return []byte(b.String())
}
