package model

import (
	"encoding/json"
	"testing"
)

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""}, {"a", "***"}, {"ab", "***"}, {"admin", "ad***"}, {"123456", "12***"},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSeverityText(t *testing.T) {
	for s := SeverityInfo; s <= SeverityCritical; s++ {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var got Severity
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("unmarshal %s: %v", b, err)
		}
		if got != s {
			t.Errorf("round trip %v: got %v", s, got)
		}
	}
	if _, err := ParseSeverity("severe"); err == nil {
		t.Error("ParseSeverity(severe): want error")
	}
}

func TestSeverityFromCVSS(t *testing.T) {
	tests := []struct {
		score float64
		want  Severity
	}{{0, SeverityInfo}, {0.1, SeverityLow}, {4.0, SeverityMedium}, {6.9, SeverityMedium}, {7.0, SeverityHigh}, {9.8, SeverityCritical}}
	for _, tt := range tests {
		if got := SeverityFromCVSS(tt.score); got != tt.want {
			t.Errorf("SeverityFromCVSS(%v) = %v, want %v", tt.score, got, tt.want)
		}
	}
}
