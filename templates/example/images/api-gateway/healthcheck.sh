#!/bin/sh
# Docker HEALTHCHECK of echobase/api-gateway: GET /health through the TLS
# port (nginx -> CGI -> `SELECT 1` on the database).  Requests from 127.0.0.1
# are not counted for FAIL_AFTER_REQUESTS, but once that switch has tripped
# /health answers 500 and this check fails too.
# NEVER_HEALTHY=1 makes this check fail always (for tests of the deploy gate);
# the HTTP endpoints keep answering normally.
if [ "${NEVER_HEALTHY:-0}" = 1 ]; then
	echo "NEVER_HEALTHY=1: reporting unhealthy on purpose"
	exit 1
fi
# busybox wget runs `openssl s_client` for https (its own TLS cannot do the
# ECDSA certificates), without verifying: this checks that TLS and the app answer.
# No -T: the static busybox 1.35 wget crashes (SIGSEGV) with it; the
# healthcheck timeout bounds the check instead.
exec wget -q -O - --no-check-certificate https://127.0.0.1:3001/health
