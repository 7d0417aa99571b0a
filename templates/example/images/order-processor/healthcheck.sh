#!/bin/sh
# Docker HEALTHCHECK of echobase/order-processor: healthy when the loop
# reached the database within the last HEALTH_MAX_AGE seconds (default 10).
max=${HEALTH_MAX_AGE:-10}
last=$(cat /run/executor/last-ok 2>/dev/null) || { echo "has not reached the database yet"; exit 1; }
age=$(($(date +%s) - last))
if [ "$age" -gt "$max" ]; then
	echo "last reached the database ${age}s ago (more than ${max}s)"
	exit 1
fi
echo "reached the database ${age}s ago"
