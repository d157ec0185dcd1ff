package simulate

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang"
	"github.com/gosnmp/gosnmp"
	"github.com/jlaffaye/ftp"
	"golang.org/x/crypto/ssh"

	"iotwatch/internal/model"
	"iotwatch/internal/wire"
	wiretelnet "iotwatch/internal/wire/telnet"
)

// protoFleet is shared by the protocol tests: every kind of credential present.
func protoFleet(t *testing.T) *Fleet {
	t.Helper()
	return startFleet(t, Options{Devices: 240, Seed: 42, Weak: 0.4, Empty: 0.15, Anonymous: 0.15, HighPorts: true})
}

func TestSSH(t *testing.T) {
	f := protoFleet(t)
	s := findService(t, f, model.ProtoSSH, model.KindDefaultCredential, nil)
	target := s
	dial := func(auth ssh.AuthMethod, user string) (*ssh.Client, error) {
		return ssh.Dial("tcp", addrOf(target), &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{auth},
			HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second})
	}
	c, err := dial(ssh.Password(s.cred.Password), s.cred.Username)
	if err != nil {
		t.Fatalf("password login %s@%s: %v", s.cred.Username, addrOf(s), err)
	}
	if got, want := string(c.ServerVersion()), s.sp.Banner; got != want {
		t.Errorf("server version = %q, want %q", got, want)
	}
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.Output("uname -a")
	if err != nil || !strings.HasPrefix(string(out), "Linux ") {
		t.Errorf("exec uname: %q, %v", out, err)
	}
	c.Close()

	ki := ssh.KeyboardInteractive(func(_, _ string, qs []string, _ []bool) ([]string, error) {
		ans := make([]string, len(qs))
		for i := range ans {
			ans[i] = s.cred.Password
		}
		return ans, nil
	})
	if c, err := dial(ki, s.cred.Username); err != nil {
		t.Errorf("keyboard-interactive login: %v", err)
	} else {
		c.Close()
	}
	if c, err := dial(ssh.Password("wrong-"+s.cred.Password), s.cred.Username); err == nil {
		c.Close()
		t.Error("wrong password accepted")
	}
	strong := findService(t, f, model.ProtoSSH, KindStrong, nil)
	target = strong
	if c, err := dial(ssh.Password(strong.sp.Default.Password), strong.sp.Default.Username); err == nil {
		c.Close()
		t.Errorf("strong device accepted the vendor default %v (accepts %v)", strong.sp.Default, strong.cred)
	}
}

func TestMQTT(t *testing.T) {
	f := protoFleet(t)
	connect := func(s *deviceService, user, pass string) error {
		o := mqtt.NewClientOptions().AddBroker("tcp://" + addrOf(s)).SetClientID(fmt.Sprintf("t%d", time.Now().UnixNano())).
			SetConnectTimeout(5 * time.Second).SetAutoReconnect(false).SetConnectRetry(false)
		if user != "" {
			o.SetUsername(user).SetPassword(pass)
		}
		c := mqtt.NewClient(o)
		tok := c.Connect()
		if !tok.WaitTimeout(5 * time.Second) {
			return fmt.Errorf("connect timeout")
		}
		if err := tok.Error(); err != nil {
			return err
		}
		defer c.Disconnect(50)
		sub := c.Subscribe("$SYS/broker/version", 0, nil)
		sub.WaitTimeout(2 * time.Second)
		return sub.Error()
	}
	weak := findService(t, f, model.ProtoMQTT, model.KindDefaultCredential, nil)
	if err := connect(weak, weak.cred.Username, weak.cred.Password); err != nil {
		t.Errorf("default login: %v", err)
	}
	if err := connect(weak, weak.cred.Username, "nope"); err == nil {
		t.Error("wrong password accepted")
	}
	if err := connect(weak, "", ""); err == nil {
		t.Error("anonymous accepted on a password broker")
	}
	anon := findService(t, f, model.ProtoMQTT, model.KindAnonymousAccess, nil)
	if err := connect(anon, "", ""); err != nil {
		t.Errorf("anonymous connect: %v", err)
	}
}

