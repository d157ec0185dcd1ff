//go:build race

package secrets

// crackWorkers is 1 under the race detector: go-crypt v1.0.1's hash.Unmarshal
// writes a cached typeInfo on every call (a benign but real data race), so
// parallel cracking is only enabled in normal builds.
const crackWorkers = 1
