package secrets

import (
	"bufio"
	"context"
	"crypto/subtle"
	_ "embed"
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openwall/yescrypt-go"
	"github.com/sergeymakinen/go-crypt/bcrypt"
	"github.com/sergeymakinen/go-crypt/des"
	"github.com/sergeymakinen/go-crypt/md5"
	"github.com/sergeymakinen/go-crypt/sha256"
	"github.com/sergeymakinen/go-crypt/sha512"
)

//go:embed wordlist.txt
var wordlistTxt string

// DefaultWords returns the embedded default-password list, most common first.
func DefaultWords() []string {
	var out []string
	for _, l := range strings.Split(wordlistTxt, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// Account is a login of the firmware's /etc/passwd (with /etc/shadow).
type Account struct {
	User     string `json:"user"`
	UID      int    `json:"uid"`
	Shell    string `json:"shell,omitempty"`
	Source   string `json:"source"`              // file the hash came from
	Hash     string `json:"hash,omitempty"`      // raw crypt(3) hash
	HashType string `json:"hash_type,omitempty"` // des, md5crypt, sha256crypt, sha512crypt, bcrypt, yescrypt, …
	Empty    bool   `json:"empty,omitempty"`     // no password at all
	Locked   bool   `json:"locked,omitempty"`
	Cracked  bool   `json:"cracked,omitempty"`
	Password string `json:"password,omitempty"` // the cracked password (raw)
}

// CanLogin reports whether the account has a login shell.
func (a Account) CanLogin() bool {
	return !strings.HasSuffix(a.Shell, "nologin") && !strings.HasSuffix(a.Shell, "/false")
}

// CrackStat says how cracking went.
type CrackStat struct {
	Hashes    int           `json:"hashes"`
	Cracked   int           `json:"cracked"`
	Tries     int64         `json:"tries"`
	Elapsed   time.Duration `json:"elapsed_ns"`
	OutOfTime bool          `json:"out_of_time,omitempty"`
	Skipped   []string      `json:"skipped,omitempty"` // hash types without a cracker
}

func hashType(h string) string {
	switch {
	case strings.HasPrefix(h, "$1$"):
		return "md5crypt"
	case strings.HasPrefix(h, "$5$"):
		return "sha256crypt"
	case strings.HasPrefix(h, "$6$"):
		return "sha512crypt"
	case strings.HasPrefix(h, "$2a$"), strings.HasPrefix(h, "$2b$"), strings.HasPrefix(h, "$2y$"), strings.HasPrefix(h, "$2$"):
		return "bcrypt"
	case strings.HasPrefix(h, "$y$"):
		return "yescrypt"
	case strings.HasPrefix(h, "$"):
		return "unknown"
	case len(h) == 13:
		return "des"
	}
	return "unknown"
}

// checkYescrypt verifies a yescrypt crypt(3) hash ("$y$…", the default of
// Debian 11+, Fedora 35+ and recent Buildroot/Yocto images) with Openwall's
// reference Go implementation. Each try costs what the hash's parameters
// say (Debian's j9T: 16 MiB, tens of milliseconds), so the crack budget
// reaches fewer words than for md5crypt; the breadth-first order still gives
// every hash its likeliest words first.
func checkYescrypt(hash, pw string) error {
	got, err := yescrypt.Hash([]byte(pw), []byte(hash))
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(got, []byte(hash)) == 1 {
		return nil
	}
	return errMismatch
}

// checkers are the crypt(3) verifiers, called directly rather than through
// go-crypt's global registry.
var checkers = map[string]func(hash, password string) error{
	"md5crypt": md5.Check, "sha256crypt": sha256.Check, "sha512crypt": sha512.Check,
	"bcrypt": bcrypt.Check, "des": des.Check, "nthash": checkNT, "yescrypt": checkYescrypt,
}

var errMismatch = errors.New("password mismatch")

func readLines(f File) []string {
	fh, err := os.Open(f.Host)
	if err != nil {
		return nil
	}
	defer fh.Close()
	var out []string
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 4096), 64<<10)
	for sc.Scan() && len(out) < 10000 {
		out = append(out, sc.Text())
	}
	return out
}

