#!/bin/sh
# echobase/mariadb entrypoint (busybox sh, PID 1 until it execs mariadbd).
#
# First start on an empty data directory (no /var/lib/mysql/mysql):
#   mariadb-install-db, then an init file, run by the server before it accepts
#   connections, that
#     - sets root's password (MARIADB_ROOT_PASSWORD, required) for localhost
#       and '%', and drops the password-less root@127.0.0.1 / root@::1 /
#       root@<hostname> accounts install-db creates;
#     - creates a password-less, privilege-less healthcheck@127.0.0.1 for the
#       HEALTHCHECK (it can log in and run `select 1`, nothing else);
#     - creates MARIADB_DATABASE, and MARIADB_USER / MARIADB_PASSWORD with all
#       privileges on that database.
#   So the first successful password login means initialisation is done.
# Later starts on an existing volume ignore the variables: the data directory
# keeps the accounts it was created with.
#
# Each MARIADB_* variable may instead be given as MARIADB_*_FILE, the path of
# a file holding the value (for secrets mounted as files).  Values are never
# printed and never put on a command line.
set -eu
datadir=/var/lib/mysql

# file_env VAR: VAR from VAR_FILE when VAR is unset or empty.
file_env() {
	eval "v=\${$1:-}; f=\${$1_FILE:-}"
	if [ -z "$v" ] && [ -n "$f" ]; then
		if [ ! -r "$f" ]; then
			echo "mariadb: $1_FILE=$f is not a readable file" >&2
			exit 1
		fi
		v=$(cat "$f")
		eval "$1=\$v"
		export "$1"
	fi
	unset v f
}
for var in MARIADB_ROOT_PASSWORD MARIADB_DATABASE MARIADB_USER MARIADB_PASSWORD; do
	file_env "$var"
done

# SQL string literal body: double ' and \.  Identifier body: double `.
sqlstr() { printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/''/g"; }
sqlid() { printf '%s' "$1" | sed -e 's/`/``/g'; }

if [ "$(id -u)" = 0 ]; then
	# A bind-mounted data directory is not pre-populated (and not chowned) the
	# way an empty named volume is.
	chown mysql:mysql "$datadir" /run/mysqld
fi

# A previous first start left its init file (it holds the passwords): not needed any more.
rm -f /run/mysqld/init.sql

if [ ! -d "$datadir/mysql" ]; then
	if [ -z "${MARIADB_ROOT_PASSWORD:-}" ]; then
		echo "mariadb: first start on an empty data directory needs MARIADB_ROOT_PASSWORD (or MARIADB_ROOT_PASSWORD_FILE)" >&2
		exit 1
	fi
	echo "mariadb: empty data directory, initialising" >&2
	# --force: the image has no resolveip; --skip-name-resolve alone does not skip that check.
	if ! mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db \
		--auth-root-authentication-method=normal --skip-name-resolve --force \
		>/tmp/install-db.log 2>&1; then
		cat /tmp/install-db.log >&2
		exit 1
	fi
	init=/run/mysqld/init.sql
	umask 077
	rootpw=$(sqlstr "$MARIADB_ROOT_PASSWORD")
	{
		printf '%s\n' "ALTER USER 'root'@'localhost' IDENTIFIED BY '$rootpw';"
		printf '%s\n' "CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '$rootpw';"
		printf '%s\n' "GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;"
		printf '%s\n' "DROP USER IF EXISTS 'root'@'127.0.0.1';"
		printf '%s\n' "DROP USER IF EXISTS 'root'@'::1';"
		printf '%s\n' "DROP USER IF EXISTS 'root'@'$(sqlstr "$(hostname)")';"
		printf '%s\n' "CREATE USER IF NOT EXISTS 'healthcheck'@'127.0.0.1';"
		if [ -n "${MARIADB_DATABASE:-}" ]; then
			printf '%s\n' "CREATE DATABASE IF NOT EXISTS \`$(sqlid "$MARIADB_DATABASE")\`;"
		fi
		if [ -n "${MARIADB_USER:-}" ] && [ -n "${MARIADB_PASSWORD:-}" ]; then
			printf '%s\n' "CREATE USER IF NOT EXISTS '$(sqlstr "$MARIADB_USER")'@'%' IDENTIFIED BY '$(sqlstr "$MARIADB_PASSWORD")';"
			if [ -n "${MARIADB_DATABASE:-}" ]; then
				printf '%s\n' "GRANT ALL PRIVILEGES ON \`$(sqlid "$MARIADB_DATABASE")\`.* TO '$(sqlstr "$MARIADB_USER")'@'%';"
			fi
		fi
		printf '%s\n' "FLUSH PRIVILEGES;"
	} >"$init"
	unset rootpw
	chown mysql:mysql "$init"
	umask 022
	set -- --init-file="$init" "$@"
fi
# The passwords are in the data directory now; keep them out of the server's environment.
unset MARIADB_ROOT_PASSWORD MARIADB_PASSWORD MARIADB_ROOT_PASSWORD_FILE MARIADB_PASSWORD_FILE

# exec: mariadbd is PID 1 and gets docker stop's SIGTERM directly (clean shutdown in ~0.2 s).
exec mariadbd --user=mysql --datadir="$datadir" --bind-address=0.0.0.0 --skip-name-resolve \
	--character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
	--innodb-buffer-pool-size="${MARIADB_INNODB_BUFFER_POOL_SIZE:-32M}" "$@"
