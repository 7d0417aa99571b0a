#!/bin/bash
# Build the echobase example images locally, without a registry.
#
#   images/build.sh [--force] [--quiet] [NAME...]
#
# NAME: mariadb, router, api-gateway, frontend, order-processor, localstack,
# ci-tools (default: all).  Each becomes ${ECHOBASE_IMAGE_REPO:-echobase}/NAME:${ECHOBASE_IMAGE_TAG:-local}.
#
# How: every image is FROM scratch.  Its root filesystem is assembled in a
# temporary directory from this host's binaries (busybox-static, nginx-light,
# mariadb-server, mariadb-client, openssl, bash, git, curl:
# `scripts/install-deps.sh test` installs them) plus their shared libraries
# (ldd) and the files next to this script, then piped into `docker import`.
# Nothing is downloaded and no build step runs in a container.  Run as root
# (the files keep their owners: mysql, www-data).
#
# Idempotent and fast: each image's content hash (sha256 over every file that
# goes into it, its owners and modes, and its image settings) is stored in
# the label io.echobase.image.hash.  It is computed without copying the large
# files (their checksums stand in for them); when the existing image carries
# the same hash, nothing is assembled or imported.  --force re-imports.
# A freshly imported image gets a smoke test (its binaries load and run).
#
# STOPSIGNAL: `docker import --change` rejects it ("stopsignal is not a valid
# change command"), and nginx needs SIGQUIT for a graceful stop (SIGTERM is
# its *fast* shutdown, which drops in-flight requests).  For the nginx images
# the imported image is therefore finished by a metadata-only Dockerfile
# (`FROM <imported id>` + `STOPSIGNAL SIGQUIT`), which adds no layer and
# runs no container.
#
# The images are tied to the host's package versions: rebuild after upgrading
# them (the hash changes, so a plain re-run does it).
set -euo pipefail
umask 022
export LC_ALL=C

DOCKER=${DOCKER:-docker}
REPO=${ECHOBASE_IMAGE_REPO:-echobase}
TAG=${ECHOBASE_IMAGE_TAG:-local}
HASH_LABEL=io.echobase.image.hash
HERE=$(cd "$(dirname "$0")" && pwd)
ALL=(mariadb router api-gateway frontend order-processor localstack ci-tools)

force=0
quiet=0
names=()
for a in "$@"; do
	case "$a" in
	--force) force=1 ;;
	--quiet | -q) quiet=1 ;;
	-h | --help)
		sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	mariadb | router | api-gateway | frontend | order-processor | localstack | ci-tools) names+=("$a") ;;
	*)
		echo "build.sh: unknown argument '$a' (${ALL[*]}, --force, --quiet)" >&2
		exit 2
		;;
	esac
