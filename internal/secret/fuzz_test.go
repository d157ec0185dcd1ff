package secret

import (
	"testing"
)

// FuzzOpen feeds arbitrary stored text to the readers: values and JSON
// documents from a database are not trusted (a copied or damaged file).
// Nothing may panic, and whatever a Box seals it must open again.
func FuzzOpen(f *testing.F) {
	var k Key
	for i := range k {
		k[i] = byte(i)
	}
	b := NewBox(&k)
	s, _ := b.Seal("xc3511")
	f.Add(s)
	f.Add(Prefix)
	f.Add(Prefix + "AAAA")
	f.Add(`{"community":"` + s + `","n":1}`)
	f.Add(`{"a":["` + Prefix + `x"]}`)
	f.Fuzz(func(t *testing.T, in string) {
		_, _ = b.Open(in)
		_ = b.OpenIn(in)
		_, _ = b.OpenJSON([]byte(in))
		sealed, err := b.SealJSON([]byte(in), []string{"x"}, "community")
		if err == nil {
			if _, err := b.OpenJSON(sealed); err != nil {
				t.Fatalf("a sealed document does not open: %v", err)
			}
		}
		if IsSealed(in) {
			return // sealed already: Seal leaves it as it is
		}
		v, err := b.Seal(in)
		if err != nil {
			t.Fatal(err)
		}
		if p, err := b.Open(v); err != nil || p != in {
			t.Fatalf("Open(Seal(%q)) = %q, %v", in, p, err)
		}
	})
}
