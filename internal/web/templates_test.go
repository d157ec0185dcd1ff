package web

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestTemplatesParse: every page's template set parses (they are parsed
// when first used, not at start-up), in either order of first use after
// the access pages have been rendered (a set that was executed cannot be
// cloned), and the OpenAPI document is valid JSON.
func TestTemplatesParse(t *testing.T) {
	var b bytes.Buffer
	if err := accessTemplates().ExecuteTemplate(&b, "signed-in", nil); err != nil {
		t.Fatal(err)
	}
	for name, tmpl := range map[string]func() int{
		"admin":     func() int { return len(adminTemplates().Templates()) },
		"console":   func() int { return len(consoleTemplates().Templates()) },
		"inventory": func() int { return len(inventoryTemplates().Templates()) },
		"runs":      func() int { return len(pageTemplate().Templates()) },
	} {
		if n := tmpl(); n == 0 {
			t.Errorf("%s: no templates", name)
		}
	}
	for _, name := range []string{"users", "tokens"} {
		if adminTemplates().Lookup(name) == nil {
			t.Errorf("admin: no template %q", name)
		}
	}
	for _, name := range []string{"jobs", "job", "head", "nav"} {
		if consoleTemplates().Lookup(name) == nil {
			t.Errorf("console: no template %q", name)
		}
	}
	if !json.Valid(OpenAPI()) {
		t.Error("the OpenAPI document is not JSON")
	}
}
