#!/usr/bin/env bash
# setup.sh installs what iotwatch's tests need on a fresh Debian machine: the
# real protocol peers (OpenSSH, telnetd, vsftpd, lighttpd, mosquitto, snmpd,
# PostgreSQL, softflowd, nfdump, ...), test accounts, a PostgreSQL database,
# and the Go modules. It is idempotent; run it as root (CI does).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

pkgs=(openssh-server openssh-client openbsd-inetd inetutils-telnetd vsftpd lighttpd lighttpd-mod-openssl mosquitto
  mosquitto-clients snmpd snmp nats-server postgresql softflowd nfdump tcpreplay squashfs-tools
  u-boot-tools mtd-utils cpio busybox-static dropbear-bin nmap hydra binwalk xz-utils bzip2 zstd lz4 gzip
  chromium dnsmasq-base iproute2 avahi-daemon
  zmap) # iproute2: internal/scan TestSYNNetns (network namespaces); avahi-daemon: probe/mdns TestAvahi, run
  # only in a namespace of its own (the package's own daemon is not started: policy-rc.d below); zmap: bench/scan's side-by-side SYN rate only, no test uses it

if [ "$(id -u)" -ne 0 ]; then
  echo "setup.sh: not root; skipping Debian packages and test accounts (integration tests that need them will skip)" >&2
else
  missing=()
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup.sh: installing ${missing[*]}" >&2
    # Keep package scripts from starting daemons: tests start their own on loopback.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
      chmod +x /usr/sbin/policy-rc.d
      trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
  [ -x .ci/peers.sh ] && .ci/peers.sh
  # PostgreSQL: the second store backend is tested against a real server.
  if command -v pg_ctlcluster >/dev/null; then
    ver=$(ls /etc/postgresql 2>/dev/null | sort -n | tail -1)
    if [ -n "$ver" ]; then
      pg_ctlcluster "$ver" main status >/dev/null 2>&1 || pg_ctlcluster "$ver" main start
      su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='iotwatch'\"" | grep -q 1 ||
        su postgres -c "psql -qc \"CREATE USER iotwatch PASSWORD 'iotwatch' SUPERUSER\""
      su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='iotwatch_test'\"" | grep -q 1 ||
        su postgres -c "createdb -O iotwatch iotwatch_test"
    fi
  fi
fi
go mod download
# Lint and vulnerability tools for `make vet`, built once into $(go env GOPATH)/bin
# (golangci-lint takes about 3.5 minutes to build on 2 cores).
gobin=$(go env GOPATH)/bin
"$gobin/golangci-lint" --version 2>/dev/null | grep -q ' 2\.15\.0 ' ||
  go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0
"$gobin/govulncheck" -version 2>/dev/null | grep -q 'govulncheck@v1\.9\.0' ||
  go install golang.org/x/vuln/cmd/govulncheck@v1.9.0
