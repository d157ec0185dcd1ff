package simulate

import (
	"bufio"
	"fmt"
	"net"
	"strings"

	"iotwatch/internal/wire"
	wireftp "iotwatch/internal/wire/ftp"
)

// serveFTP emulates a small FTP server: banner, USER/PASS (anonymous when
// the device allows it), SYST, FEAT, PWD, TYPE, NOOP, QUIT. Data
// connections are refused (425), which is enough for banner grabbing and
// login audits.
func serveFTP(c net.Conn, s *deviceService) {
	r := bufio.NewReaderSize(c, 1024)
	w := bufio.NewWriter(c)
	banner := s.banner()
	if !strings.HasPrefix(banner, "220") {
		banner = "220 " + banner
	}
	reply := func(format string, a ...any) bool {
		fmt.Fprintf(w, format+"\r\n", a...)
		return w.Flush() == nil
	}
	if !reply("%s", banner) {
		return
	}
	var user string
	loggedIn := false
	fails := 0
	for {
		line, err := wire.ReadLine(r, maxLine)
		if err != nil {
			return
		}
		verb, arg := wireftp.ParseCommand(line)
		var ok bool
		switch verb {
		case "USER":
			user, loggedIn = arg, false
			ok = reply("331 Please specify the password.")
		case "PASS":
			switch {
			case user == "":
				ok = reply("503 Login with USER first.")
			case s.accepts(user, arg):
				loggedIn = true
				ok = reply("230 Login successful.")
			default:
				fails++
				ok = reply("530 Login incorrect.")
				if fails >= 3 {
					return
				}
			}
		case "QUIT":
			reply("221 Goodbye.")
			return
		case "FEAT":
			ok = reply("211-Features:\r\n EPSV\r\n PASV\r\n SIZE\r\n UTF8\r\n211 End")
		case "SYST":
			ok = reply("215 UNIX Type: L8")
		case "NOOP":
			ok = reply("200 NOOP ok.")
		case "OPTS":
			ok = reply("200 Always in UTF8 mode.")
		case "AUTH":
			ok = reply("530 Please login with USER and PASS.")
		default:
			if !loggedIn {
				ok = reply("530 Please login with USER and PASS.")
				break
			}
			switch verb {
			case "PWD", "XPWD":
				ok = reply(`257 "/" is the current directory`)
			case "CWD":
				ok = reply("250 Directory successfully changed.")
			case "TYPE":
				ok = reply("200 Switching to Binary mode.")
			case "PASV", "EPSV", "PORT", "EPRT", "LIST", "NLST", "RETR", "STOR", "MLSD":
				ok = reply("425 Use PORT or PASV first.")
			default:
				ok = reply("500 Unknown command.")
			}
		}
		if !ok {
			return
		}
	}
}