done
[ ${#names[@]} -gt 0 ] || names=("${ALL[@]}")

say() { [ "$quiet" = 1 ] || echo "build.sh: $*" >&2; }
die() {
	echo "build.sh: $*" >&2
	exit 1
}
need() {
	local f
	for f; do
		[ -e "$f" ] || die "$f is missing on this host; install busybox-static nginx-light mariadb-server mariadb-client bash git curl ca-certificates (scripts/install-deps.sh test)"
	done
}

[ "$(id -u)" = 0 ] || die "run as root: the image files need their owners (mysql, www-data), which only root can set"
need /bin/busybox
if ldd /bin/busybox >/dev/null 2>&1; then
	die "/bin/busybox is dynamically linked; install busybox-static"
fi
command -v "$DOCKER" >/dev/null || die "no docker CLI ($DOCKER)"
"$DOCKER" version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
	die "no Docker engine answers (is dockerd running, may you use its socket?)"

work=$(mktemp -d "${TMPDIR:-/tmp}/echobase-images.XXXXXX")
smoke=()
cleanup() {
	local c
	for c in "${smoke[@]}"; do "$DOCKER" rm -f "$c" >/dev/null 2>&1 || true; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Two builds at once would race on the tags.
exec 9>"${TMPDIR:-/tmp}/echobase-images.lock"
flock -w 300 9 || die "another build.sh holds ${TMPDIR:-/tmp}/echobase-images.lock"

# ---------------------------------------------------------------- rootfs helpers
# A recipe runs twice at most.  First with DRY=1: file copies only record
# "destination sha256-of-source" lines in $manifest (everything else, small,
# is created for real), which gives the image's content hash without copying
# 20-60 MB.  Only when that hash differs from the image's label does the
# recipe run again with DRY=0 to assemble the real root filesystem.

DRY=0
manifest=/dev/null

# record SRC DST [MODE]: the content of SRC will be at DST (mode: SRC's, or MODE).
record() {
	printf '%s\t%s\t%s\n' "$2" "$1" "${3:-}" >>"$manifest"
}

# manifest_digest: what the recorded files are: placements, then the
# checksums and modes of their sources (one sha256sum and one stat for all).
manifest_digest() {
	local srcs=$manifest.srcs
	sort -u "$manifest"
	cut -f2 "$manifest" | sort -u >"$srcs"
	[ -s "$srcs" ] || return 0
	xargs -d '\n' -a "$srcs" sha256sum
	xargs -d '\n' -a "$srcs" stat -L -c '%a %n'
}

# copy_file R SRC [DST]: SRC (symlinks followed) to R/DST (default: same path).
copy_file() {
	local r=$1 src=$2 dst=${3:-$2}
	if [ "$DRY" = 1 ]; then
		record "$src" "$dst"
		return 0
	fi
	mkdir -p "$r$(dirname "$dst")"
	cp -L --preserve=mode "$src" "$r$dst"
}

# copy_tree R SRCDIR DSTDIR NAME...: the named files and directories of SRCDIR, recursively.
copy_tree() {
	local r=$1 src=$2 dst=$3 f
	shift 3
	if [ "$DRY" = 1 ]; then
		while IFS= read -r -d '' f; do
			record "$src/$f" "$dst/$f"
		done < <(cd "$src" && find "$@" -type f -print0 | sort -z)
		return 0
	fi
	mkdir -p "$r$dst"
	(cd "$src" && cp -a "$@" "$r$dst/")
}

# copy_bin R FILE...: executables plus every shared library they load, at
# the paths the dynamic loader looks for them.
copy_bin() {
	local r=$1 f l
	shift
	for f; do
		need "$f"
		copy_file "$r" "$f"
		while read -r l; do
			[ -n "$l" ] || continue
			[ -e "$r$l" ] || copy_file "$r" "$l"
		done < <(ldd "$f" 2>/dev/null | awk '/=> \//{print $3} /^\t\/[^ ]+ \(/{print $1}')
	done
}

# install_file R SRC DST [MODE]: a file from this directory into the image.
install_file() {
	local r=$1 src=$HERE/$2 dst=$3 mode=${4:-0644}
	need "$src"
	if [ "$DRY" = 1 ]; then
		record "$src" "$dst" "$mode"
		return 0
	fi
	mkdir -p "$r$(dirname "$dst")"
	cp "$src" "$r$dst"
	chmod "$mode" "$r$dst"
}

# The skeleton every image starts from, made once per run: directories,
# static busybox and its applet links (400 of them: copying the tree is much
# faster than 400 `ln` per image), users, name service files.
make_skeleton() {
	local r=$work/skeleton
	mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,usr/local/lib/echobase,lib,etc,tmp,root,proc,sys,dev,run,var/tmp}
	# one perl process instead of 400 `ln` (perl-base is Essential in Debian)
	/bin/busybox --list-full | grep -vx bin/busybox |
		(cd "$r" && xargs perl -e 'for (@ARGV) { -e $_ or -l $_ or symlink("/bin/busybox", $_) or die "$_: $!\n" }')
	chmod 1777 "$r/tmp" "$r/var/tmp"
	chmod 0700 "$r/root"
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$r/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
	printf 'hosts: files dns\npasswd: files\ngroup: files\n' >"$r/etc/nsswitch.conf"
	: >"$r/etc/hosts"
	: >"$r/etc/resolv.conf"
	: >"$r/etc/hostname"
}

# base_rootfs R: the skeleton, busybox, the shared shell functions.
base_rootfs() {
	local r=$1
	[ -d "$work/skeleton" ] || make_skeleton
	cp -a "$work/skeleton/." "$r/"
	copy_file "$r" /bin/busybox
	install_file "$r" lib/common.sh /usr/local/lib/echobase/common.sh
}

add_user() { # R NAME UID GID HOME
	printf '%s:x:%s:%s:%s:%s:/bin/false\n' "$2" "$3" "$4" "$2" "$5" >>"$1/etc/passwd"
	printf '%s:x:%s:\n' "$2" "$4" >>"$1/etc/group"
}

# nginx_rootfs R: nginx, its libraries, mime.types, www-data (uid 33, as in
# Debian) and the compiled-in temp directories.
# The HTTPS images (api-gateway, frontend) add /usr/bin/openssl: busybox wget
# does https through `openssl s_client` when it finds one, and its built-in
# TLS fallback fails the handshake with the ECDSA (P-256) certificates the
# driver issues ("TLS error from peer (alert code 40)").
nginx_rootfs() {
	local r=$1 d
	copy_bin "$r" /usr/sbin/nginx
	add_user "$r" www-data 33 33 /var/www
	need /etc/nginx/mime.types
	copy_file "$r" /etc/nginx/mime.types
	mkdir -p "$r/etc/nginx/conf.d" "$r/var/log/nginx" "$r/var/www"
	for d in body fastcgi proxy scgi uwsgi; do mkdir -p "$r/var/lib/nginx/$d"; done
	chown -R 33:33 "$r/var/lib/nginx"
}

# ---------------------------------------------------------------- recipes
# recipe_NAME R CHANGES: fill the rootfs R, and write the image settings to
# CHANGES, one `docker import --change` value per line, plus optionally one
# line "STOPSIGNAL <sig>" (applied by the metadata-only build).

PATHENV='ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

recipe_mariadb() {
	local r=$1 ch=$2 uid gid
	base_rootfs "$r"
	copy_bin "$r" /usr/sbin/mariadbd /usr/bin/mariadb /usr/bin/my_print_defaults
	need /usr/bin/mariadb-install-db
	copy_file "$r" /usr/bin/mariadb-install-db
	mkdir -p "$r/usr/share/mysql"
	copy_tree "$r" /usr/share/mysql /usr/share/mysql charsets english $(cd /usr/share/mysql && echo ./*.sql)
	# The host's mysql uid/gid, so that a data directory shared with the host keeps its owner.
	uid=$(id -u mysql 2>/dev/null || echo 999)
	gid=$(id -g mysql 2>/dev/null || echo 999)
	add_user "$r" mysql "$uid" "$gid" /nonexistent
	mkdir -p "$r/var/lib/mysql" "$r/run/mysqld"
	chown "$uid:$gid" "$r/var/lib/mysql" "$r/run/mysqld"
	install_file "$r" mariadb/entrypoint.sh /usr/local/bin/docker-entrypoint.sh 0755
	cat >"$ch" <<-EOF
		$PATHENV
		EXPOSE 3306
		VOLUME /var/lib/mysql
		HEALTHCHECK --interval=2s --timeout=5s --start-period=60s --retries=5 CMD ["mariadb", "-h127.0.0.1", "-uhealthcheck", "-e", "select 1"]
		ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
		CMD []
	EOF
}

recipe_router() {
	local r=$1 ch=$2
	base_rootfs "$r"
	nginx_rootfs "$r"
	install_file "$r" router/nginx.conf /etc/nginx/nginx.conf
	install_file "$r" router/default.conf /etc/nginx/conf.d/default.conf
	cat >"$ch" <<-EOF
		$PATHENV
		EXPOSE 80 443 1443
		HEALTHCHECK --interval=2s --timeout=3s --start-period=10s --retries=3 CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8081/health"]
		CMD ["nginx", "-g", "daemon off;"]
		STOPSIGNAL SIGQUIT
	EOF
}

recipe_api-gateway() {
	local r=$1 ch=$2
	base_rootfs "$r"
	nginx_rootfs "$r"
	copy_bin "$r" /usr/bin/mariadb /usr/bin/openssl
	install_file "$r" api-gateway/nginx.conf /etc/nginx/nginx.conf
	install_file "$r" api-gateway/cgi-bin/api /srv/api/cgi-bin/api 0755
	install_file "$r" api-gateway/entrypoint.sh /usr/local/bin/docker-entrypoint.sh 0755
	install_file "$r" api-gateway/healthcheck.sh /usr/local/bin/healthcheck 0755
	cat >"$ch" <<-EOF
		$PATHENV
		EXPOSE 3001
		HEALTHCHECK --interval=2s --timeout=5s --start-period=10s --retries=3 CMD ["/usr/local/bin/healthcheck"]
		ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
		CMD []
		STOPSIGNAL SIGQUIT
	EOF
}

recipe_frontend() {
	local r=$1 ch=$2
	base_rootfs "$r"
	nginx_rootfs "$r"
	copy_bin "$r" /usr/bin/openssl
	install_file "$r" frontend/nginx.conf /etc/nginx/nginx.conf
	install_file "$r" frontend/index.html /usr/share/echobase/www/index.html
	install_file "$r" frontend/entrypoint.sh /usr/local/bin/docker-entrypoint.sh 0755
	install_file "$r" frontend/healthcheck.sh /usr/local/bin/healthcheck 0755
	cat >"$ch" <<-EOF
		$PATHENV
		EXPOSE 3000 3443
		HEALTHCHECK --interval=2s --timeout=5s --start-period=10s --retries=3 CMD ["/usr/local/bin/healthcheck"]
		ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
		CMD []
		STOPSIGNAL SIGQUIT
	EOF
}

recipe_order-processor() {
	local r=$1 ch=$2
	base_rootfs "$r"
	copy_bin "$r" /usr/bin/mariadb
	install_file "$r" order-processor/processor.sh /usr/local/bin/order-processor 0755
	install_file "$r" order-processor/healthcheck.sh /usr/local/bin/healthcheck 0755
	cat >"$ch" <<-EOF
		$PATHENV
		HEALTHCHECK --interval=2s --timeout=5s --start-period=10s --retries=3 CMD ["/usr/local/bin/healthcheck"]
		ENTRYPOINT ["/usr/local/bin/order-processor"]
		CMD []
	EOF
}

recipe_localstack() {
	local r=$1 ch=$2
	base_rootfs "$r"
	install_file "$r" localstack/health.json /www/_localstack/health
	install_file "$r" localstack/entrypoint.sh /usr/local/bin/docker-entrypoint.sh 0755
	cat >"$ch" <<-EOF
		$PATHENV
		EXPOSE 4566 4571
		HEALTHCHECK --interval=2s --timeout=5s --start-period=10s --retries=3 CMD wget -q -O /dev/null http://127.0.0.1:4566/_localstack/health && wget -q -O /dev/null http://127.0.0.1:4571/_localstack/health
		ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
		CMD []
	EOF
}

# Job image for the example's validate/build/test jobs: bash (the runner's
# scripts), git (the runner's get_sources step, https included), curl (tests
# against a color), busybox, the CA bundle.
recipe_ci-tools() {
	local r=$1 ch=$2 f
	base_rootfs "$r"
	copy_bin "$r" /bin/bash /usr/bin/git /usr/bin/curl /usr/lib/git-core/git-remote-http
	ln -sf /bin/bash "$r/usr/bin/bash"
	mkdir -p "$r/usr/lib/git-core"
	for f in git git-upload-pack git-receive-pack git-upload-archive; do
		ln -sf /usr/bin/git "$r/usr/lib/git-core/$f"
	done
	ln -sf git-remote-http "$r/usr/lib/git-core/git-remote-https"
	[ ! -d /usr/share/git-core/templates ] ||
		copy_tree "$r" /usr/share/git-core /usr/share/git-core templates
	need /etc/ssl/certs/ca-certificates.crt
	copy_file "$r" /etc/ssl/certs/ca-certificates.crt
	cat >"$ch" <<-EOF
		$PATHENV
		ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
		CMD ["bash"]
	EOF
}

# ---------------------------------------------------------------- smoke tests
# Run on a fresh import: the binaries load (all libraries present) and the
# configuration parses where it can without the runtime mounts.

smoke_run() { # IMAGE ENTRYPOINT ARGS...
	local n="echobase-build-smoke-$$-${#smoke[@]}"
	smoke+=("$n")
	"$DOCKER" run --rm --name "$n" --label io.echobase.build=smoke --network none \
		--entrypoint "$2" "$1" "${@:3}"
}

smoke_mariadb() {
	smoke_run "$1" mariadbd --version >/dev/null 2>&1 && smoke_run "$1" mariadb --version >/dev/null
}
smoke_router() { smoke_run "$1" nginx -t -q; }
smoke_api-gateway() {
	smoke_run "$1" nginx -v 2>/dev/null && smoke_run "$1" mariadb --version >/dev/null &&
		smoke_run "$1" sh -n /srv/api/cgi-bin/api
}
smoke_frontend() { smoke_run "$1" nginx -v 2>/dev/null; }
smoke_order-processor() {
	smoke_run "$1" mariadb --version >/dev/null && smoke_run "$1" sh -n /usr/local/bin/order-processor
}
smoke_localstack() { smoke_run "$1" sh -n /usr/local/bin/docker-entrypoint.sh; }
smoke_ci-tools() {
	smoke_run "$1" bash -c 'set -e; git --version; curl --version; cd /tmp; git init -q t; rc=0; /usr/lib/git-core/git-remote-https x y </dev/null 2>/dev/null || rc=$?; [ $rc != 127 ]' >/dev/null
}

# ---------------------------------------------------------------- build

build_one() {
	local name=$1 image="$REPO/$1:$TAG" d="$work/$1" r="$work/$1/rootfs" ch="$work/$1/changes" tarf="$work/$1/rootfs.tar"
	local hash have prev new t0 line out sig="" args=()
	t0=$(date +%s.%N)

	# 1. content hash: the small files for real, the big ones by checksum
	mkdir -p "$d/dry"
	DRY=1 manifest="$d/manifest"
	: >"$manifest"
	"recipe_$name" "$d/dry" "$ch"
	hash=$( {
		echo "echobase-image-v1 $name"
		tar -C "$d/dry" --sort=name --mtime=@0 --numeric-owner --format=gnu -c . | sha256sum
		manifest_digest
		cat "$ch"
	} | sha256sum | cut -c1-64)
	DRY=0 manifest=/dev/null
	have=$("$DOCKER" image inspect -f "{{index .Config.Labels \"$HASH_LABEL\"}}" "$image" 2>/dev/null || true)
	if [ "$force" = 0 ] && [ "$have" = "$hash" ]; then
		say "$image is up to date (${hash:0:12})"
		return 0
	fi

	# 2. the real root filesystem, imported
	mkdir -p "$r"
	"recipe_$name" "$r" "$ch"
	tar -C "$r" --sort=name --mtime=@0 --numeric-owner --format=gnu -cf "$tarf" .
	prev=$("$DOCKER" image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
	while IFS= read -r line; do
		case $line in
		'') ;;
		STOPSIGNAL\ *) sig=${line#STOPSIGNAL } ;;
		*) args+=(--change "$line") ;;
		esac
	done <"$ch"
	args+=(--change "LABEL $HASH_LABEL=$hash" --change "LABEL org.opencontainers.image.title=$image")
	new=$("$DOCKER" import "${args[@]}" -m "echobase example image $name" "$tarf")
	if [ -n "$sig" ]; then
		new=$(printf 'FROM %s\nSTOPSIGNAL %s\n' "$new" "$sig" |
			DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "$image" - 2>/dev/null) ||
			die "$image: the metadata-only build (STOPSIGNAL $sig) failed; run: printf 'FROM $new\\nSTOPSIGNAL $sig\\n' | DOCKER_BUILDKIT=0 $DOCKER build -t $image -"
	else
		"$DOCKER" tag "$new" "$image"
	fi
	if ! "smoke_$name" "$image"; then
		"$DOCKER" rmi "$image" >/dev/null 2>&1 || true
		die "$image was built but its smoke test failed; removed it"
	fi
	# The replaced image, unless a container still uses it.
	if [ -n "$prev" ] && [ "$prev" != "$("$DOCKER" image inspect -f '{{.Id}}' "$image")" ]; then
		if ! out=$("$DOCKER" rmi "$prev" 2>&1); then
			say "note: the previous $image (${prev#sha256:}) stays: ${out##*: }"
		fi
	fi
	say "$image built in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s ($(du -sh "$r" | cut -f1), ${hash:0:12})"
}

for n in "${names[@]}"; do
	build_one "$n"
done
