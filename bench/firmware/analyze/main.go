// Command analyze runs firmware.Analyze on one image and prints the result
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
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: analyze IMAGE")
		os.Exit(2)
	}
	res, err := firmware.Analyze(context.Background(), os.Args[1], firmware.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
