#!/bin/bash
# validate:stack - the repository keeps the layout the executor driver (and
# the seed) expect.  Plain text checks, no engine needed.
set -uo pipefail
cd "$(dirname "$0")/.."
pass=0
failed=0
check() { # DESCRIPTION CMD...
	local d=$1
	shift
	if "$@"; then pass=$((pass + 1)); echo "ok   $d"; else failed=$((failed + 1)); echo "FAIL $d"; fi
}
has() { grep -Eq "$2" "$1"; }
hasnt() { ! grep -Eq "$2" "$1"; }
# services: NAME... declared (2-space indent) in FILE
services() {
	local f=$1 s
	shift
	for s; do grep -Eq "^  $s:\$" "$f" || return 1; done
}

for f in durable/docker-compose.yml docker-compose.yml docker-compose.green.yml docker-compose.blue.yml docker-compose.override.yml; do
	check "$f exists" test -f "$f"
	check "$f: no tabs (YAML)" hasnt "$f" $'\t'
done

# the durable layer
check "durable: mariadb and router" services durable/docker-compose.yml mariadb router
check "durable: named data volume with an explicit name" has durable/docker-compose.yml 'name: \$\{EXECUTOR_APP:-echobase\}-\$\{EXECUTOR_ENV\}-durable-mariadb-data'
check "durable: network named by the driver" has durable/docker-compose.yml 'name: \$\{EXECUTOR_DURABLE_NETWORK\}'
check "durable: router mounts a directory on conf.d" has durable/docker-compose.yml ':/etc/nginx/conf.d:ro'
check "durable: router does not mount a single .conf file" hasnt durable/docker-compose.yml '\.conf:/etc/nginx'

# the app stack
check "app: the four services" services docker-compose.yml api-gateway frontend order-processor localstack
check "app: no database service" hasnt docker-compose.yml '^  (mariadb|mysql|db):$'
check "app: no ports in the base file" hasnt docker-compose.yml '^ +ports:'
check "app: durable network is external" has docker-compose.yml 'external: true'
check "app: routes declared on api-gateway and frontend" test "$(grep -c 'io.executor.route.path' docker-compose.yml)" = 2
check "app: every service has a healthcheck" test "$(grep -c '^    healthcheck:' docker-compose.yml)" = 4
for f in docker-compose.green.yml docker-compose.blue.yml docker-compose.override.yml; do
	check "$f: ports only movable by variable" hasnt "$f" '^ +- "[0-9]+:'
done
check "override = blue (apart from comments)" test "$(grep -v '^#' docker-compose.override.yml)" = "$(grep -v '^#' docker-compose.blue.yml)"

# scripts parse
for f in images/*/*.sh images/lib/common.sh images/api-gateway/cgi-bin/api; do
	check "sh -n $f" sh -n "$f"
done
for f in images/build.sh images/verify.sh tests/*.sh; do
	check "bash -n $f" bash -n "$f"
done

echo "$pass passed, $failed failed"
[ "$failed" = 0 ]
