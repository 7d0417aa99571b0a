# Shared by the test jobs (bash; curl).  Sourced, not run.
#
# A test:* job runs in a container the driver joins to the color's network
# (EXECUTOR_ENV / EXECUTOR_COLOR), so the services are reached by container
# name on their container ports.  The env's certificate always names
# "localhost": requests go to https://localhost:<port> and --connect-to sends
# them to the container, so TLS is verified against the env's CA with no -k.
#
# Overrides (e.g. from a workstation, through the published ports):
#   API_URL=https://localhost:3101 FRONTEND_URL=https://localhost:3543 \
#   FRONTEND_HTTP_URL=http://localhost:3100 EXECUTOR_CA_FILE=/path/ca.pem tests/e2e.sh
set -euo pipefail

color=${EXECUTOR_COLOR:-green}
project=${EXECUTOR_PROJECT:-echobase-$color}
CA=${EXECUTOR_CA_FILE:-/etc/executor/tls/ca.pem}
API_URL=${API_URL:-https://localhost:3001}
FRONTEND_URL=${FRONTEND_URL:-https://localhost:3443}
FRONTEND_HTTP_URL=${FRONTEND_HTTP_URL:-http://localhost:3000}
CONNECT=(--connect-to "localhost:3001:$project-api-gateway:3001"
	--connect-to "localhost:3443:$project-frontend:3443"
	--connect-to "localhost:3000:$project-frontend:3000")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ ! -r "$CA" ] && [ -n "${EXECUTOR_CA_PEM:-}" ]; then
	printf '%s\n' "$EXECUTOR_CA_PEM" >"$tmp/ca.pem"
	CA=$tmp/ca.pem
fi
if [ ! -r "$CA" ]; then
	echo "no CA certificate at $CA: test jobs need the env's ca.pem (from the driver, or EXECUTOR_CA_FILE / EXECUTOR_CA_PEM)" >&2
	exit 1
fi

pass=0
failed=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
expect() { # DESCRIPTION ACTUAL EXPECTED
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: got '$2', expected '$3'"; fi
}
finish() {
	echo "$pass passed, $failed failed"
	[ "$failed" = 0 ]
}

# req METHOD URL [curl args...]: sets $code, $body, $hcolor (X-Executor-Color)
req() {
	local m=$1 u=$2
	shift 2
	code=$(curl -sS --max-time 10 --retry 2 --retry-connrefused --cacert "$CA" "${CONNECT[@]}" \
		-X "$m" -o "$tmp/body" -D "$tmp/headers" -w '%{http_code}' "$@" "$u") || code=000
	body=$(cat "$tmp/body" 2>/dev/null || true)
	hcolor=$(tr -d '\r' <"$tmp/headers" 2>/dev/null | awk -F': ' 'tolower($1)=="x-executor-color"{print $2}')
}
# json_field NAME: a top-level scalar of $body (flat JSON objects only)
json_field() {
	sed -n "s/.*\"$1\":\"\\{0,1\\}\\([^\",}]*\\).*/\\1/p" <<<"$body" | head -1
}
