#!/bin/sh
# echobase/localstack: a STAND-IN for LocalStack, not LocalStack.  The seed
# runs real LocalStack (AWS emulation) beside the app; this example only needs
# something that answers LocalStack's health endpoint on its two ports, so a
# busybox httpd serves a static GET /_localstack/health on 4566 and 4571.
# No AWS API is emulated.  Replace the image with localstack/localstack where
# a registry is reachable; the compose files need no other change.
set -eu
color=${EXECUTOR_COLOR:-none}
case $color in *[!A-Za-z0-9_.-]*) color=invalid ;; esac
sed -i "s/__EXECUTOR_COLOR__/$color/" /www/_localstack/health
# Both ports served by busybox httpd in the foreground (-f: attached to our
# stderr).  This shell stays PID 1: a process that is PID 1 ignores SIGTERM
# unless it handles it, and busybox httpd does not, so `docker stop` would
# wait for its timeout and SIGKILL.  Here SIGTERM stops both at once, and if
# either httpd dies the container exits (restart: unless-stopped restarts it).
httpd -f -p 4566 -h /www &
a=$!
httpd -f -p 4571 -h /www &
b=$!
trap 'kill $a $b 2>/dev/null; exit 0' TERM INT
echo "localstack stand-in: color $color, GET /_localstack/health on 4566 and 4571" >&2
while kill -0 $a 2>/dev/null && kill -0 $b 2>/dev/null; do
	sleep 1 &
	wait $! || true
done
echo "localstack stand-in: an httpd exited" >&2
kill $a $b 2>/dev/null
exit 1
