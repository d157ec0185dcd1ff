package telnet

import (
	"bytes"
	"regexp"
)

// Prompt is what the tail of a telnet server's output asks for.
type Prompt int

// Prompt kinds.
const (
	PromptNone     Prompt = iota // nothing recognisable yet: keep reading
	PromptLogin                  // asks for a user name
	PromptPassword               // asks for a password
	PromptShell                  // a shell or device CLI prompt: logged in
	PromptFailure                // the last credential was refused
	PromptThrottle               // the server says too many attempts / banned
)

var promptNames = [...]string{"none", "login", "password", "shell", "failure", "throttle"}

func (p Prompt) String() string {
	if int(p) < len(promptNames) {
		return promptNames[p]
	}
	return "unknown"
}

var (
	reLogin    = regexp.MustCompile(`(?i)(login|user ?name|user|account)\s*(\([^)]*\))?\s*[:>]\s*$`)
	rePassword = regexp.MustCompile(`(?i)(password|passwd|pass ?word|passcode|pin)\s*(\([^)]*\))?\s*[:>]\s*$`)
	// Shell prompts: BusyBox "# ", "~ # ", "[root@cam ~]# ", "$ ", Cisco-like
	// "Router>", "Router#", vendor CLIs "ZXHN> ", "DVR# ", "> ".
	reShell = regexp.MustCompile(`(^|[\s\]\)~/:@\w.-])[#$>%]\s*$`)
)

// Phrases (lower case) of a refused login and of throttling, searched in the
// lower-cased tail of the output.
var (
	failurePhrases = []string{"incorrect", "invalid user", "invalid login", "invalid password", "authentication fail",
		"access denied", "login fail", "bad password", "wrong password", "permission denied", "password is wrong",
		"error: user", "error: pass", "error:user", "error:pass"}
	blockedPhrases = []string{"too many login attempts", "too many authentication", "too many failed", "too many attempts",
		"too many failures", "too many tries", "too many connections", "temporarily locked", "temporarily blocked",
		"temporarily banned", "account locked", "account is locked", "try again later", "maximum number of"}
)

func containsAny(s []byte, phrases []string) bool {
	for _, p := range phrases {
		if bytes.Contains(s, []byte(p)) {
			return true
		}
	}
	return false
}

// tailBytes is how much of the output Classify searches for messages.
const tailBytes = 1024

// Classify reports what the server's output since the last input asks for.
// Only the last line decides prompts; failure and throttling phrases count
// anywhere in the last KiB of out. It never panics on arbitrary bytes.
func Classify(out []byte) Prompt {
	// Messages come right before the prompt: only the tail is searched,
	// which keeps repeated classification of a growing buffer cheap.
	tail := out
	if len(tail) > tailBytes {
		tail = tail[len(tail)-tailBytes:]
	}
	tail = bytes.ToLower(tail)
	if containsAny(tail, blockedPhrases) {
		return PromptThrottle
	}
	last := lastLine(out)
	failed := containsAny(tail, failurePhrases)
	switch {
	case rePassword.Match(last):
		if failed {
			return PromptFailure
		}
		return PromptPassword
	case reLogin.Match(last):
		if failed {
			return PromptFailure
		}
		return PromptLogin
	case failed:
		return PromptFailure
	case isShell(last):
		return PromptShell
	}
	return PromptNone
}

// isShell reports whether line looks like a shell or CLI prompt.
func isShell(line []byte) bool {
	t := bytes.TrimRight(line, " \t")
	if len(t) == 0 || len(t) > 80 {
		return false
	}
	return reShell.Match(line)
}

// lastLine returns the text after the last line break, or the last non-empty
// line when out ends with a line break.
func lastLine(out []byte) []byte {
	out = bytes.TrimRight(out, "\x00")
	trimmed := bytes.TrimRight(out, "\r\n")
	if len(trimmed) < len(out) {
		// A prompt is never followed by a newline; a line that ends
		// with one is output, not a prompt.
		return nil
	}
	if i := bytes.LastIndexAny(out, "\r\n"); i >= 0 {
		return out[i+1:]
	}
	return out
}
