package flow

import (
	"reflect"
	"testing"
)

// TestFastArrays: the fast reader agrees with encoding/json on what the
// writer produces, and declines (for the slow path) what it does not.
func TestFastArrays(t *testing.T) {
	hours := []struct {
		s  string
		ok bool
	}{
		{`[]`, true},
		{`[[1795132800,1,"US",0,"",46,1268,814298]]`, true},
		{` [ [1795132800, 0, "DE", 3320, "Deutsche Telekom AG", 1, 2, 3] , [1,1,"",0,"",0,0,0] ] `, true},
		{`[[1795132800,1,"US",0,"Owner \"x\"",46,1268,814298]]`, false}, // escape
		{`[[1.5,1,"US",0,"",46,1268,814298]]`, false},                   // fraction
		{`[[1,1,"US",0,"",46,1268]]`, false},                            // 7 fields
		{`[[1,1,"US",0,"",46,1268,8,9]]`, false},                        // 9 fields
		{`[[1,1,2,0,"",46,1268,8]]`, false},                             // number for a string
		{`[[1,1,"US",0,"",46,1268,8]`, false},                           // truncated
		{`[[1,1,"US",0,"",46,1268,8]] x`, false},                        // trailing
		{`[[99999999999999999999,1,"US",0,"",1,1,1]]`, false},           // overflow
	}
	for _, tc := range hours {
		got, ok := fastHours(tc.s, interner{}, nil)
		if ok != tc.ok {
			t.Errorf("fastHours(%s): ok %v, want %v", tc.s, ok, tc.ok)
			continue
		}
		if !ok {
			continue
		}
		want, err := decodeHours(tc.s)
		if err != nil {
			t.Fatalf("decodeHours(%s): %v", tc.s, err)
		}
		if len(got)+len(want) > 0 && !reflect.DeepEqual(got, want) {
			t.Errorf("fastHours(%s) = %+v, want %+v", tc.s, got, want)
		}
	}
	rels := `[["52.10.0.2",6,443,1,46,1268,814298,1795131064335000000,1795134455000000000,"US",0,""],["2001:db8::1",17,53,0,1,1,80,-5,7,"",64500,"Example"]]`
	got, ok := fastRelations(rels, interner{}, nil)
	want, err := decodeRelations(rels)
	if !ok || err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("fastRelations = %+v, %v; want %+v (%v)", got, ok, want, err)
	}
	if _, ok := fastRelations(`[["not an address",6,443,1,46,1268,814298,1,2,"US",0,""]]`, interner{}, nil); ok {
		t.Error("bad peer address accepted")
	}
}

// FuzzFastArrays: whenever the fast reader accepts an input, encoding/json
// accepts it too and decodes the same entries.
func FuzzFastArrays(f *testing.F) {
	f.Add(`[[1795132800,1,"US",0,"",46,1268,814298]]`, true)
	f.Add(`[["52.10.0.2",6,443,1,46,1268,814298,1795131064335000000,1795134455000000000,"US",0,""]]`, false)
	f.Add(`[]`, true)
	f.Fuzz(func(t *testing.T, s string, hours bool) {
		if hours {
			got, ok := fastHours(s, interner{}, nil)
			if !ok {
				return
			}
			want, err := decodeHours(s)
			if err != nil {
				t.Fatalf("fast path accepted %q, encoding/json: %v", s, err)
			}
			if len(got)+len(want) > 0 && !reflect.DeepEqual(got, want) {
				t.Fatalf("%q: fast %+v, json %+v", s, got, want)
			}
			return
		}
		got, ok := fastRelations(s, interner{}, nil)
		if !ok {
			return
		}
		want, err := decodeRelations(s)
		if err != nil {
			t.Fatalf("fast path accepted %q, encoding/json: %v", s, err)
		}
		if len(got)+len(want) > 0 && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: fast %+v, json %+v", s, got, want)
		}
	})
}
