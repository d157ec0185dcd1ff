package simulate

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"golang.org/x/crypto/ssh"
)

// sshConfig builds the server configuration for one device service: its
// version string and the one password it accepts (password and
// keyboard-interactive auth).
func (f *Fleet) sshConfig(s *deviceService) *ssh.ServerConfig {
	check := func(user, pass string) error {
		if s.accepts(user, pass) {
			return nil
		}
		return errors.New("permission denied")
	}
	cfg := &ssh.ServerConfig{
		ServerVersion: s.banner(),
		MaxAuthTries:  6,
		PasswordCallback: func(m ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			return nil, check(m.User(), string(pw))
		},
		KeyboardInteractiveCallback: func(m ssh.ConnMetadata, ch ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
			ans, err := ch("", "", []string{"Password: "}, []bool{false})
			if err != nil {
				return nil, err
			}
			if len(ans) != 1 {
				return nil, errors.New("permission denied")
			}
			return nil, check(m.User(), ans[0])
		},
	}
	if !strings.HasPrefix(cfg.ServerVersion, "SSH-2.0-") {
		cfg.ServerVersion = "SSH-2.0-dropbear_2019.78"
	}
	if s.hostKey != nil {
		cfg.AddHostKey(s.hostKey)
	} else {
		for _, k := range f.hostKeys {
			cfg.AddHostKey(k)
		}
	}
	return cfg
}

// serveSSH runs one SSH connection: auth, then sessions with a tiny shell.
func (f *Fleet) serveSSH(c net.Conn, s *deviceService) {
	sc, chans, reqs, err := ssh.NewServerConn(c, f.sshConfig(s))
	if err != nil {
		return
	}
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "unsupported channel type")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		go sshSession(ch, creqs, s)
	}
}

func sshSession(ch ssh.Channel, reqs <-chan *ssh.Request, s *deviceService) {
	defer ch.Close()
	for req := range reqs {
		switch req.Type {
		case "pty-req", "env", "window-change":
			req.Reply(true, nil)
		case "exec":
			var p struct{ Command string }
			if ssh.Unmarshal(req.Payload, &p) != nil {
				req.Reply(false, nil)
				return
			}
			req.Reply(true, nil)
			if cmd := strings.Fields(p.Command); len(cmd) > 0 {
				fmt.Fprint(ch, strings.ReplaceAll(shellOutput(s, cmd), "\r\n", "\n"))
			}
			ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{0}))
			return
		case "shell":
			req.Reply(true, nil)
			tr := newTelnetReader(ch)
			for {
				fmt.Fprint(ch, "# ")
				line, err := tr.readLine()
				if err != nil {
					return
				}
				cmd := strings.Fields(line)
				if len(cmd) == 0 {
					continue
				}
				if cmd[0] == "exit" || cmd[0] == "logout" {
					ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{0}))
					return
				}
				fmt.Fprint(ch, shellOutput(s, cmd))
			}
		default:
			req.Reply(false, nil)
		}
	}
}
