#!/bin/sh
# Makes systemd read the installed unit, and restarts the service if it runs
# (an upgrade). A new install is neither enabled nor started: it needs
# credentials first (/etc/default/vonage_audit_exporter).
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null || true
	systemctl try-restart vonage_audit_exporter.service >/dev/null || true
fi
