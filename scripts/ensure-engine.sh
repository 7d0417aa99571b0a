#!/bin/sh
# Make sure a Docker engine answers on the socket; start Debian's dockerd if not.
set -eu
sock=${DOCKER_SOCK:-/var/run/docker.sock}
ping() { curl -fsS --max-time 2 --unix-socket "$sock" http://localhost/_ping >/dev/null 2>&1; }
ping && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "ensure-engine.sh: no Docker engine answers on $sock and only root can start one" >&2
	exit 1
fi
command -v dockerd >/dev/null || { echo "ensure-engine.sh: dockerd missing; run scripts/install-deps.sh test" >&2; exit 1; }
echo "ensure-engine.sh: starting dockerd" >&2
mkdir -p /var/log
setsid dockerd >>/var/log/executor-dockerd.log 2>&1 < /dev/null &
i=0
while ! ping; do
	i=$((i + 1))
	if [ $i -gt 300 ]; then
		echo "ensure-engine.sh: dockerd did not answer within 60 s; see /var/log/executor-dockerd.log" >&2
		tail -20 /var/log/executor-dockerd.log >&2 || true
		exit 1
	fi
	sleep 0.2
done
