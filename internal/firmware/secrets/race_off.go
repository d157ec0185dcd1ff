//go:build !race

package secrets

// crackWorkers = 0 means one cracking worker per CPU (see race_on.go).
const crackWorkers = 0
