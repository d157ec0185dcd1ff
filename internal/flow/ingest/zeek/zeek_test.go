package zeek

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"iotwatch/internal/flow"
	"iotwatch/internal/flow/synth"
)

const fixtures = "../../../../../shared/data/flows/zeek"

func readFixture(t *testing.T, name string) (*synth.Collect, Stats) {
	t.Helper()
	f, err := os.Open(filepath.Join(fixtures, name))
	if err != nil {
		t.Skipf("fixture: %v", err)
	}
	defer f.Close()
	c := &synth.Collect{}
	st, err := Read(context.Background(), f, c)
	if err != nil {
		t.Fatal(err)
	}
	return c, st
}

func TestFixtures(t *testing.T) {
	cases := []struct {
		file      string
		conn, ssh int64
		check     func(t *testing.T, c *synth.Collect)
	}{
		{"portscan-nmap.conn.log", 4504, 0, func(t *testing.T, c *synth.Collect) {
			r := c.Records[0]
			if r.Src != synth.Addr("172.16.1.11") || r.Dst != synth.Addr("8.8.8.8") || r.DstPort != 53 || r.Proto != flow.ProtoUDP || r.RevBytes != 139 || r.App != "dns" {
				t.Errorf("first record = %+v", r)
			}
		}},
		{"ssh-honeypot-rpi.conn.log", 18, 0, func(t *testing.T, c *synth.Collect) {
			r := c.Records[0]
			if r.DstPort != 902 || r.Packets != 160 || r.Bytes != 14036 || r.RevPackets != 96 || r.RevBytes != 12972 || !r.Dst.Is6() {
				t.Errorf("first record = %+v", r)
			}
			if got := c.Records[0].End.Sub(c.Records[0].Start).Seconds(); got < 73.3 || got > 73.4 {
				t.Errorf("duration %.3f s, want 73.36", got)
			}
		}},
		{"ssh-honeypot-rpi.ssh.log", 0, 10, func(t *testing.T, c *synth.Collect) {
			var att uint32
			for _, r := range c.Records {
				att += r.Attempts
				if r.App != flow.AppSSH {
					t.Errorf("ssh.log record without App ssh: %+v", r)
				}
			}
			if att == 0 {
				t.Error("no auth_attempts read")
			}
		}},
		{"ssh-honeypot-infected-first1000.ssh.log", 0, 1000, nil},
		{"normal-mixed-ctu-normal-40-day1.conn.log.labeled", 5663, 0, nil},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			c, st := readFixture(t, tc.file)
			if st.Conn != tc.conn || st.SSH != tc.ssh || st.Malformed != 0 {
				t.Errorf("stats %+v, want conn %d ssh %d malformed 0", st, tc.conn, tc.ssh)
			}
			if tc.check != nil && len(c.Records) > 0 {
				tc.check(t, c)
			}
		})
	}
}

func TestDNSLog(t *testing.T) {
	tsv := "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n" +
		"#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tquery\tanswers\n" +
		"1700000000.5\tC1\t192.168.1.9\t5353\t192.168.1.1\t53\tudp\tCnC.Evil.example.\tcdn.example,203.0.113.7,2001:db8::7\n" +
		"1700000001.5\tC2\t192.168.1.9\t5353\t192.168.1.1\t53\tudp\tnothing.example\t-\n"
	js := `{"ts":1700000000.5,"uid":"C1","id.orig_h":"192.168.1.9","id.orig_p":5353,"id.resp_h":"192.168.1.1","id.resp_p":53,"proto":"udp","query":"cnc.evil.example","answers":["cdn.example","203.0.113.7","2001:db8::7"]}` + "\n"
	for name, in := range map[string]string{"tsv": tsv, "json": js} {
		c := &synth.Collect{}
		st, err := Read(context.Background(), strings.NewReader(in), c)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Answers) != 2 || c.Answers[0].Name != "cnc.evil.example" || c.Answers[0].Addr != synth.Addr("203.0.113.7") || st.DNS != 2 {
			t.Errorf("%s: answers %+v stats %+v", name, c.Answers, st)
		}
		if len(c.Records) != 0 {
			t.Errorf("%s: dns.log produced flow records", name)
		}
	}
}

func TestMalformed(t *testing.T) {
	in := "#separator \\x09\n#fields\tts\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tconn_state\n" +
		"1.5\t10.0.0.1\t1\t10.0.0.2\t23\ttcp\tS0\n" +
		"x\t10.0.0.1\t1\t10.0.0.2\t23\ttcp\tS0\n" + // bad ts
		"1.5\tnot-an-ip\t1\t10.0.0.2\t23\ttcp\tS0\n" +
		"1.5\t10.0.0.1\t99999\t10.0.0.2\t23\ttcp\tS0\n" + // bad port
		"1.5\t10.0.0.1\n" + // short row
		"{broken json\n"
	c := &synth.Collect{}
	st, err := Read(context.Background(), strings.NewReader(in), c)
	if err != nil {
		t.Fatal(err)
	}
	if st.Conn != 1 || st.Malformed != 5 {
		t.Errorf("stats %+v, want 1 conn and 5 malformed", st)
	}
	if _, err := Read(context.Background(), strings.NewReader("hello world\n"), c); err == nil {
		t.Error("plain text accepted as a Zeek log")
	}
}

func FuzzRead(f *testing.F) {
	for _, name := range []string{"ssh-honeypot-rpi.conn.log", "ssh-honeypot-rpi.ssh.log"} {
		if b, err := os.ReadFile(filepath.Join(fixtures, name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"ts":1599755438.57,"id.orig_h":"63.143.42.242","id.orig_p":54488,"id.resp_h":"192.168.1.194","id.resp_p":22,"auth_attempts":3}` + "\n"))
	f.Add([]byte("#separator \\x2c\n#fields,ts,query,answers\n1.0,a.example,1.2.3.4\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &synth.Collect{}
		st, _ := Read(context.Background(), strings.NewReader(string(data)), c)
		if int64(len(c.Records)) != st.Conn+st.SSH {
			t.Fatalf("records %d != conn %d + ssh %d", len(c.Records), st.Conn, st.SSH)
		}
	})
}

func BenchmarkReadJSON(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(fixtures, "portscan-nmap.conn.log"))
	if err != nil {
		b.Skip(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Read(context.Background(), strings.NewReader(string(data)), &synth.Collect{}); err != nil {
			b.Fatal(err)
		}
	}
}