// accounts merges passwd and shadow files (each passwd with the shadow of
// the same filesystem, by directory prefix).
func accounts(passwd, shadow []File) []Account {
	var out []Account
	for _, p := range passwd {
		prefix := strings.TrimSuffix(p.Host, "/etc/passwd")
		hashes := map[string]string{}
		shadowPath := ""
		for _, s := range shadow {
			if strings.TrimSuffix(s.Host, "/etc/shadow") == prefix {
				shadowPath = s.Path
				for _, l := range readLines(s) {
					f := strings.Split(l, ":")
					if len(f) >= 2 {
						hashes[f[0]] = f[1]
					}
				}
			}
		}
		for _, l := range readLines(p) {
			f := strings.Split(l, ":")
			if len(f) < 7 || f[0] == "" || strings.HasPrefix(f[0], "#") {
				continue
			}
			uid, _ := strconv.Atoi(f[2])
			a := Account{User: f[0], UID: uid, Shell: f[6], Source: p.Path}
			h := f[1]
			if h == "x" {
				sh, ok := hashes[f[0]]
				if !ok {
					continue // shadowed elsewhere: nothing known
				}
				h, a.Source = sh, shadowPath
			}
			switch {
			case h == "":
				a.Empty = true
			case strings.HasPrefix(h, "!") || strings.HasPrefix(h, "*") || h == "x":
				a.Locked = true
			default:
				a.Hash, a.HashType = h, hashType(h)
			}
			out = append(out, a)
		}
	}
	return out
}

// crack tries, per hash: the user name, then the word list, in parallel
// across hashes and words, until the budget is spent.
func crack(ctx context.Context, accts []Account, opts Options) CrackStat {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, opts.CrackBudget)
	defer cancel()
	words := append(DefaultWords(), opts.Words...)
	st := CrackStat{}
	type job struct {
		i    int
		word string
	}
	jobs := make(chan job)
	var tries atomic.Int64
	var mu sync.Mutex
	done := make([]atomic.Bool, len(accts))
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	if crackWorkers > 0 {
		workers = crackWorkers
	}
	for range max(1, workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if done[j.i].Load() {
					continue
				}
				a := &accts[j.i]
				tries.Add(1)
				if checkers[a.HashType](a.Hash, j.word) == nil {
					done[j.i].Store(true)
					mu.Lock()
					a.Cracked, a.Password = true, j.word
					mu.Unlock()
				}
			}
		}()
	}
	skipped := map[string]bool{}
	var idx []int
	for i, a := range accts {
		if a.Hash == "" {
			continue
		}
		st.Hashes++
		if checkers[a.HashType] == nil {
			skipped[a.HashType] = true
			continue
		}
		idx = append(idx, i)
	}
	// Breadth first: every hash gets its likeliest words before any gets the tail.
	users := make([]string, len(accts)) // read here, not from accts, which workers write
	for i, a := range accts {
		users[i] = a.User
	}
	// Candidate w for hash i: the user name first, then the word list.
	cand := func(i, w int) (string, bool) {
		if w == 0 {
			return users[i], true
		}
		if w-1 < len(words) {
			return words[w-1], true
		}
		return "", false
	}
feed:
	for w := 0; ; w++ {
		any := false
		for _, i := range idx {
			word, ok := cand(i, w)
			if !ok || done[i].Load() {
				continue
			}
			any = true
			select {
			case jobs <- job{i, word}:
			case <-ctx.Done():
				st.OutOfTime = true
				break feed
			}
		}
		if !any {
			break
		}
	}
	close(jobs)
	wg.Wait()
	for t := range skipped {
		st.Skipped = append(st.Skipped, t)
	}
	for _, a := range accts {
		if a.Cracked {
			st.Cracked++
		}
	}
	st.Tries = tries.Load()
	st.Elapsed = time.Since(start)
	return st
}
