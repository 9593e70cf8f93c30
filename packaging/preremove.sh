#!/bin/sh
# Stops the service when the package is removed, not when it is upgraded:
# dpkg passes "remove", rpm the number of versions left, 0.
set -e
case "$1" in
remove | 0)
	if [ -d /run/systemd/system ]; then
		systemctl disable --now vonage_audit_exporter.service >/dev/null 2>&1 || true
	fi
	;;
esac