func TestSNMP(t *testing.T) {
	f := protoFleet(t)
	s := findService(t, f, model.ProtoSNMP, model.KindSNMPCommunity, nil)
	for _, v := range []gosnmp.SnmpVersion{gosnmp.Version1, gosnmp.Version2c} {
		g := &gosnmp.GoSNMP{Target: s.dev.addr.String(), Port: s.port, Community: "public", Version: v,
			Timeout: 2 * time.Second, Retries: 1}
		if err := g.Connect(); err != nil {
			t.Fatal(err)
		}
		r, err := g.Get([]string{".1.3.6.1.2.1.1.1.0", ".1.3.6.1.2.1.1.5.0"})
		if err != nil {
			t.Fatalf("v%v get: %v", v, err)
		}
		if got := string(r.Variables[0].Value.([]byte)); got != s.banner() {
			t.Errorf("sysDescr = %q, want %q", got, s.banner())
		}
		if got := string(r.Variables[1].Value.([]byte)); got != s.dev.hostname {
			t.Errorf("sysName = %q, want %q", got, s.dev.hostname)
		}
		n, err := g.GetNext([]string{".1.3.6.1.2.1.1.1.0"})
		if err != nil || n.Variables[0].Name != ".1.3.6.1.2.1.1.2.0" {
			t.Errorf("getnext: %+v %v", n, err)
		} else if got := n.Variables[0].Value.(string); got != s.sp.SysObjectID {
			t.Errorf("sysObjectID = %q, want %q", got, s.sp.SysObjectID)
		}
		var walked int
		if err := g.Walk(".1.3.6.1.2.1.1", func(gosnmp.SnmpPDU) error { walked++; return nil }); err != nil || walked != len(systemGroup) {
			t.Errorf("v%v walk: %d variables, %v", v, walked, err)
		}
		g.Conn.Close()
	}
	g := &gosnmp.GoSNMP{Target: s.dev.addr.String(), Port: s.port, Community: "private", Version: gosnmp.Version2c,
		Timeout: 300 * time.Millisecond, Retries: 0}
	g.Connect()
	if _, err := g.Get([]string{".1.3.6.1.2.1.1.1.0"}); err == nil {
		t.Error("wrong community answered")
	}
}

