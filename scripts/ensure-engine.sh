#!/bin/sh
# Make sure a Docker engine answers on the socket; start Debian's dockerd if not.
#
# A dockerd that is shutting down (it stops every container first, which can
# take each one's stop timeout) still holds its pid file, and a second dockerd
# started meanwhile exits at once ("pid file found"): wait for it to go first.
set -eu
sock=${DOCKER_SOCK:-/var/run/docker.sock}
pidfile=/var/run/docker.pid
ping() { curl -fsS --max-time 2 --unix-socket "$sock" http://localhost/_ping >/dev/null 2>&1; }
running_pid() {
	[ -f "$pidfile" ] || return 1
	p=$(cat "$pidfile" 2>/dev/null) || return 1
	[ -n "$p" ] && kill -0 "$p" 2>/dev/null && [ "$(cat /proc/"$p"/comm 2>/dev/null)" = dockerd ] && echo "$p"
}
ping && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "ensure-engine.sh: no Docker engine answers on $sock and only root can start one" >&2
	exit 1
fi
command -v dockerd >/dev/null || { echo "ensure-engine.sh: dockerd missing; run scripts/install-deps.sh test" >&2; exit 1; }
mkdir -p /var/log

i=0
while old=$(running_pid); do
	ping && exit 0
	[ $i -eq 0 ] && echo "ensure-engine.sh: dockerd (pid $old) does not answer; waiting for it to start or stop" >&2
	i=$((i + 1))
	if [ $i -gt 900 ]; then
		echo "ensure-engine.sh: dockerd (pid $old) neither answers nor stops after 180 s; see /var/log/executor-dockerd.log" >&2
		exit 1
	fi
	sleep 0.2
done

for attempt in 1 2; do
	echo "ensure-engine.sh: starting dockerd" >&2
	setsid dockerd >>/var/log/executor-dockerd.log 2>&1 </dev/null &
	pid=$!
	i=0
	while ! ping; do
		i=$((i + 1))
		if ! kill -0 "$pid" 2>/dev/null; then
			# it exited: another one started meanwhile, or it failed
			if running_pid >/dev/null; then
				i=0
				while ! ping && running_pid >/dev/null && [ $i -lt 300 ]; do
					i=$((i + 1))
					sleep 0.2
				done
				ping && exit 0
			fi
			break
		fi
		if [ $i -gt 300 ]; then
			echo "ensure-engine.sh: dockerd did not answer within 60 s; see /var/log/executor-dockerd.log" >&2
			tail -20 /var/log/executor-dockerd.log >&2 || true
			exit 1
		fi
		sleep 0.2
	done
	ping && exit 0
done
echo "ensure-engine.sh: dockerd exited at start; see /var/log/executor-dockerd.log" >&2
tail -20 /var/log/executor-dockerd.log >&2 || true
exit 1
