#!/bin/sh
# bench/audit/audit.sh — iotwatch's credential audit against THC Hydra on the
# same real Debian daemons (sshd, vsftpd, inetutils-telnetd, lighttpd Basic and
# Digest, snmpd) with the same credential list and the same parallel tasks per
# host, then the simulated 1,000-device fleet. Needs root, hydra and the
# accounts from .ci/peers.sh.
#
#   IOTWATCH_BENCH_PAIRS=23   wrong pairs before the weak one (telnet: at most 7)
#   IOTWATCH_BENCH_TASKS=4    parallel attempts per host for both tools
#   IOTWATCH_SIM_DEVICES=1000 simulated devices
set -eu
cd "$(dirname "$0")/../.."
echo "== iotwatch vs hydra (real daemons on 127.0.0.1)"
IOTWATCH_BENCH=1 go test -count=1 -run CompareHydra -v ./bench/audit | grep -E 'compare_test|^(ok|FAIL|---)'
echo "== simulated fleet: ${IOTWATCH_SIM_DEVICES:=1000} devices, found vs ground truth"
IOTWATCH_SIM_DEVICES=$IOTWATCH_SIM_DEVICES go test -count=1 -timeout 20m -run SimulatedFleet -v ./internal/audit | grep -E 'simulate_test|^(ok|FAIL|---)'