func TestHTTPBasicDigestForm(t *testing.T) {
	f := protoFleet(t)
	client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(s *deviceService, auth string) *http.Response {
		req, _ := http.NewRequest("GET", "http://"+addrOf(s)+"/", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	body := func(r *http.Response) string { b, _ := io.ReadAll(r.Body); r.Body.Close(); return string(b) }

	t.Run("basic", func(t *testing.T) {
		s := findService(t, f, model.ProtoHTTP, model.KindDefaultCredential, func(s *deviceService) bool { return s.sp.Auth == "basic" })
		r := get(s, "")
		body(r)
		if r.StatusCode != 401 || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic realm=") {
			t.Fatalf("no auth: %d %q", r.StatusCode, r.Header.Get("WWW-Authenticate"))
		}
		req, _ := http.NewRequest("GET", "http://"+addrOf(s)+"/", nil)
		req.SetBasicAuth(s.cred.Username, s.cred.Password)
		r2, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b := body(r2)
		if r2.StatusCode != 200 || !strings.Contains(b, s.dev.prof.Model) || !strings.Contains(b, s.dev.prof.Firmware) {
			t.Errorf("basic login: %d %q", r2.StatusCode, b)
		}
		req.SetBasicAuth(s.cred.Username, "bad")
		r3, _ := client.Do(req)
		body(r3)
		if r3.StatusCode != 401 {
			t.Errorf("bad password: %d", r3.StatusCode)
		}
	})
	t.Run("digest", func(t *testing.T) {
		s := findService(t, f, model.ProtoHTTP, model.KindDefaultCredential, func(s *deviceService) bool { return s.sp.Auth == "digest" })
		r := get(s, "")
		body(r)
		ch := r.Header.Get("WWW-Authenticate")
		if r.StatusCode != 401 || !strings.HasPrefix(ch, "Digest ") {
			t.Fatalf("no auth: %d %q", r.StatusCode, ch)
		}
		if got := r.Header.Get("Server"); got != s.banner() {
			t.Errorf("Server = %q, want %q", got, s.banner())
		}
		r2 := get(s, digestAnswer(t, ch, "GET", "/", s.cred.Username, s.cred.Password))
		if b := body(r2); r2.StatusCode != 200 || !strings.Contains(b, s.dev.prof.Firmware) {
			t.Errorf("digest login: %d %q", r2.StatusCode, b)
		}
		r3 := get(s, digestAnswer(t, ch, "GET", "/", s.cred.Username, "wrong"))
		body(r3)
		if r3.StatusCode != 401 {
			t.Errorf("digest wrong password: %d", r3.StatusCode)
		}
	})
	t.Run("form", func(t *testing.T) {
		s := findService(t, f, model.ProtoHTTP, model.KindEmptyPassword, func(s *deviceService) bool { return s.sp.Auth == "form" })
		r := get(s, "")
		if b := body(r); r.StatusCode != 200 || !strings.Contains(b, `name="password"`) || !strings.Contains(b, s.dev.prof.Firmware) {
			t.Fatalf("login page: %d %q", r.StatusCode, b)
		}
		post := func(user, pass string) *http.Response {
			r, err := client.PostForm("http://"+addrOf(s)+"/login", map[string][]string{"username": {user}, "password": {pass}})
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		ok := post(s.cred.Username, "")
		body(ok)
		if ok.StatusCode != 302 || ok.Header.Get("Location") != "/index.html" || len(ok.Cookies()) == 0 {
			t.Errorf("form login: %d %v", ok.StatusCode, ok.Header)
		}
		bad := post(s.cred.Username, "x")
		if b := body(bad); bad.StatusCode != 200 || !strings.Contains(b, "Invalid username or password") {
			t.Errorf("failed form login: %d %q", bad.StatusCode, b)
		}
	})
	t.Run("upnp-description", func(t *testing.T) {
		s := findService(t, f, model.ProtoSSDP, "", nil)
		var hs *deviceService
		for _, o := range s.dev.services {
			if o.sp.Protocol == model.ProtoHTTP {
				hs = o
			}
		}
		r, err := client.Get("http://" + addrOf(hs) + "/rootDesc.xml")
		if err != nil {
			t.Fatal(err)
		}
		b := body(r)
		for _, want := range []string{"<manufacturer>" + s.dev.prof.Vendor, "<modelName>", "<serialNumber>" + s.dev.serial} {
			if !strings.Contains(b, want) {
				t.Errorf("description lacks %q: %s", want, b)
			}
		}
	})
}

// digestAnswer computes an RFC 7616 MD5 qop=auth Authorization header (client side).
func digestAnswer(t *testing.T, challenge, method, uri, user, pass string) string {
	t.Helper()
	p, ok := parseDigest(challenge)
	if !ok {
		t.Fatalf("cannot parse challenge %q", challenge)
	}
	h := func(s string) string { x := md5.Sum([]byte(s)); return hex.EncodeToString(x[:]) }
	ha1 := h(user + ":" + p["realm"] + ":" + pass)
	ha2 := h(method + ":" + uri)
	nc, cnonce := "00000001", "0a4f113b"
	resp := h(ha1 + ":" + p["nonce"] + ":" + nc + ":" + cnonce + ":auth:" + ha2)
	return fmt.Sprintf(`Digest username="%s", realm="%s", nonce="%s", uri="%s", qop=auth, nc=%s, cnonce="%s", response="%s", opaque="%s", algorithm=MD5`,
		user, p["realm"], p["nonce"], uri, nc, cnonce, resp, p["opaque"])
}

func TestFTP(t *testing.T) {
	f := protoFleet(t)
	anon := findService(t, f, model.ProtoFTP, model.KindAnonymousAccess, nil)
	c, err := ftp.Dial(addrOf(anon), ftp.DialWithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login("anonymous", "guest@example.com"); err != nil {
		t.Errorf("anonymous login: %v", err)
	} else if dir, err := c.CurrentDir(); err != nil || dir != "/" {
		t.Errorf("pwd = %q, %v", dir, err)
	}
	c.Quit()

	weak := findService(t, f, model.ProtoFTP, "", func(s *deviceService) bool { return !s.anon })
	c, err = ftp.Dial(addrOf(weak), ftp.DialWithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login("anonymous", "x"); err == nil {
		t.Error("anonymous accepted on a password server")
	}
	if err := c.Login(weak.cred.Username, weak.cred.Password); err != nil {
		t.Errorf("login %s: %v", weak.kind, err)
	}
	c.Quit()
}

func TestTelnet(t *testing.T) {
	f := protoFleet(t)
	s := findService(t, f, model.ProtoTelnet, model.KindDefaultCredential, func(s *deviceService) bool {
		return strings.HasPrefix(s.sp.Banner, "BusyBox")
	})
	c, err := net.DialTimeout("tcp", addrOf(s), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	until := func(want string) string {
		t.Helper()
		var b bytes.Buffer
		for !strings.Contains(b.String(), want) {
			ch, err := r.ReadByte()
			if err != nil {
				t.Fatalf("waiting for %q: %v (got %q)", want, err, b.String())
			}
			b.WriteByte(ch)
		}
		return b.String()
	}
	greet := until("login: ")
	if !strings.HasPrefix(greet, string(telnetGreeting)) {
		t.Errorf("no IAC negotiation: %q", greet)
	}
	// Answer the negotiation like a client would, then log in badly, then well.
	c.Write([]byte{wiretelnet.IAC, wiretelnet.WONT, 1, wiretelnet.IAC, wiretelnet.WILL, 31})
	fmt.Fprintf(c, "%s\r\n", s.cred.Username)
	until("Password: ")
	fmt.Fprintf(c, "wrong\r\n")
	until("Login incorrect")
	until("login: ")
	fmt.Fprintf(c, "%s\r\n", s.cred.Username)
	until("Password: ")
	fmt.Fprintf(c, "%s\r\n", s.cred.Password)
	prompt := "$ "
	if s.cred.Username == "root" {
		prompt = "# "
	}
	shell := until(prompt)
	if !strings.Contains(shell, s.banner()) {
		t.Errorf("shell banner missing %q in %q", s.banner(), shell)
	}
	fmt.Fprintf(c, "id\r\n")
	if out := until(prompt); !strings.Contains(out, "uid=") {
		t.Errorf("id: %q", out)
	}
}

func TestRTSP(t *testing.T) {
	f := protoFleet(t)
	s := findService(t, f, model.ProtoRTSP, model.KindDefaultCredential, func(s *deviceService) bool { return s.sp.Auth == "digest" })
	c, err := net.DialTimeout("tcp", addrOf(s), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	url := "rtsp://" + addrOf(s) + "/Streaming/Channels/101"
	do := func(method string, cseq int, auth string) (string, map[string]string, string) {
		fmt.Fprintf(c, "%s %s RTSP/1.0\r\nCSeq: %d\r\nUser-Agent: test\r\n", method, url, cseq)
		if auth != "" {
			fmt.Fprintf(c, "Authorization: %s\r\n", auth)
		}
		fmt.Fprint(c, "\r\n")
		req, err := readRTSPResponse(r)
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		return req.status, req.header, req.body
	}
	st, h, _ := do("OPTIONS", 1, "")
	if st != "200 OK" || !strings.Contains(h["public"], "DESCRIBE") || h["cseq"] != "1" || h["server"] != s.banner() {
		t.Errorf("OPTIONS: %s %v", st, h)
	}
	st, h, _ = do("DESCRIBE", 2, "")
	if st != "401 Unauthorized" || !strings.HasPrefix(h["www-authenticate"], "Digest ") {
		t.Fatalf("DESCRIBE without auth: %s %v", st, h)
	}
	st, _, body := do("DESCRIBE", 3, digestAnswer(t, h["www-authenticate"], "DESCRIBE", url, s.cred.Username, s.cred.Password))
	if st != "200 OK" || !strings.HasPrefix(body, "v=0") || !strings.Contains(body, s.dev.prof.Model) {
		t.Errorf("DESCRIBE with auth: %s %q", st, body)
	}
}

type rtspResponse struct {
	status string
	header map[string]string
	body   string
}

func readRTSPResponse(r *bufio.Reader) (*rtspResponse, error) {
	line, err := wire.ReadLine(r, maxLine)
	if err != nil {
		return nil, err
	}
	_, status, _ := strings.Cut(line, " ")
	resp := &rtspResponse{status: status, header: map[string]string{}}
	for {
		h, err := wire.ReadLine(r, maxLine)
		if err != nil {
			return nil, err
		}
		if h == "" {
			break
		}
		k, v, _ := strings.Cut(h, ":")
		resp.header[strings.ToLower(k)] = strings.TrimSpace(v)
	}
	if cl := resp.header["content-length"]; cl != "" {
		var n int
		fmt.Sscanf(cl, "%d", &n)
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		resp.body = string(b)
	}
	return resp, nil
}

func udpExchange(t *testing.T, addr string, req []byte) []byte {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 4096)
	for try := 0; try < 3; try++ {
		c.Write(req)
		c.SetReadDeadline(time.Now().Add(time.Second))
		n, err := c.Read(buf)
		if err == nil {
			// The reply must come from the address we dialled (connected UDP socket filters others).
			return buf[:n]
		}
	}
	t.Fatalf("no UDP answer from %s", addr)
	return nil
}

func TestSSDP(t *testing.T) {
	f := protoFleet(t)
	s := findService(t, f, model.ProtoSSDP, "", nil)
	resp := string(udpExchange(t, addrOf(s), []byte("M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n")))
	if !strings.HasPrefix(resp, "HTTP/1.1 200 OK") || !strings.Contains(resp, "LOCATION: http://"+s.dev.addr.String()) ||
		!strings.Contains(resp, "SERVER: "+s.banner()) || !strings.Contains(resp, "USN: uuid:"+s.dev.uuid) {
		t.Errorf("M-SEARCH answer: %q", resp)
	}
}

func TestCoAP(t *testing.T) {
	f := protoFleet(t)
	s := findService(t, f, model.ProtoCoAP, "", nil)
	// CON GET, token 0xbeef, Uri-Path ".well-known", "core".
	req := []byte{0x42, coapGET, 0x12, 0x34, 0xbe, 0xef, 0xbb}
	req = append(req, ".well-known"...)
	req = append(req, 0x04)
	req = append(req, "core"...)
	resp, err := parseCoAP(udpExchange(t, addrOf(s), req))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Type != coapACK || resp.Code != coapContent || resp.ID != 0x1234 || !bytes.Equal(resp.Token, []byte{0xbe, 0xef}) {
		t.Errorf("response header: %+v", resp)
	}
	if !strings.Contains(string(resp.Payload), "</.well-known/core>") || !strings.Contains(string(resp.Payload), s.dev.prof.Model) {
		t.Errorf("payload %q", resp.Payload)
	}
}

func TestModbus(t *testing.T) {
	f := protoFleet(t)
	s := findService(t, f, model.ProtoModbus, "", nil)
	c, err := net.DialTimeout("tcp", addrOf(s), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	// Transaction 7, unit 1, read device identification, basic, from object 0.
	c.Write([]byte{0, 7, 0, 0, 0, 5, 1, 0x2B, 0x0E, 1, 0})
	fr, err := readModbusFrame(c)
	if err != nil {
		t.Fatal(err)
	}
	p := fr.PDU
	if fr.TID != 7 || len(p) < 7 || p[0] != 0x2B || p[1] != 0x0E || p[6] != 3 {
		t.Fatalf("response %x", p)
	}
	objs := map[byte]string{}
	rest := p[7:]
	for len(rest) >= 2 {
		id, n := rest[0], int(rest[1])
		objs[id] = string(rest[2 : 2+n])
		rest = rest[2+n:]
	}
	if objs[0] != s.dev.prof.Vendor || objs[2] != s.dev.prof.Firmware || objs[1] == "" {
		t.Errorf("objects %q", objs)
	}
	c.Write([]byte{0, 8, 0, 0, 0, 2, 1, 0x10})
	fr, err = readModbusFrame(c)
	if err != nil || !bytes.Equal(fr.PDU, []byte{0x90, 1}) {
		t.Errorf("unknown function: %x %v", fr.PDU, err)
	}
	_ = binary.BigEndian
}

func TestRTSPBasic(t *testing.T) {
	f := protoFleet(t)
	s := findService(t, f, model.ProtoRTSP, "", func(s *deviceService) bool { return s.sp.Auth == "basic" && s.kind != KindStrong })
	c, err := net.DialTimeout("tcp", addrOf(s), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	url := "rtsp://" + addrOf(s) + "/"
	req := &http.Request{Header: http.Header{}}
	req.SetBasicAuth(s.cred.Username, s.cred.Password)
	for i, tc := range []struct{ auth, want string }{
		{"", "401 Unauthorized"},
		{"Basic Zm9vOmJhcg==", "401 Unauthorized"},
		{req.Header.Get("Authorization"), "200 OK"},
	} {
		fmt.Fprintf(c, "DESCRIBE %s RTSP/1.0\r\nCSeq: %d\r\n", url, i+1)
		if tc.auth != "" {
			fmt.Fprintf(c, "Authorization: %s\r\n", tc.auth)
		}
		fmt.Fprint(c, "\r\n")
		resp, err := readRTSPResponse(r)
		if err != nil {
			t.Fatal(err)
		}
		if resp.status != tc.want {
			t.Errorf("DESCRIBE with %q: %s, want %s", tc.auth, resp.status, tc.want)
		}
		if tc.want == "401 Unauthorized" && !strings.HasPrefix(resp.header["www-authenticate"], "Basic realm=") {
			t.Errorf("challenge %q", resp.header["www-authenticate"])
		}
	}
}
