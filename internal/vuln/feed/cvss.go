package feed

import (
	"math"
	"strings"
)

// BaseScore3 computes the CVSS v3.0/v3.1 base score of a vector such as
// "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" (OSV gives vectors without
// scores). It returns 0 for a vector it cannot read.
func BaseScore3(vector string) float64 {
	if !strings.HasPrefix(vector, "CVSS:3.") {
		return 0
	}
	m := map[string]string{}
	for _, part := range strings.Split(vector, "/")[1:] {
		k, v, ok := strings.Cut(part, ":")
		if !ok {
			return 0
		}
		m[k] = v
	}
	scope := m["S"]
	if scope != "U" && scope != "C" {
		return 0
	}
	av := map[string]float64{"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2}
	ac := map[string]float64{"L": 0.77, "H": 0.44}
	pr := map[string]float64{"N": 0.85, "L": 0.62, "H": 0.27}
	if scope == "C" {
		pr["L"], pr["H"] = 0.68, 0.5
	}
	ui := map[string]float64{"N": 0.85, "R": 0.62}
	cia := map[string]float64{"H": 0.56, "L": 0.22, "N": 0}
	get := func(t map[string]float64, k string) (float64, bool) { v, ok := t[m[k]]; return v, ok }
	vals := make([]float64, 0, 7)
	for _, x := range []struct {
		t map[string]float64
		k string
	}{{av, "AV"}, {ac, "AC"}, {pr, "PR"}, {ui, "UI"}, {cia, "C"}, {cia, "I"}, {cia, "A"}} {
		v, ok := get(x.t, x.k)
		if !ok {
			return 0
		}
		vals = append(vals, v)
	}
	iss := 1 - (1-vals[4])*(1-vals[5])*(1-vals[6])
	var impact float64
	if scope == "U" {
		impact = 6.42 * iss
	} else {
		impact = 7.52*(iss-0.029) - 3.25*math.Pow(iss-0.02, 15)
	}
	if impact <= 0 {
		return 0
	}
	expl := 8.22 * vals[0] * vals[1] * vals[2] * vals[3]
	if scope == "U" {
		return roundUp(math.Min(impact+expl, 10))
	}
	return roundUp(math.Min(1.08*(impact+expl), 10))
}

// roundUp is CVSS v3.1's Roundup: the smallest one-decimal number >= x.
func roundUp(x float64) float64 {
	i := int64(math.Round(x * 100000))
	if i%10000 == 0 {
		return float64(i) / 100000
	}
	return float64(i/10000+1) / 10
}
