package distro

import "strings"

// Dpkg compares two Debian package versions as dpkg --compare-versions
// does (Debian Policy 5.6.12): epoch numerically, then upstream version and
// revision with verrevcmp, where "~" sorts before everything (even the end),
// letters before other characters, and digit runs compare numerically.
func Dpkg(a, b string) int {
	ea, ua, ra := splitDeb(a)
	eb, ub, rb := splitDeb(b)
	if c := cmpDigits(ea, eb); c != 0 {
		return c
	}
	if c := verrevcmp(ua, ub); c != 0 {
		return c
	}
	return verrevcmp(ra, rb)
}

// splitDeb splits [epoch:]upstream[-revision].
func splitDeb(v string) (epoch, upstream, rev string) {
	v = strings.TrimSpace(v)
	epoch = "0"
	if hasEpoch(v) {
		i := strings.IndexByte(v, ':')
		epoch, v = v[:i], v[i+1:]
	}
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		return epoch, v[:i], v[i+1:]
	}
	return epoch, v, ""
}

func cmpDigits(a, b string) int {
	a = strings.TrimLeft(a, "0")
	b = strings.TrimLeft(b, "0")
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return strings.Compare(a, b)
}

// order is dpkg's weight of a non-digit character.
func order(c byte) int {
	switch {
	case c == '~':
		return -1
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		return int(c)
	}
	return int(c) + 256
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func verrevcmp(a, b string) int {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for i < len(a) && !isDigit(a[i]) || j < len(b) && !isDigit(b[j]) {
			oa, ob := 0, 0 // a digit or the end weighs 0
			na := i < len(a) && !isDigit(a[i])
			nb := j < len(b) && !isDigit(b[j])
			if na {
				oa = order(a[i])
			}
			if nb {
				ob = order(b[j])
			}
			if oa != ob {
				if oa < ob {
					return -1
				}
				return 1
			}
			if na {
				i++
			}
			if nb {
				j++
			}
		}
		si := i
		for i < len(a) && isDigit(a[i]) {
			i++
		}
		sj := j
		for j < len(b) && isDigit(b[j]) {
			j++
		}
		if c := cmpDigits(a[si:i], b[sj:j]); c != 0 {
			return c
		}
	}
	return 0
}
