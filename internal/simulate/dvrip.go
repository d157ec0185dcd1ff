package simulate

import (
	"io"
	"math/rand/v2"
	"net"
	"strconv"

	"iotwatch/internal/wire/dvrip"
)

// dvripTries is the attempts a simulated recorder reports left after a
// wrong password (it never locks).
const dvripTries = 5

// serveDVRIP answers Dahua DVRIP (port 37777): the 0xa1 identification
// query gets an 0xb1 header; a challenge request gets "Login to <serial>"
// and a random number; a log-in is judged against the unit's one account
// with the same digests the client computes (wire/dvrip), answered with
// the result code (accepted, wrong password, unknown user). Any other
// command ends the connection, as a recorder drops a client that has not
// logged in.
func serveDVRIP(c net.Conn, s *deviceService) {
	var ch dvrip.Challenge
	for {
		var h [dvrip.HeaderLen]byte
		if _, err := io.ReadFull(c, h[:]); err != nil {
			return
		}
		var out []byte
		switch {
		case h[0] == dvrip.CmdQuery:
			out = dvrip.Answer(nil)
		case dvrip.IsChallengeRequest(h[:]):
			ch = dvrip.Challenge{Realm: "Login to " + s.dev.serial, Random: strconv.FormatUint(uint64(rand.Uint32()), 10)}
			out = dvrip.ChallengeReply(ch)
		case dvrip.IsLoginRequest(h[:]) && ch.Random != "":
			hd, err := dvrip.ParseHeader(h[:])
			if err != nil {
				return
			}
			data := make([]byte, hd.DataLen)
			if _, err := io.ReadFull(c, data); err != nil {
				return
			}
			r := dvrip.LoginReply{Code: dvrip.CheckLogin(data, s.cred.Username, s.cred.Password, ch)}
			switch r.Code {
			case dvrip.ResultOK:
				r.Session = 0x2f00 + uint32(s.dev.addr.As4()[3])
			case dvrip.ResultBadPassword:
				r.Left = dvripTries
			}
			ch = dvrip.Challenge{} // one log-in per challenge
			out = dvrip.LoginResult(r)
		default:
			return
		}
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}
