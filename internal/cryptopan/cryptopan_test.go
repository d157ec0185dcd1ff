package cryptopan

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// refKey is the key of the sample shipped with the Crypto-PAn reference
// implementation (Jinliang Fan, Georgia Tech, 2002).
var refKey = []byte{21, 34, 23, 141, 51, 164, 207, 128, 19, 10, 91, 22, 73, 144, 125, 16,
	216, 152, 143, 131, 121, 121, 101, 39, 98, 87, 76, 45, 42, 132, 34, 2}

// TestReferenceVectors checks the addresses of the reference distribution's
// sample_trace_raw.dat against sample_trace_sanitized.dat, as listed in
// github.com/Yawning/cryptopan cryptopan_test.go (BSD-2-Clause), with that
// implementation's IPv6 results (the same construction over 128 bits). The
// vectors are expected values of the test, not data files.
func TestReferenceVectors(t *testing.T) {
	a, err := New(refKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range [][2]string{
		{"128.11.68.132", "135.242.180.132"}, {"129.118.74.4", "134.136.186.123"},
		{"130.132.252.244", "133.68.164.234"}, {"141.223.7.43", "141.167.8.160"},
		{"141.233.145.108", "141.129.237.235"}, {"152.163.225.39", "151.140.114.167"},
		{"156.29.3.236", "147.225.12.42"}, {"165.247.96.84", "162.9.99.234"},
		{"166.107.77.190", "160.132.178.185"}, {"192.102.249.13", "252.138.62.131"},
		{"192.215.32.125", "252.43.47.189"}, {"192.233.80.103", "252.25.108.8"},
		{"192.41.57.43", "252.222.221.184"}, {"193.150.244.223", "253.169.52.216"},
		{"195.205.63.100", "255.186.223.5"}, {"198.200.171.101", "249.199.68.213"},
		{"198.26.132.101", "249.36.123.202"}, {"198.36.213.5", "249.7.21.132"},
		{"198.51.77.238", "249.18.186.254"}, {"199.217.79.101", "248.38.184.213"},
		{"202.49.198.20", "245.206.7.234"}, {"203.12.160.252", "244.248.163.4"},
		{"204.184.162.189", "243.192.77.90"}, {"204.202.136.230", "243.178.4.198"},
		{"204.29.20.4", "243.33.20.123"}, {"205.178.38.67", "242.108.198.51"},
		{"205.188.147.153", "242.96.16.101"}, {"205.188.248.25", "242.96.88.27"},
		{"205.245.121.43", "242.21.121.163"}, {"207.105.49.5", "241.118.205.138"},
		{"207.135.65.238", "241.202.129.222"}, {"207.155.9.214", "241.220.250.22"},
		{"207.188.7.45", "241.255.249.220"}, {"207.25.71.27", "241.33.119.156"},
		{"207.33.151.131", "241.1.233.131"}, {"208.147.89.59", "227.237.98.191"},
		{"208.234.120.210", "227.154.67.17"}, {"208.28.185.184", "227.39.94.90"},
		{"208.52.56.122", "227.8.63.165"}, {"209.12.231.7", "226.243.167.8"},
		{"209.238.72.3", "226.6.119.243"}, {"209.246.74.109", "226.22.124.76"},
		{"209.68.60.238", "226.184.220.233"}, {"209.85.249.6", "226.170.70.6"},
		{"212.120.124.31", "228.135.163.231"}, {"212.146.8.236", "228.19.4.234"},
		{"212.186.227.154", "228.59.98.98"}, {"212.204.172.118", "228.71.195.169"},
		{"212.206.130.201", "228.69.242.193"}, {"216.148.237.145", "235.84.194.111"},
		{"216.157.30.252", "235.89.31.26"}, {"216.184.159.48", "235.96.225.78"},
		{"216.227.10.221", "235.28.253.36"}, {"216.254.18.172", "235.7.16.162"},
		{"216.32.132.250", "235.192.139.38"}, {"216.35.217.178", "235.195.157.81"},
		{"24.0.250.221", "100.15.198.226"}, {"24.13.62.231", "100.2.192.247"},
		{"24.14.213.138", "100.1.42.141"}, {"24.5.0.80", "100.9.15.210"},
		{"24.7.198.88", "100.10.6.25"}, {"24.94.26.44", "100.88.228.35"},
		{"38.15.67.68", "64.3.66.187"}, {"4.3.88.225", "124.60.155.63"},
		{"63.14.55.111", "95.9.215.7"}, {"63.195.241.44", "95.179.238.44"},
		{"63.97.7.140", "95.97.9.123"}, {"64.14.118.196", "0.255.183.58"},
		{"64.34.154.117", "0.221.154.117"}, {"64.39.15.238", "0.219.7.41"},
		{"10.185.25.118", "117.161.29.118"},
		{"::1", "78ff:f001:9fc0:20df:8380:b1f1:704:ed"},
		{"::2", "78ff:f001:9fc0:20df:8380:b1f1:704:ef"},
		{"::ffff", "78ff:f001:9fc0:20df:8380:b1f1:704:f838"},
		{"2001:db8::1", "4401:2bc:603f:d91d:27f:ff8e:e6f1:dc1e"},
		{"2001:db8::2", "4401:2bc:603f:d91d:27f:ff8e:e6f1:dc1c"},
	} {
		in, want := netip.MustParseAddr(v[0]), netip.MustParseAddr(v[1])
		if got := a.Addr(in); got != want {
			t.Errorf("Addr(%s) = %s, want %s", in, got, want)
		}
	}
	if got := a.Addr(netip.MustParseAddr("::ffff:128.11.68.132")); got != netip.MustParseAddr("135.242.180.132") {
		t.Errorf("an IPv4-mapped address gives %s, want the IPv4 pseudonym", got)
	}
	if _, err := New(refKey[:16]); err == nil {
		t.Error("a 16-byte key was accepted")
	}
}

// commonBits is the length of the longest common prefix of a and b.
func commonBits(a, b netip.Addr) int {
	x, y := a.AsSlice(), b.AsSlice()
	for i := range x {
		if d := x[i] ^ y[i]; d != 0 {
			n := i * 8
			for d&0x80 == 0 {
				d <<= 1
				n++
			}
			return n
		}
	}
	return len(x) * 8
}

// TestPrefixPreserving: the pseudonyms of any two addresses share exactly as
// many leading bits as the addresses do, and prefixes map onto prefixes.
func TestPrefixPreserving(t *testing.T) {
	a, err := New(refKey)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		var x, y [16]byte
		for i := range x {
			x[i] = byte(rng.Uint32())
		}
		y = x
		flip := rng.IntN(128)
		y[flip/8] ^= 0x80 >> (flip % 8)
		for i := flip/8 + 1; i < 16; i++ {
			y[i] = byte(rng.Uint32())
		}
		for _, pair := range [][2]netip.Addr{
			{netip.AddrFrom16(x), netip.AddrFrom16(y)},
			{netip.AddrFrom4([4]byte(x[:4])), netip.AddrFrom4([4]byte(y[:4]))},
		} {
			p, q := a.Addr(pair[0]), a.Addr(pair[1])
			if got, want := commonBits(p, q), commonBits(pair[0], pair[1]); got != want {
				t.Fatalf("%s, %s share %d bits; pseudonyms %s, %s share %d", pair[0], pair[1], want, p, q, got)
			}
		}
	}
	net := netip.MustParsePrefix("10.20.30.0/24")
	pn := a.Prefix(net)
	if pn.Bits() != 24 || pn.Contains(netip.MustParseAddr("10.20.30.1")) {
		t.Errorf("Prefix(%s) = %s", net, pn)
	}
	for _, h := range []string{"10.20.30.1", "10.20.30.77", "10.20.30.254"} {
		if !pn.Contains(a.Addr(netip.MustParseAddr(h))) {
			t.Errorf("%s's pseudonym %s is outside %s", h, a.Addr(netip.MustParseAddr(h)), pn)
		}
	}
}

// FuzzAddr: any address maps to a valid address of its family, the same
// every time, and distinct addresses stay distinct.
func FuzzAddr(f *testing.F) {
	a, err := New(refKey)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte{10, 0, 0, 1}, []byte{10, 0, 0, 2})
	f.Add(make([]byte, 16), []byte{0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, x, y []byte) {
		ax, ok1 := netip.AddrFromSlice(x)
		ay, ok2 := netip.AddrFromSlice(y)
		if !ok1 || !ok2 {
			return
		}
		px, py := a.Addr(ax), a.Addr(ay)
		if !px.IsValid() || px.Is4() != ax.Unmap().Is4() || a.Addr(ax) != px {
			t.Fatalf("Addr(%s) = %s", ax, px)
		}
		if ax.Unmap() != ay.Unmap() && px == py {
			t.Fatalf("%s and %s share the pseudonym %s", ax, ay, px)
		}
		if ax.Unmap().Is4() == ay.Unmap().Is4() && commonBits(px, py) != commonBits(ax.Unmap(), ay.Unmap()) {
			t.Fatalf("prefix not preserved: %s %s → %s %s", ax, ay, px, py)
		}
	})
}
