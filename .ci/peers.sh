#!/bin/sh
# peers.sh prepares this machine for iotwatch's real-peer tests (internal/testpeer):
# it creates the system accounts the login tests use. Idempotent; run as root
# by CI before `go test`. The daemons themselves are started by the tests on
# 127.0.0.1 with temporary configurations and free ports.
#
#   iwtest  / iwtest-Weak1   a "strong" account the audit must never report
#   iwadmin / admin          a weak account the audit must find
set -eu

if [ "$(id -u)" -ne 0 ]; then
	echo "peers.sh: must run as root" >&2
	exit 1
fi

ensure_user() {
	name=$1
	pass=$2
	if ! id "$name" >/dev/null 2>&1; then
		useradd --create-home --shell /bin/sh "$name"
	fi
	echo "$name:$pass" | chpasswd
	# telnet/ssh/ftp logins must not be refused because of an expired password.
	chage -I -1 -m 0 -M 99999 -E -1 "$name"
}

ensure_user iwtest 'iwtest-Weak1'
ensure_user iwadmin 'admin'

# vsftpd refuses logins when the shell is not listed in /etc/shells.
grep -qx /bin/sh /etc/shells || echo /bin/sh >>/etc/shells

# privilege-separated sshd needs this directory.
mkdir -p /run/sshd
chmod 0755 /run/sshd

# vsftpd's secure_chroot_dir
mkdir -p /var/run/vsftpd/empty

echo "peers.sh: accounts iwtest, iwadmin ready"
