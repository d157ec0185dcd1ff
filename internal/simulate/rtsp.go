package simulate

import (
	"bufio"
	"errors"
	"fmt"
	"net"

	wirertsp "iotwatch/internal/wire/rtsp"
)

// serveRTSP answers OPTIONS without auth and DESCRIBE with Basic or Digest
// auth as the profile says, returning an SDP for the main stream.
func serveRTSP(c net.Conn, s *deviceService) {
	r := bufio.NewReaderSize(c, 2048)
	w := bufio.NewWriter(c)
	server := s.banner()
	for {
		req, err := wirertsp.ReadRequest(r)
		if err != nil {
			if errors.Is(err, wirertsp.ErrBadRequest) {
				fmt.Fprintf(w, "RTSP/1.0 400 Bad Request\r\nServer: %s\r\n\r\n", server)
				w.Flush()
			}
			return
		}
		cseq := req.Header["cseq"]
		head := func(status string) {
			fmt.Fprintf(w, "RTSP/1.0 %s\r\nCSeq: %s\r\nServer: %s\r\n", status, cseq, server)
		}
		switch req.Method {
		case "OPTIONS":
			head("200 OK")
			w.WriteString("Public: OPTIONS, DESCRIBE, SETUP, TEARDOWN, PLAY, PAUSE, GET_PARAMETER, SET_PARAMETER\r\n\r\n")
		case "DESCRIBE", "SETUP", "PLAY", "TEARDOWN", "GET_PARAMETER":
			if !rtspAuthorized(req, s) {
				head("401 Unauthorized")
				if s.sp.Auth == "digest" {
					fmt.Fprintf(w, "WWW-Authenticate: %s\r\n\r\n", digestChallenge(s))
				} else {
					fmt.Fprintf(w, "WWW-Authenticate: Basic realm=\"%s\"\r\n\r\n", s.realm)
				}
				break
			}
			if req.Method != "DESCRIBE" {
				head("455 Method Not Valid in This State")
				w.WriteString("\r\n")
				break
			}
			sdp := rtspSDP(s)
			head("200 OK")
			fmt.Fprintf(w, "Content-Type: application/sdp\r\nContent-Base: %s/\r\nContent-Length: %d\r\n\r\n%s", req.URI, len(sdp), sdp)
		default:
			head("501 Not Implemented")
			w.WriteString("\r\n")
		}
		if w.Flush() != nil {
			return
		}
	}
}

func rtspAuthorized(req *wirertsp.Request, s *deviceService) bool {
	h := req.Header["authorization"]
	if s.sp.Auth == "digest" {
		return digestOK(h, req.Method, s)
	}
	u, p, ok := parseBasic(h)
	return ok && s.accepts(u, p)
}

func rtspSDP(s *deviceService) string {
	a := s.dev.addr.String()
	return "v=0\r\n" +
		fmt.Sprintf("o=- 1 1 IN IP4 %s\r\n", a) +
		fmt.Sprintf("s=%s\r\n", s.dev.prof.Model) +
		fmt.Sprintf("i=%s %s\r\n", s.dev.prof.Vendor, s.dev.prof.Firmware) +
		"t=0 0\r\na=control:*\r\n" +
		"m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:trackID=1\r\n"
}
