package simulate

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	wiretelnet "iotwatch/internal/wire/telnet"
)

// telnetGreeting is what BusyBox telnetd sends first: DO ECHO, DO NAWS, WILL ECHO, WILL SGA.
var telnetGreeting = []byte{wiretelnet.IAC, wiretelnet.DO, 1, wiretelnet.IAC, wiretelnet.DO, 31,
	wiretelnet.IAC, wiretelnet.WILL, 1, wiretelnet.IAC, wiretelnet.WILL, 3}

// errLineTooLong is returned for input lines over maxLine bytes.
var errLineTooLong = errors.New("line too long")

const maxLine = 1024

// telnetReader reads lines from a telnet stream; the client's option
// negotiation is decoded (wire/telnet) and ignored.
type telnetReader struct {
	r       *wiretelnet.Reader
	afterCR bool // the last line ended with CR: a LF or NUL right after it belongs to it
}

func newTelnetReader(r io.Reader) *telnetReader {
	return &telnetReader{r: wiretelnet.NewReader(r, nil)}
}

// readLine returns the next line without its terminator (CR LF, CR NUL, CR or LF).
func (t *telnetReader) readLine() (string, error) {
	var b []byte
	for {
		c, err := t.r.ReadByte()
		if err != nil {
			if err == io.EOF && len(b) > 0 {
				return string(b), nil
			}
			return "", err
		}
		if t.afterCR {
			t.afterCR = false
			if c == '\n' || c == 0 {
				continue
			}
		}
		switch c {
		case '\r':
			t.afterCR = true
			return string(b), nil
		case '\n':
			return string(b), nil
		case 0:
			continue
		}
		if len(b) >= maxLine {
			return "", errLineTooLong
		}
		b = append(b, c)
	}
}

// serveTelnet emulates a BusyBox telnetd with login(1): login and password
// prompts, "Login incorrect" on failure (3 tries) and an ash prompt after success.
func serveTelnet(c net.Conn, s *deviceService) {
	w := bufio.NewWriter(c)
	tr := newTelnetReader(c)
	w.Write(telnetGreeting)
	banner := s.banner()
	busybox := strings.HasPrefix(banner, "BusyBox")
	if !busybox && banner != "" {
		fmt.Fprintf(w, "\r\n%s\r\nFirmware version : %s\r\nSerial No        : %s\r\n", banner, s.dev.prof.Firmware, s.dev.serial)
	}
	for try := 0; try < 3; try++ {
		fmt.Fprintf(w, "\r\n%s login: ", s.dev.hostname)
		if w.Flush() != nil {
			return
		}
		user, err := tr.readLine()
		if err != nil {
			return
		}
		fmt.Fprintf(w, "%s\r\nPassword: ", user)
		if w.Flush() != nil {
			return
		}
		pass, err := tr.readLine()
		if err != nil {
			return
		}
		w.WriteString("\r\n")
		if s.accepts(user, pass) {
			telnetShell(w, tr, s, banner, busybox)
			return
		}
		w.WriteString("Login incorrect\r\n")
	}
	w.Flush()
}

func telnetShell(w *bufio.Writer, tr *telnetReader, s *deviceService, banner string, busybox bool) {
	if busybox {
		fmt.Fprintf(w, "\r\n\r\n%s\r\nEnter 'help' for a list of built-in commands.\r\n\r\n", banner)
	}
	prompt := "# "
	if s.cred.Username != "root" {
		prompt = "$ "
	}
	for {
		w.WriteString(prompt)
		if w.Flush() != nil {
			return
		}
		line, err := tr.readLine()
		if err != nil {
			return
		}
		fmt.Fprintf(w, "%s\r\n", line)
		cmd := strings.Fields(line)
		if len(cmd) == 0 {
			continue
		}
		switch cmd[0] {
		case "exit", "logout", "quit":
			w.Flush()
			return
		default:
			w.WriteString(shellOutput(s, cmd))
		}
	}
}

// shellOutput answers a few commands scanners and bots run after login.
func shellOutput(s *deviceService, cmd []string) string {
	switch cmd[0] {
	case "uname":
		return fmt.Sprintf("Linux %s 3.10.14 #1 PREEMPT armv7l GNU/Linux\r\n", s.dev.hostname)
	case "id", "whoami":
		if s.cred.Username == "root" {
			return "uid=0(root) gid=0(root)\r\n"
		}
		return fmt.Sprintf("uid=1000(%s) gid=1000(%s)\r\n", s.cred.Username, s.cred.Username)
	case "cat":
		if len(cmd) > 1 && cmd[1] == "/proc/version" {
			return "Linux version 3.10.14 (gcc version 4.9.4) #1 PREEMPT\r\n"
		}
		return ""
	case "busybox", "/bin/busybox":
		if v := strings.Fields(s.banner()); len(v) >= 2 && v[0] == "BusyBox" {
			return fmt.Sprintf("%s %s multi-call binary.\r\n", v[0], v[1])
		}
	case "echo":
		return strings.Join(cmd[1:], " ") + "\r\n"
	case "help":
		return "Built-in commands:\r\n-------------------\r\n\t. : [ [[ cd echo exit help ls pwd\r\n"
	}
	return fmt.Sprintf("-sh: %s: not found\r\n", cmd[0])
}
