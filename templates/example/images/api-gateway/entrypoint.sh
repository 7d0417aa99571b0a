#!/bin/sh
# echobase/api-gateway entrypoint: prepare the generated configuration, start
# the busybox httpd (CGI backend, 127.0.0.1:8080, as www-data) in the
# background, then exec nginx in the foreground, so that nginx is PID 1 (it
# gets docker stop's signal and reaps httpd if that ever exits).
#
# Environment:
#   EXECUTOR_COLOR        color shown in X-Executor-Color and /health (driver)
#   DB_HOST, DB_PORT      the durable database (default mariadb:3306)
#   DB_USER, DB_PASSWORD (or DB_PASSWORD_FILE), DB_NAME   (driver's secrets)
#   FAIL_AFTER_REQUESTS=N answer 500 to every request after the Nth (tests)
#   NEVER_HEALTHY=1       the Docker healthcheck always fails (tests)
# Files: /etc/executor/tls/{server.pem,server-key.pem} (fullchain.pem used
# when present), the env's TLS directory mounted read-only.
set -eu
ECHOBASE_SERVICE=api-gateway
. /usr/local/lib/echobase/common.sh

color=$(executor_color) || exit 1
export EXECUTOR_COLOR="$color"

case ${FAIL_AFTER_REQUESTS:-0} in
*[!0-9]*) die "FAIL_AFTER_REQUESTS must be a whole number, not '${FAIL_AFTER_REQUESTS}'" ;;
esac

tls=/etc/executor/tls
cert=$tls/server.pem
[ -r "$tls/fullchain.pem" ] && cert=$tls/fullchain.pem
key=$tls/server-key.pem
if [ ! -r "$cert" ] || [ ! -r "$key" ]; then
	die "no TLS material in $tls: mount the env's TLS directory there (server.pem, server-key.pem, ca.pem)"
fi

mkdir -p "$ECHOBASE_RUN/nginx" "$ECHOBASE_RUN/state"
printf 'map $host $executor_color { default "%s"; }\n' "$color" >"$ECHOBASE_RUN/nginx/color.conf"
printf 'ssl_certificate %s;\nssl_certificate_key %s;\n' "$cert" "$key" >"$ECHOBASE_RUN/nginx/tls.conf"

db_write_cnf www-data
unset DB_PASSWORD DB_PASSWORD_FILE

# FAIL_AFTER_REQUESTS counts from zero at every start.
rm -rf "$ECHOBASE_RUN/state/requests" "$ECHOBASE_RUN/state/requests.lock"
chown www-data:www-data "$ECHOBASE_RUN/state"

nginx -t -q

# -f keeps httpd attached to our stderr, so CGI error messages reach `docker logs`.
httpd -f -p 127.0.0.1:8080 -h /srv/api -u www-data:www-data &

log "color $color, database ${DB_HOST:-mariadb}:${DB_PORT:-3306}/$DB_NAME, listening on 3001 (https)"
exec nginx -g 'daemon off;'
