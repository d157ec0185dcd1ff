package protocol

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"strings"
	"testing"

	"iotwatch/internal/model"
)

func TestRowsComplete(t *testing.T) {
	for _, s := range All() {
		if s.Name == "" || s.Name != strings.ToLower(s.Name) {
			t.Errorf("row %q: name must be lower case and not empty", s.Name)
		}
		for _, tr := range s.Transports {
			if tr != model.TCP && tr != model.UDP {
				t.Errorf("%s: transport %q", s.Name, tr)
			}
		}
		if len(s.Ports) == 0 && len(s.SharedPorts) == 0 {
			t.Errorf("%s: no default port", s.Name)
		}
		for _, tr := range s.Transports {
			for _, p := range s.SharedPorts {
				if owner := ForPort(p, tr); owner == "" || owner == s.Name || !slices.Contains(Sharing(p, tr), s.Name) {
					t.Errorf("%s: shared port %d/%s: owner %q, sharing %v", s.Name, p, tr, owner, Sharing(p, tr))
				}
			}
		}
		if s.Nmap == "" {
			t.Errorf("%s: no nmap service name", s.Name)
		}
		if s.TLS && s.Cleartext {
			t.Errorf("%s: TLS and cleartext", s.Name)
		}
		if s.Cleartext && !s.Login {
			t.Errorf("%s: a cleartext login but no login module", s.Name)
		}
		if Lookup(s.Name).Name != s.Name || !Known(s.Name) {
			t.Errorf("Lookup(%q) does not find its row", s.Name)
		}
		for _, tr := range s.Transports {
			for _, p := range s.Ports {
				if got := ForPort(p, tr); got != s.Name {
					t.Errorf("ForPort(%d, %s) = %q, want %q", p, tr, got, s.Name)
				}
			}
		}
	}
	if Known("gopher") || Lookup("gopher").Login || Lookup("gopher").Transport() != "" {
		t.Error("an unknown name must give the zero row")
	}
}

// TestModelNames checks that the model's Proto* constants and the table name
// the same protocols: a constant without a row would be a protocol no stage
// knows how to treat.
func TestModelNames(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "../model/model.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var consts []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Values) != 1 || !strings.HasPrefix(vs.Names[0].Name, "Proto") {
			return true
		}
		if lit, ok := vs.Values[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
			v, _ := strconv.Unquote(lit.Value)
			consts = append(consts, v)
		}
		return true
	})
	names := Names(nil)
	slices.Sort(consts)
	slices.Sort(names)
	if len(consts) < 10 || !slices.Equal(consts, names) {
		t.Errorf("model Proto* constants %v, table rows %v", consts, names)
	}
}

func TestGreeted(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SSH-2.0-OpenSSH_9.2p1\r\n", model.ProtoSSH},
		{"\xff\xfd\x18\xff\xfd\x20", model.ProtoTelnet},
		{"220 (vsFTPd 3.0.3)\r\n", model.ProtoFTP},
		{"220-Welcome\r\n220 ready\r\n", model.ProtoFTP},
		{"220 mail ESMTP Postfix SMTP\r\n", ""},
		{"RTSP/1.0 400 Bad Request\r\n", model.ProtoRTSP},
		{"HTTP/1.0 400 Bad Request\r\n", model.ProtoHTTP},
		{"login: ", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Greeted([]byte(tt.in)); got != tt.want {
			t.Errorf("Greeted(%q) = %q, want %q", tt.in, got, tt.want)
		}
		n := 0
		for _, s := range All() {
			if s.Greeting != nil && s.Greeting([]byte(tt.in)) {
				n++
			}
		}
		if n > 1 {
			t.Errorf("%q is the greeting of %d rows", tt.in, n)
		}
	}
}

func TestBuildRejectsDuplicates(t *testing.T) {
	tests := map[string][]Spec{
		"name": {{Name: "a", Transports: tcp, Ports: []uint16{1}}, {Name: "a", Transports: tcp, Ports: []uint16{2}}},
		"port": {{Name: "a", Transports: tcp, Ports: []uint16{1}}, {Name: "b", Transports: tcp, Ports: []uint16{1}}},
		"none": {{Name: "a", Ports: []uint16{1}}},
	}
	for name, table := range tests {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("build did not panic")
				}
			}()
			build(table)
		})
	}
	// The same port on two transports is two endpoints.
	ix := build([]Spec{{Name: "a", Transports: tcp, Ports: []uint16{1}}, {Name: "b", Transports: udp, Ports: []uint16{1}}})
	if ix.byPort[portKey{1, model.UDP}] != "b" {
		t.Error("1/udp not b")
	}
}
