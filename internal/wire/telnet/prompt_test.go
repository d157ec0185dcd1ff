package telnet

import "testing"

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want Prompt
	}{
		{"gnu login", "\r\nvm login: ", PromptLogin},
		{"busybox login", "\r\n(none) login: ", PromptLogin},
		{"username", "Username: ", PromptLogin},
		{"user name caps", "User Name:", PromptLogin},
		{"password", "Password: ", PromptPassword},
		{"passwd", "passwd:", PromptPassword},
		{"busybox root shell", "\r\n\r\nBusyBox v1.20.2 (2017-08-14) built-in shell (ash)\r\nEnter 'help' for a list of built-in commands.\r\n\r\n# ", PromptShell},
		{"tilde shell", "~ # ", PromptShell},
		{"bracket shell", "[root@cam ~]# ", PromptShell},
		{"dollar", "$ ", PromptShell},
		{"cisco exec", "\r\nRouter>", PromptShell},
		{"zte cli", "ZXHN H108N> ", PromptShell},
		{"gnu failure", "\r\nLogin incorrect\r\nvm login: ", PromptFailure},
		{"failure no prompt", "Login incorrect\r\n", PromptFailure},
		{"access denied", "% Access denied\r\n\r\nUsername: ", PromptFailure},
		{"throttle", "Too many login attempts, try again later\r\n", PromptThrottle},
		{"locked", "Account is locked\r\n", PromptThrottle},
		{"motd line", "The programs included with Debian are free software;\r\n", PromptNone},
		{"partial login", "vm login", PromptNone},
		{"empty", "", PromptNone},
		{"html", "<html><body>hello</body></html>\r\n", PromptNone},
		{"percent", "user@host% ", PromptShell},
		{"bare greater", "> ", PromptShell},
		{"motd then shell", "Last login: Tue Nov 24 10:00:00 2026\r\n$ ", PromptShell},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify([]byte(tt.out)); got != tt.want {
				t.Errorf("Classify(%q) = %v, want %v", tt.out, got, tt.want)
			}
		})
	}
}

func FuzzClassify(f *testing.F) {
	for _, s := range []string{"vm login: ", "Password: ", "# ", "Login incorrect\r\nlogin: ", "\xff\xfb\x01", "Too many attempts", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p := Classify(b)
		if p < PromptNone || p > PromptThrottle {
			t.Fatalf("Classify returned %d", p)
		}
		_ = p.String()
	})
}

func BenchmarkClassify(b *testing.B) {
	motd := []byte("Linux vm 6.1\r\n\r\nThe programs included with the Debian GNU/Linux system are free software;\r\n" +
		"the exact distribution terms for each program are described in the\r\nindividual files in /usr/share/doc/*/copyright.\r\n$ ")
	b.ReportAllocs()
	for b.Loop() {
		if Classify(motd) != PromptShell {
			b.Fatal("not a shell")
		}
	}
}
