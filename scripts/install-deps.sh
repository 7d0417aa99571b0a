#!/bin/sh
# Install the Debian packages a step needs, only when some are missing.
#   install-deps.sh build   compiler and libraries
#   install-deps.sh test    + cmocka, Docker engine, fixture sources (busybox, nginx, MariaDB), python3, docker-compose,
#                           valgrind (make valgrind-smoke, the fake-engine e2e tests), docker-registry and
#                           apache2-utils (htpasswd) for the authenticated registry of tests/e2e/test_registry.py,
#                           socat and openssh-server/-client for the TLS and SSH engines of tests/e2e/test_remote_engine.py
#   install-deps.sh fuzz    build + clang and its libFuzzer runtime (make fuzz, make fuzz-smoke)
#   install-deps.sh bench   + hyperfine
set -eu
what=${1:-build}

build="build-essential pkg-config libcurl4-openssl-dev libjson-c-dev libssl-dev libgit2-dev libfyaml-dev"
test="$build libcmocka-dev python3 docker.io busybox-static nginx-light mariadb-server mariadb-client git iproute2 curl openssl ca-certificates docker-compose valgrind docker-registry apache2-utils socat openssh-server openssh-client"
fuzz="$build clang libclang-rt-dev"
bench="$test hyperfine time"

case "$what" in
build) pkgs=$build ;;
test) pkgs=$test ;;
bench) pkgs=$bench ;;
fuzz) pkgs=$fuzz ;;
*) echo "install-deps.sh: unknown set '$what' (build, test, bench or fuzz)" >&2; exit 2 ;;
esac

missing=
for p in $pkgs; do
	s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$s" = installed ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "install-deps.sh: missing Debian packages:$missing; run as root or: sudo apt-get install$missing" >&2
	exit 1
fi
echo "install-deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# No service may start from a postinst (nginx, mariadb): tests run their own.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod 0755 /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
if ! apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1; then
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends $missing
fi
