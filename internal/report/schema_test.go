package report

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestJSONSchema validates report.json from full evidence and from none
// against schema/report.schema.json, the contract consumers rely on.
func TestJSONSchema(t *testing.T) {
	f, err := os.Open("schema/report.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(f)
	f.Close()
	if err != nil {
		t.Fatalf("schema: %v", err)
	}
	c := jsonschema.NewCompiler()
	const url = "https://iotwatch.invalid/schema/report.schema.json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	st := openStore(t)
	full, err := Build(context.Background(), st, fixtureInputs(fillStore(t, st)))
	if err != nil {
		t.Fatal(err)
	}
	st2 := openStore(t)
	empty, err := Build(context.Background(), st2, Inputs{RunIDs: []int64{emptyRun(t, st2)}})
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*Report{"full": full, "empty": empty} {
		var b bytes.Buffer
		if err := r.WriteJSON(&b); err != nil {
			t.Fatal(err)
		}
		v, err := jsonschema.UnmarshalJSON(&b)
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(v); err != nil {
			t.Errorf("%s report does not match the schema: %v", name, err)
		}
	}
	// The schema rejects what it should: a share above 1.
	bad, _ := jsonschema.UnmarshalJSON(strings.NewReader(`{"summary": {"weak_password_share": 1.5}}`))
	if err := sch.Validate(bad); err == nil {
		t.Errorf("schema accepts an invalid report")
	}
}
