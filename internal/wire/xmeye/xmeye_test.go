package xmeye

import (
	"bytes"
	"errors"
	"testing"
)

// TestSofiaHash checks the hash against the values the open-source clients
// and Mirai analyses publish for the empty password and "123456".
func TestSofiaHash(t *testing.T) {
	for pw, want := range map[string]string{"": "tlJwpbo6", "123456": "nTBCS19C"} {
		if got := SofiaHash(pw); got != want {
			t.Errorf("SofiaHash(%q) = %q, want %q", pw, got, want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	req := LoginRequest(7, "admin", "")
	m, err := Read(bytes.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != LoginReq || m.Seq != 7 || !bytes.HasSuffix(req, []byte("}\n\x00")) {
		t.Fatalf("message %+v", m)
	}
	l, err := ParseLogin(m.Payload)
	if err != nil || l.UserName != "admin" || l.PassWord != "tlJwpbo6" || l.EncryptType != "MD5" {
		t.Fatalf("login %+v %v", l, err)
	}
	reply := Message{ID: LoginRsp, Session: 11, Payload: []byte(`{ "AliveInterval" : 21, "ChannelNum" : 8, "DeviceType " : "DVR", "ExtraChannel" : 0, "Ret" : 100, "SessionID" : "0x0000000B" }`)}.Encode()
	m, err = Read(bytes.NewReader(reply))
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseReply(m.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if r.Ret != RetOK || r.String("DeviceType") != "DVR" || r.String("ChannelNum") != "8" || r.SessionID() != 11 {
		t.Errorf("reply %+v", r)
	}
}

func TestRejects(t *testing.T) {
	for name, b := range map[string][]byte{
		"http":     []byte("HTTP/1.1 400 Bad Request\r\n\r\n"),
		"huge":     Message{ID: LoginRsp}.Encode()[:16:16],
		"no ret":   Message{ID: LoginRsp, Payload: []byte(`{"SessionID":"0x1"}`)}.Encode(),
		"not json": Message{ID: LoginRsp, Payload: []byte(`Ret=100`)}.Encode(),
	} {
		if name == "huge" {
			b = append(b, 0xff, 0xff, 0xff, 0x7f)
		}
		m, err := Read(bytes.NewReader(b))
		if err == nil {
			_, err = ParseReply(m.Payload)
		}
		if !errors.Is(err, ErrNotXMeye) {
			t.Errorf("%s: error %v, want ErrNotXMeye", name, err)
		}
	}
}

func FuzzRead(f *testing.F) {
	f.Add(LoginRequest(1, "admin", "x"))
	f.Add(Message{ID: LoginRsp, Payload: []byte(`{ "Ret" : 205, "SessionID" : "0x00000000" }`)}.Encode())
	f.Add(Message{ID: SysInfoRsp, Payload: []byte(`{"Name":"SystemInfo","Ret":100,"SystemInfo":{"SerialNo":"x","SoftWareVersion":"V4"}}`)}.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Read(bytes.NewReader(b))
		if err != nil {
			return
		}
		if len(m.Payload) > MaxPayload {
			t.Fatalf("payload of %d bytes", len(m.Payload))
		}
		r, err := ParseReply(m.Payload)
		if err != nil {
			if !errors.Is(err, ErrNotXMeye) {
				t.Fatalf("error %v does not wrap ErrNotXMeye", err)
			}
			return
		}
		_ = r.Object("SystemInfo").String("SoftWareVersion")
		_ = r.SessionID()
		if _, err := Read(bytes.NewReader(m.Encode())); err != nil {
			t.Fatalf("re-encoded message does not read: %v", err)
		}
	})
}
