// Command analyze runs firmware.Analyze on one image (keeping the extracted
// tree in EXTRACT_DIR) and prints the result
// as JSON; bench/firmware/firmware.sh times it when cmd/iotwatch is not
// buildable. It is the same library call the CLI makes, without the store.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"iotwatch/internal/firmware"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: analyze EXTRACT_DIR IMAGE")
		os.Exit(2)
	}
	res, err := firmware.Analyze(context.Background(), os.Args[2], firmware.Options{ExtractDir: os.Args[1]})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
