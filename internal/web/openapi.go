package web

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"iotwatch/internal/report"
)

// openAPISource is the OpenAPI 3.1 description of every /api route;
// openapi_test.go checks it against the routes and their responses.
//
//go:embed openapi.json
var openAPISource []byte

// OpenAPI returns the served document: openapi.json with the report's JSON
// Schema in place of its components.schemas.Report. It is made when first
// asked for, not at every command's start.
var OpenAPI = sync.OnceValue(func() []byte {
	var doc map[string]any
	if err := json.Unmarshal(openAPISource, &doc); err != nil {
		panic(fmt.Sprintf("web: openapi.json: %v", err))
	}
	var rs map[string]any
	if err := json.Unmarshal(report.Schema, &rs); err != nil {
		panic(fmt.Sprintf("web: report schema: %v", err))
	}
	doc["components"].(map[string]any)["schemas"].(map[string]any)["Report"] = rs
	b, err := json.MarshalIndent(doc, "", " ")
	if err != nil {
		panic(fmt.Sprintf("web: openapi: %v", err))
	}
	return b
})

func (s *Server) apiOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(OpenAPI())
	return err
}
