package report

import (
	"cmp"
	"slices"

	"iotwatch/internal/model"
	"iotwatch/internal/stats"
)

// growth returns (cur-prev)/prev, or 0 when prev is 0.
func growth(cur, prev int) float64 {
	if prev <= 0 {
		return 0
	}
	return float64(cur-prev) / float64(prev)
}

// orUnknown names an empty key "unknown".
func orUnknown(s string) string { return cmp.Or(s, model.Unknown) }

func sortCounts(cs []Count) {
	slices.SortFunc(cs, func(a, b Count) int {
		return cmp.Or(stats.UnknownLast(a.Key, b.Key), cmp.Compare(b.Devices, a.Devices), cmp.Compare(a.Key, b.Key))
	})
}

// tally turns a key→count map into sorted Counts.
func tally(m map[string]int) []Count {
	out := make([]Count, 0, len(m))
	for k, n := range m {
		out = append(out, Count{Key: k, Devices: n})
	}
	sortCounts(out)
	return out
}
