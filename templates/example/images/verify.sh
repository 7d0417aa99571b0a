#!/bin/bash
# Check the example images the way the stack files use them, by hand, with
# the docker CLI only (no compose, no driver): a throwaway CA and server
# certificate (openssl), the ci env's durable layer (network, volume,
# database, router) and the green and blue colors, each container created
# with the settings durable/docker-compose.yml, docker-compose.yml and the
# color overlays give it.  Then:
#   - the database becomes healthy; the app user can log in from the host (3307);
#   - https://localhost:3101/health answers 200 with X-Executor-Color: green,
#     verified against the CA;
#   - POST /orders then GET /orders/<id> and GET /orders round-trip through
#     MariaDB, hostile bytes included; the order-processor marks it processed;
#   - the frontend redirects HTTP to HTTPS, serves the page and proxies /api/;
#   - the LocalStack stand-in answers on both ports;
#   - the router serves live (443) and preview (1443) from a conf.d directory
#     written the way the driver writes it, and switches live from green to
#     blue (temp file + rename, nginx -t, SIGHUP) under load with no failed
#     request;
#   - FAIL_AFTER_REQUESTS and NEVER_HEALTHY behave as documented;
#   - the data survives removing and recreating the database container;
#   - the nginx images stop gracefully (STOPSIGNAL SIGQUIT).
# Everything it creates is named ${VERIFY_PREFIX:-exbuild}-* and removed at
# the end (also on failure or Ctrl-C); nothing else is touched.
#
#   images/verify.sh            (after images/build.sh; about 1 minute)
#   VERIFY_PORT_OFFSET=20000 images/verify.sh
#                               the same on ports 23307, 20443, 21443, 23101, ...
#                               (when the seed's ports are taken)
#   VERIFY_KEEP=1 images/verify.sh   leave everything up for a look; remove
#                               later with: images/verify.sh --clean
#   VERIFY_SLOW=1               also wait for Docker to call NEVER_HEALTHY unhealthy (~20 s)
set -uo pipefail
export LC_ALL=C

DOCKER=${DOCKER:-docker}
P=${VERIFY_PREFIX:-exbuild}
REPO=${ECHOBASE_IMAGE_REPO:-echobase}
TAG=${ECHOBASE_IMAGE_TAG:-local}
ENVN=ci
# Host ports: the seed's, plus VERIFY_PORT_OFFSET (e.g. 20000 when the seed's
# ports are taken by a real deployment or another test run).
off=${VERIFY_PORT_OFFSET:-0}
DB_PORT=$((3307 + off))
LIVE_PORT=$((443 + off))
PREVIEW_PORT=$((1443 + off))
FAIL_PORT=$((3201 + off))
NEVER_PORT=$((3202 + off))
DURABLE_NET=$P-$ENVN-durable-network
DB_VOL=$P-$ENVN-durable-mariadb-data
DB_CTR=$P-$ENVN-durable-mariadb
ROUTER_CTR=$P-$ENVN-durable-router
LABEL=io.echobase.verify=$P
work=/tmp/$P-verify

declare -A PORTS=(
	[green.api]=$((3101 + off)) [green.https]=$((3543 + off)) [green.http]=$((3100 + off))
	[green.ls]=$((4666 + off)) [green.lsalt]=$((4671 + off))
	[blue.api]=$((3001 + off)) [blue.https]=$((3443 + off)) [blue.http]=$((3000 + off))
	[blue.ls]=$((4566 + off)) [blue.lsalt]=$((4571 + off))
)

pass=0
fail=0
ok() {
	pass=$((pass + 1))
	echo "  ok   $*"
}
bad() {
	fail=$((fail + 1))
	echo "  FAIL $*"
}
check() { # DESCRIPTION CMD...
	local d=$1
	shift
	if "$@"; then ok "$d"; else bad "$d"; fi
}
die() {
	echo "verify.sh: $*" >&2
	exit 1
}

clean() {
	local ids
	ids=$("$DOCKER" ps -aq --filter "label=$LABEL")
	[ -z "$ids" ] || "$DOCKER" rm -f -v $ids >/dev/null
	for n in "$P-green-network" "$P-blue-network" "$DURABLE_NET"; do
		"$DOCKER" network rm "$n" >/dev/null 2>&1 || true
	done
	"$DOCKER" volume rm "$DB_VOL" >/dev/null 2>&1 || true
	rm -rf "$work"
}

