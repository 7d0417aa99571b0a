#!/bin/sh
# echobase/frontend entrypoint: render the page and the generated nginx
# settings from the environment, then exec nginx (PID 1).
#
# Environment:
#   EXECUTOR_COLOR      color shown on the page and in X-Executor-Color (driver)
#   PUBLIC_HTTPS_PORT   host port the HTTP->HTTPS redirect points at
#                       (the color's overlay sets 3443 for blue, 3543 for green)
#   API_UPSTREAM        where /api/ goes (the compose file sets
#                       https://<project>-api-gateway:3001: the container name,
#                       unique per color, so blue never reaches green's API)
# Files: /etc/executor/tls/{server.pem,server-key.pem,ca.pem} (the env's TLS
# directory, mounted read-only).
set -eu
ECHOBASE_SERVICE=frontend
. /usr/local/lib/echobase/common.sh

color=$(executor_color) || exit 1
port=${PUBLIC_HTTPS_PORT:-3443}
case $port in '' | *[!0-9]*) die "PUBLIC_HTTPS_PORT must be a port number, not '$port'" ;; esac
api=${API_UPSTREAM:-https://api-gateway:3001}
case $api in
https://* | http://*) ;;
*) die "API_UPSTREAM must be an http(s):// URL, not '$api'" ;;
esac
case $api in *[!A-Za-z0-9:/._-]*) die "API_UPSTREAM may contain only letters, digits and :/._-" ;; esac

tls=/etc/executor/tls
cert=$tls/server.pem
[ -r "$tls/fullchain.pem" ] && cert=$tls/fullchain.pem
key=$tls/server-key.pem
for f in "$cert" "$key" "$tls/ca.pem"; do
	[ -r "$f" ] || die "no $f: mount the env's TLS directory on $tls (server.pem, server-key.pem, ca.pem)"
done

mkdir -p "$ECHOBASE_RUN/nginx" "$ECHOBASE_RUN/www"
{
	printf 'map $host $executor_color { default "%s"; }\n' "$color"
	printf 'map $host $https_port { default "%s"; }\n' "$port"
	printf 'map $host $api_upstream { default "%s"; }\n' "$api"
} >"$ECHOBASE_RUN/nginx/vars.conf"
printf 'ssl_certificate %s;\nssl_certificate_key %s;\n' "$cert" "$key" >"$ECHOBASE_RUN/nginx/tls.conf"

cp -a /usr/share/echobase/www/. "$ECHOBASE_RUN/www/"
sed -i "s/__EXECUTOR_COLOR__/$color/g" "$ECHOBASE_RUN/www/index.html"

nginx -t -q
log "color $color, https on 3443 (redirect from 3000 to port $port), /api/ -> $api"
exec nginx -g 'daemon off;'
