#!/bin/sh
# echobase/order-processor: every PROCESS_INTERVAL seconds (default 1), mark
# the orders still 'new' as 'processed' (by "<color>/<hostname>").  Both
# colors may run at once against the same durable database; each UPDATE
# takes its own rows, so that is safe.  After every successful round trip to
# the database the time is written to /run/executor/last-ok, which the
# healthcheck reads.
#
# Environment: EXECUTOR_COLOR, DB_HOST, DB_PORT, DB_USER, DB_PASSWORD (or
# DB_PASSWORD_FILE), DB_NAME, PROCESS_INTERVAL, PROCESS_BATCH (default 100).
set -eu
ECHOBASE_SERVICE=order-processor
. /usr/local/lib/echobase/common.sh

color=$(executor_color) || exit 1
interval=${PROCESS_INTERVAL:-1}
batch=${PROCESS_BATCH:-100}
case $interval in '' | *[!0-9.]*) die "PROCESS_INTERVAL must be a number of seconds" ;; esac
case $batch in '' | *[!0-9]*) die "PROCESS_BATCH must be a whole number" ;; esac
worker="$color/$(hostname)"
case $worker in *[!A-Za-z0-9_./-]*) die "unexpected characters in '$worker'" ;; esac

db_write_cnf root
unset DB_PASSWORD DB_PASSWORD_FILE
rm -f "$ECHOBASE_RUN/last-ok"

# PID 1 gets no default signal handling: stop promptly on docker stop.
running=1
trap 'running=0; [ -z "${sleeper:-}" ] || kill "$sleeper" 2>/dev/null' TERM INT

log "color $color, database ${DB_HOST:-mariadb}:${DB_PORT:-3306}/$DB_NAME, every ${interval}s"
state=starting
while [ $running = 1 ]; do
	if out=$(db -e "SET SESSION time_zone = '+00:00'; $ORDERS_SCHEMA
		UPDATE orders SET status = 'processed', processed_by = '$worker', processed_at = CURRENT_TIMESTAMP(3)
		WHERE status = 'new' ORDER BY id LIMIT $batch;
		SELECT ROW_COUNT();" 2>&1); then
		date +%s >"$ECHOBASE_RUN/last-ok.tmp" && mv -f "$ECHOBASE_RUN/last-ok.tmp" "$ECHOBASE_RUN/last-ok"
		[ "$state" = ok ] || log "database reachable"
		state=ok
		case $out in '' | 0) ;; *) log "processed $out order(s)" ;; esac
	else
		# say it once per outage, not every second
		[ "$state" = down ] || log "database error: $out"
		state=down
	fi
	[ $running = 1 ] || break
	sleep "$interval" &
	sleeper=$!
	wait "$sleeper" || true
	sleeper=
done
log "stopping"