if [ "${1:-}" = --clean ]; then
	clean
	exit 0
fi

for i in mariadb router api-gateway frontend order-processor localstack; do
	"$DOCKER" image inspect "$REPO/$i:$TAG" >/dev/null 2>&1 || die "no image $REPO/$i:$TAG: run images/build.sh first"
done
for p in "$DB_PORT" "$LIVE_PORT" "$PREVIEW_PORT" "$FAIL_PORT" "$NEVER_PORT" "${PORTS[@]}"; do
	if ss -Hltn "sport = :$p" | grep -q .; then die "host port $p is in use; free it or move all ports with VERIFY_PORT_OFFSET=N"; fi
done
"$DOCKER" network inspect "$DURABLE_NET" >/dev/null 2>&1 && die "$DURABLE_NET exists: a previous run is still up (images/verify.sh --clean)"

[ "${VERIFY_KEEP:-0}" = 1 ] || trap clean EXIT
trap 'exit 130' INT TERM
rm -rf "$work"
mkdir -p "$work/tls" "$work/router"
chmod 0700 "$work/tls"

# ------------------------------------------------------------ throwaway CA
echo "== TLS: throwaway CA and server certificate (EC P-256)"
(
	cd "$work/tls" || exit 1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=$P verify CA" -addext basicConstraints=critical,CA:TRUE,pathlen:0 \
		-addext keyUsage=critical,keyCertSign,cRLSign -keyout ca-key.pem -out ca.pem 2>/dev/null &&
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$P verify server" \
			-keyout server-key.pem -out server.csr 2>/dev/null &&
		printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' >server.ext &&
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 \
			-extfile server.ext -out server.pem 2>/dev/null &&
		cat server.pem ca.pem >fullchain.pem &&
		chmod 0600 ca-key.pem server-key.pem && chmod 0644 ca.pem server.pem fullchain.pem &&
		rm -f server.csr server.ext ca.srl
) || die "openssl failed"
CA=$work/tls/ca.pem
DB_ROOT_PASSWORD=$(openssl rand -hex 16)
DB_PASSWORD=$(openssl rand -hex 16)
DB_USER=app
DB_NAME=echobase
printf '[client]\nhost=127.0.0.1\nport=%s\nuser=%s\npassword=%s\ndatabase=%s\n' \
	"$DB_PORT" "$DB_USER" "$DB_PASSWORD" "$DB_NAME" >"$work/client.cnf"
chmod 0600 "$work/client.cnf"
ok "CA and server certificate (SAN localhost, 127.0.0.1, ::1)"

# wait_healthy SECONDS CONTAINER...: all of them healthy; prints the time taken
wait_healthy() {
	local t=$1 c s start=$EPOCHREALTIME
	shift
	local deadline=$((SECONDS + t))
	for c; do
		while :; do
			s=$("$DOCKER" inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$c" 2>/dev/null)
			[ "$s" = healthy ] && break
			if [ "$s" = unhealthy ] || [ $SECONDS -ge $deadline ]; then
				echo "  $c is $s:" >&2
				"$DOCKER" logs --tail 20 "$c" >&2 2>&1
				"$DOCKER" inspect -f '{{range .State.Health.Log}}{{.ExitCode}} {{.Output}}{{end}}' "$c" 2>/dev/null | tail -3 >&2
				return 1
			fi
			sleep 0.1
		done
	done
	awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f s", b-a}'
}

# ------------------------------------------------------------ durable layer
echo "== durable layer (durable/docker-compose.yml, env $ENVN)"
"$DOCKER" network create --label "$LABEL" "$DURABLE_NET" >/dev/null || die "network create failed"
"$DOCKER" volume create --label "$LABEL" "$DB_VOL" >/dev/null || die "volume create failed"

run_db() {
	"$DOCKER" run -d --name "$DB_CTR" --label "$LABEL" --restart unless-stopped \
		--network "$DURABLE_NET" --network-alias mariadb -p "$DB_PORT:3306" \
		-v "$DB_VOL:/var/lib/mysql" \
		-e MARIADB_ROOT_PASSWORD="$DB_ROOT_PASSWORD" -e MARIADB_DATABASE="$DB_NAME" \
		-e MARIADB_USER="$DB_USER" -e MARIADB_PASSWORD="$DB_PASSWORD" \
		"$REPO/mariadb:$TAG" >/dev/null
}
run_db || die "could not start $DB_CTR"
"$DOCKER" run -d --name "$ROUTER_CTR" --label "$LABEL" --restart unless-stopped \
	--network "$DURABLE_NET" --network-alias router \
	-p "$LIVE_PORT:443" -p "$PREVIEW_PORT:1443" \
	-v "$work/router:/etc/nginx/conf.d:ro" -v "$work/tls:/etc/executor/tls:ro" \
	--stop-timeout 15 "$REPO/router:$TAG" >/dev/null || die "could not start $ROUTER_CTR"

if t=$(wait_healthy 90 "$DB_CTR"); then ok "mariadb healthy in $t (first start, empty volume)"; else bad "mariadb healthy"; fi
if t=$(wait_healthy 30 "$ROUTER_CTR"); then ok "router healthy in $t with an empty conf.d"; else bad "router healthy"; fi
check "router stop signal is SIGQUIT" [ "$("$DOCKER" inspect -f '{{.Config.StopSignal}}' "$ROUTER_CTR")" = SIGQUIT ]
check "app user logs in from the host on port $DB_PORT" \
	sh -c "mariadb --defaults-extra-file='$work/client.cnf' -N -e 'select 1' | grep -qx 1"
check "root logs in from the host" sh -c "MYSQL_PWD='$DB_ROOT_PASSWORD' mariadb -h127.0.0.1 -P$DB_PORT -uroot -N -e 'select 1' >/dev/null"
check "a wrong password is refused" sh -c "! MYSQL_PWD=wrong mariadb -h127.0.0.1 -P$DB_PORT -uroot -e 'select 1' >/dev/null 2>&1"
# (read from the host: mariadbd has switched to the mysql user and is not dumpable)
pid=$("$DOCKER" inspect -f '{{.State.Pid}}' "$DB_CTR")
tr '\0' '\n' <"/proc/$pid/environ" >"$work/environ" && ! grep -q '^MARIADB_.*PASSWORD=' "$work/environ"; rc=$?
check "the database passwords are not in mariadbd's environment ($(grep -c . "$work/environ") variables)" [ $rc = 0 ]

# ------------------------------------------------------------ a color
# up_color COLOR [EXTRA ENV...]: the four services, as docker-compose.yml + the overlay
up_color() {
	local color=$1 proj=$P-$1 net=$P-$1-network
	shift
	local common=(--label "$LABEL" --label "com.docker.compose.project=$proj" --restart unless-stopped
		-e EXECUTOR_COLOR="$color")
	local db=(-e DB_HOST=mariadb -e DB_PORT=3306 -e DB_USER="$DB_USER" -e DB_PASSWORD="$DB_PASSWORD" -e DB_NAME="$DB_NAME")
	local tls=(-v "$work/tls:/etc/executor/tls:ro")
	"$DOCKER" network create --label "$LABEL" "$net" >/dev/null || return 1
	# create on the app network, join the durable one, then start (as compose does)
	"$DOCKER" create --name "$proj-api-gateway" "${common[@]}" "${db[@]}" "${tls[@]}" "$@" \
		--network "$net" --network-alias api-gateway -p "${PORTS[$color.api]}:3001" --stop-timeout 15 \
		--label io.executor.route.path=/api/ --label io.executor.route.port=3001 \
		--label io.executor.route.scheme=https --label io.executor.health.path=/health \
		"$REPO/api-gateway:$TAG" >/dev/null || return 1
	"$DOCKER" create --name "$proj-frontend" "${common[@]}" "${tls[@]}" \
		-e API_UPSTREAM="https://$proj-api-gateway:3001" -e PUBLIC_HTTPS_PORT="${PORTS[$color.https]}" \
		--network "$net" --network-alias frontend --stop-timeout 15 \
		-p "${PORTS[$color.https]}:3443" -p "${PORTS[$color.http]}:3000" \
		--label io.executor.route.path=/ --label io.executor.route.port=3443 \
		--label io.executor.route.scheme=https --label io.executor.health.path=/health \
		"$REPO/frontend:$TAG" >/dev/null || return 1
	"$DOCKER" create --name "$proj-order-processor" "${common[@]}" "${db[@]}" -e PROCESS_INTERVAL=1 \
		--network "$net" --network-alias order-processor "$REPO/order-processor:$TAG" >/dev/null || return 1
	"$DOCKER" create --name "$proj-localstack" "${common[@]}" \
		--network "$net" --network-alias localstack \
		-p "${PORTS[$color.ls]}:4566" -p "${PORTS[$color.lsalt]}:4571" \
		"$REPO/localstack:$TAG" >/dev/null || return 1
	for s in api-gateway frontend order-processor; do
		"$DOCKER" network connect --alias "$s" "$DURABLE_NET" "$proj-$s" || return 1
	done
	for s in api-gateway frontend order-processor localstack; do
		"$DOCKER" start "$proj-$s" >/dev/null || return 1
	done
}

# http METHOD URL [curl args...]: prints "CODE COLOR-HEADER" then the body to $work/body
http() {
	local m=$1 u=$2
	shift 2
	curl -sS -o "$work/body" -D "$work/headers" --max-time 10 --cacert "$CA" -X "$m" "$@" "$u" >/dev/null 2>"$work/curl.err" || {
		echo "000 -"
		return 0
	}
	local code color
	code=$(awk 'NR==1{print $2}' "$work/headers")
	color=$(tr -d '\r' <"$work/headers" | awk -F': ' 'tolower($1)=="x-executor-color"{print $2}')
	echo "$code ${color:--}"
}

echo "== green color (docker-compose.yml + docker-compose.green.yml)"
up_color green || die "could not create the green containers"
G=$P-green
if t=$(wait_healthy 60 "$G-api-gateway" "$G-frontend" "$G-order-processor" "$G-localstack"); then
	ok "green: all four services healthy in $t"
else
	bad "green services healthy"
fi

api=https://localhost:${PORTS[green.api]}
r=$(http GET "$api/health")
check "GET $api/health -> 200, X-Executor-Color: green (verified against the CA)  [$r]" [ "$r" = "200 green" ]
check "  body: $(cat "$work/body")" grep -q '"color":"green".*"database":"ok"' "$work/body"
r=$(http GET "$api/api/health")
check "GET /api/health (the router's path) -> 200 green  [$r]" [ "$r" = "200 green" ]
r=$(http GET "$api/nope")
check "unknown path -> 404, still with the color header  [$r]" [ "$r" = "404 green" ]
check "plain HTTP on the TLS port is refused" sh -c "curl -s -o /dev/null -w '%{http_code}' http://localhost:${PORTS[green.api]}/health | grep -qx 400"

payload='{"item":"widget \"deluxe\" \\ back","qty":2,"note":"caf\u00e9 ü ☃","sql":"x'"'"'); DROP TABLE orders; --"}'
r=$(http POST "$api/orders" -H 'Content-Type: application/json' --data-binary "$payload")
id=$(sed -n 's/.*"id":\([0-9]*\).*/\1/p' "$work/body")
[ "$r" = "201 green" ] && [ -n "$id" ]; rc=$?
check "POST /orders -> 201 green with an id  [$r, $(cat "$work/body")]" [ $rc = 0 ]
check "  Location: /orders/$id" grep -qi "^location: /orders/$id" "$work/headers"
r=$(http GET "$api/orders/$id")
got=$(sed -n 's/.*"payload":\(.*\),"created_by".*/\1/p' "$work/body")
check "GET /orders/$id -> 200, the payload unchanged  [$r]" [ "$r" = "200 green" ]
check "  payload round trip: $got" python3 -c 'import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); sys.exit(a!=b)' "$payload" "$got"
r=$(http POST "$api/orders" --data-binary "plain text, not JSON; it's fine")
id2=$(sed -n 's/.*"id":\([0-9]*\).*/\1/p' "$work/body")
http GET "$api/orders/$id2" >/dev/null
check "a non-JSON body is kept as a JSON string" grep -q "\"payload\":\"plain text, not JSON; it's fine\"" "$work/body"
r=$(http GET "$api/orders")
check "GET /orders -> 200, a JSON array holding both  [$r]" python3 -c '
import json,sys; rows=json.load(open(sys.argv[1])); ids=[r["id"] for r in rows]
sys.exit(not (isinstance(rows,list) and int(sys.argv[2]) in ids and int(sys.argv[3]) in ids))' "$work/body" "$id" "$id2"
r=$(http GET "$api/orders/999999999")
check "GET /orders/999999999 -> 404  [$r]" [ "$r" = "404 green" ]
r=$(http GET "$api/orders/1;DROP")
check "GET /orders/1;DROP -> 400  [$r]" [ "$r" = "400 green" ]
r=$(http POST "$api/orders" --data-binary @/dev/null)
check "POST /orders with an empty body -> 400  [$r]" [ "$r" = "400 green" ]
r=$(http DELETE "$api/orders/$id")
check "DELETE /orders/$id -> 405  [$r]" [ "$r" = "405 green" ]
check "the orders are in MariaDB (host client, port $DB_PORT)" \
	sh -c "mariadb --defaults-extra-file='$work/client.cnf' -N -e 'select count(*) from orders where id in ($id,$id2)' | grep -qx 2"

processed=""
for _ in $(seq 50); do
	http GET "$api/orders/$id" >/dev/null
	if grep -q '"status":"processed"' "$work/body"; then
		processed=$(sed -n 's/.*"processed_by":"\([^"]*\)".*/\1/p' "$work/body")
		break
	fi
	sleep 0.1
done
check "order-processor marked order $id processed (by $processed)" [ "${processed%%/*}" = green ]

fe=https://localhost:${PORTS[green.https]}
loc=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://localhost:${PORTS[green.http]}/orders?x=1")
check "HTTP ${PORTS[green.http]} redirects to HTTPS  [$loc]" [ "$loc" = "301 $fe/orders?x=1" ]
r=$(http GET "$fe/")
[ "$r" = "200 green" ] && grep -q 'class="color green"' "$work/body"; rc=$?
check "GET $fe/ -> 200 green, the page names the color  [$r]" [ $rc = 0 ]
r=$(http GET "$fe/health")
check "GET $fe/health -> 200 green  [$r]" [ "$r" = "200 green" ]
r=$(http GET "$fe/api/health")
[ "$r" = "200 green" ] && grep -q '"service":"api-gateway"' "$work/body"; rc=$?
check "GET $fe/api/health -> 200 (frontend -> api-gateway over TLS, CA-verified)  [$r]" [ $rc = 0 ]
for p in "${PORTS[green.ls]}" "${PORTS[green.lsalt]}"; do
	check "LocalStack stand-in: GET http://localhost:$p/_localstack/health -> 200" \
		sh -c "curl -sf http://localhost:$p/_localstack/health | grep -q '\"edition\":\"stand-in\"'"
done

# ------------------------------------------------------------ router
# What the driver writes into EXECUTOR_ROUTER_DIR: one file per port, each
# replaced atomically (temp file in the same directory, then rename).
router_conf() { # FILE LISTEN-PORT COLOR
	local f=$work/router/$1 proj=$P-$3
	cat >"$f.tmp" <<EOF
# live/preview -> $3 (written by verify.sh the way the driver does)
server {
    listen $2 ssl;
    ssl_certificate /etc/executor/tls/fullchain.pem;
    ssl_certificate_key /etc/executor/tls/server-key.pem;
    add_header X-Executor-Router-Port $2 always;
    proxy_ssl_verify on;
    proxy_ssl_trusted_certificate /etc/executor/tls/ca.pem;
    proxy_ssl_name localhost;
    proxy_next_upstream error timeout;
    location /api/ { proxy_pass https://$proj-api-gateway:3001; }
    location / { proxy_pass https://$proj-frontend:3443; }
}
EOF
	mv -f "$f.tmp" "$f"
}
router_reload() {
	"$DOCKER" exec "$ROUTER_CTR" nginx -t -q && "$DOCKER" kill -s HUP "$ROUTER_CTR" >/dev/null
}

echo "== router (live $LIVE_PORT, preview $PREVIEW_PORT)"
router_conf live.conf 443 green
router_conf preview.conf 1443 green
check "nginx -t and SIGHUP with live and preview -> green" router_reload
ready=""
for _ in $(seq 50); do
	r=$(http GET "https://localhost:$LIVE_PORT/api/health")
	[ "$r" = "200 green" ] && ready=1 && break
	sleep 0.1
done
check "GET https://localhost:$LIVE_PORT/api/health -> 200 green  [$r]" [ -n "$ready" ]
r=$(http GET "https://localhost:$LIVE_PORT/")
[ "$r" = "200 green" ] && grep -q 'class="color green"' "$work/body"; rc=$?
check "GET https://localhost:$LIVE_PORT/ -> the green page  [$r]" [ $rc = 0 ]
r=$(http GET "https://localhost:$PREVIEW_PORT/api/orders/$id")
check "GET https://localhost:$PREVIEW_PORT/api/orders/$id -> 200 green  [$r]" [ "$r" = "200 green" ]

echo "== blue color (docker-compose.yml + docker-compose.blue.yml), then switch live green -> blue under load"
up_color blue || die "could not create the blue containers"
B=$P-blue
if t=$(wait_healthy 60 "$B-api-gateway" "$B-frontend" "$B-order-processor" "$B-localstack"); then
	ok "blue: all four services healthy in $t"
else
	bad "blue services healthy"
fi
r=$(http GET "https://localhost:${PORTS[blue.api]}/orders/$id")
check "blue reads green's order $id from the shared durable database  [$r]" [ "$r" = "200 blue" ]
router_conf preview.conf 1443 blue
router_reload
sleep 0.3
r=$(http GET "https://localhost:$PREVIEW_PORT/api/health")
check "preview -> blue  [$r]" [ "$r" = "200 blue" ]

n=${VERIFY_LOAD_REQUESTS:-400}
(
	for _ in $(seq "$n"); do
		curl -s -o /dev/null --max-time 5 --cacert "$CA" -w '%{http_code} ' -D - \
			"https://localhost:$LIVE_PORT/api/health" | tr -d '\r' |
			awk -F': ' 'tolower($1)=="x-executor-color"{c=$2} /^[0-9]+ $/{code=$0; sub(/ +$/, "", code)} END{print code, c}'
	done
) >"$work/load.txt" 2>&1 &
loader=$!
sleep 1.5
router_conf live.conf 443 blue
router_reload || bad "switch live -> blue (nginx -t / HUP)"
sleep 1.5
router_conf live.conf 443 green
router_reload || bad "switch live -> green"
sleep 1
router_conf live.conf 443 blue
router_reload || bad "switch live -> blue"
wait "$loader"
total=$(wc -l <"$work/load.txt")
failed=$(grep -cv '^200 ' "$work/load.txt")
[ "$failed" = 0 ] && [ "$total" -ge "$n" ]; rc=$?
check "$total requests through the live port across 3 switches: $failed failed" [ $rc = 0 ]
echo "       colors seen in order: $(awk '{print $NF}' "$work/load.txt" | uniq -c | awk '{printf "%s x%s, ", $2, $1}' | sed 's/, $//')"
check "the last 20 requests were answered by blue" sh -c "tail -20 '$work/load.txt' | grep -cx '200 blue' | grep -qx 20"

# ------------------------------------------------------------ failure switches
echo "== failure switches (extra api-gateway containers on ports $FAIL_PORT and $NEVER_PORT)"
"$DOCKER" run -d --name "$P-fail-api" --label "$LABEL" -e EXECUTOR_COLOR=green -e FAIL_AFTER_REQUESTS=3 \
	-e DB_USER="$DB_USER" -e DB_PASSWORD="$DB_PASSWORD" -e DB_NAME="$DB_NAME" \
	-v "$work/tls:/etc/executor/tls:ro" --network "$DURABLE_NET" -p "$FAIL_PORT:3001" "$REPO/api-gateway:$TAG" >/dev/null
"$DOCKER" run -d --name "$P-never-api" --label "$LABEL" -e EXECUTOR_COLOR=green -e NEVER_HEALTHY=1 \
	-e DB_USER="$DB_USER" -e DB_PASSWORD="$DB_PASSWORD" -e DB_NAME="$DB_NAME" \
	-v "$work/tls:/etc/executor/tls:ro" --network "$DURABLE_NET" -p "$NEVER_PORT:3001" "$REPO/api-gateway:$TAG" >/dev/null
ready=""
for _ in $(seq 50); do
	"$DOCKER" exec "$P-fail-api" /usr/local/bin/healthcheck >/dev/null 2>&1 && ready=1 && break
	sleep 0.1
done
seq_codes=""
for i in 1 2 3 4 5; do
	r=$(http GET "https://localhost:$FAIL_PORT/health")
	seq_codes="$seq_codes ${r%% *}"
done
check "FAIL_AFTER_REQUESTS=3: codes of 5 requests:$seq_codes (its own healthcheck not counted)" [ "$seq_codes" = " 200 200 200 500 500" ]
check "  and its healthcheck fails once tripped" sh -c "! $DOCKER exec $P-fail-api /usr/local/bin/healthcheck >/dev/null 2>&1"
check "NEVER_HEALTHY=1: the healthcheck command fails" sh -c "! $DOCKER exec $P-never-api /usr/local/bin/healthcheck >/dev/null 2>&1"
r=$(http GET "https://localhost:$NEVER_PORT/health")
check "  while its HTTP endpoint still answers  [$r]" [ "$r" = "200 green" ]
if [ "${VERIFY_SLOW:-0}" = 1 ]; then
	s=""
	for _ in $(seq 300); do
		s=$("$DOCKER" inspect -f '{{.State.Health.Status}}' "$P-never-api")
		[ "$s" = unhealthy ] && break
		sleep 0.1
	done
	check "  and Docker reports it unhealthy (after start_period + 3 failures)" [ "$s" = unhealthy ]
fi

# ------------------------------------------------------------ durability and stops
echo "== durability and stop behaviour"
count=$(mariadb --defaults-extra-file="$work/client.cnf" -N -e 'select count(*) from orders')
# every service handles docker stop's signal itself (none waits for the
# SIGKILL after the grace period): nginx gets SIGQUIT (graceful), the shell
# PID 1s trap SIGTERM, mariadbd shuts down cleanly
stop_time() { # CONTAINER: docker stop, prints seconds
	local t0=$EPOCHREALTIME
	"$DOCKER" stop "$1" >/dev/null
	awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}'
}
for s in api-gateway frontend order-processor localstack; do
	t=$(stop_time "$B-$s")
	check "docker stop $B-$s: $t s" awk -v t="$t" 'BEGIN{exit !(t < 5)}'
done
t=$(stop_time "$DB_CTR")
check "docker stop $DB_CTR: $t s" awk -v t="$t" 'BEGIN{exit !(t < 5)}'
"$DOCKER" rm -f "$DB_CTR" >/dev/null
# recreated on the same volume (the MARIADB_* variables no longer matter)
run_db
if t=$(wait_healthy 60 "$DB_CTR"); then ok "mariadb recreated on the same volume, healthy in $t"; else bad "mariadb recreated"; fi
check "the $count orders survived the container" \
	sh -c "mariadb --defaults-extra-file='$work/client.cnf' -N -e 'select count(*) from orders' | grep -qx '$count'"
ready=""
for _ in $(seq 100); do
	r=$(http GET "$api/health")
	[ "$r" = "200 green" ] && ready=1 && break
	sleep 0.1
done
check "green's api-gateway reconnects to the recreated database  [$r]" [ -n "$ready" ]
t=$(stop_time "$ROUTER_CTR")
check "docker stop $ROUTER_CTR (SIGQUIT, graceful): $t s" awk -v t="$t" 'BEGIN{exit !(t < 5)}'

echo
echo "verify.sh: $pass passed, $fail failed"
[ "${VERIFY_KEEP:-0}" = 1 ] && echo "verify.sh: left running (VERIFY_KEEP=1); remove with: $0 --clean"
[ "$fail" = 0 ]
