# Shared shell functions of the echobase example images (busybox sh).
# Installed as /usr/local/lib/echobase/common.sh; sourced by the entrypoints,
# the api-gateway CGI and the order-processor.

ECHOBASE_RUN=/run/executor
DB_CNF=$ECHOBASE_RUN/db.cnf

die() {
	echo "${ECHOBASE_SERVICE:-echobase}: $*" >&2
	exit 1
}

log() {
	echo "${ECHOBASE_SERVICE:-echobase}: $*" >&2
}

# executor_color: the color this container belongs to (EXECUTOR_COLOR, set by
# the driver), checked, because it ends up in nginx configuration, SQL and JSON.
executor_color() {
	c=${EXECUTOR_COLOR:-none}
	case $c in
	*[!A-Za-z0-9_.-]*) die "EXECUTOR_COLOR must be letters, digits, '.', '_' or '-' (got something else)" ;;
	esac
	[ ${#c} -le 32 ] || die "EXECUTOR_COLOR is longer than 32 characters"
	printf '%s' "$c"
}

# file_env VAR: VAR from VAR_FILE when VAR is unset or empty.
file_env() {
	eval "fe_v=\${$1:-}; fe_f=\${$1_FILE:-}"
	if [ -z "$fe_v" ] && [ -n "$fe_f" ]; then
		[ -r "$fe_f" ] || die "$1_FILE=$fe_f is not a readable file"
		fe_v=$(cat "$fe_f")
		eval "$1=\$fe_v"
		export "$1"
	fi
	unset fe_v fe_f
}

# cnf_quote VALUE: a double-quoted MariaDB option-file value.
cnf_quote() {
	printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
}

# db_write_cnf OWNER: write the client option file $DB_CNF (mode 0400, owned
# by OWNER) from DB_HOST (default mariadb: the durable network's database),
# DB_PORT (3306), DB_USER, DB_PASSWORD (or DB_PASSWORD_FILE) and DB_NAME, so
# that the password never appears on a command line.
db_write_cnf() {
	file_env DB_PASSWORD
	: "${DB_USER:?DB_USER is not set (the driver passes the env's generated DB_USER)}"
	: "${DB_PASSWORD:?DB_PASSWORD is not set (the driver passes the env's generated DB_PASSWORD)}"
	: "${DB_NAME:?DB_NAME is not set (the driver passes the env's DB_NAME)}"
	mkdir -p "$ECHOBASE_RUN"
	(
		umask 077
		{
			echo "[client]"
			echo "host=${DB_HOST:-mariadb}"
			echo "port=${DB_PORT:-3306}"
			echo "user=$(cnf_quote "$DB_USER")"
			echo "password=$(cnf_quote "$DB_PASSWORD")"
			echo "connect-timeout=${DB_CONNECT_TIMEOUT:-3}"
			echo "default-character-set=utf8mb4"
			echo "[mysql]"
			echo "database=$(cnf_quote "$DB_NAME")"
		} >"$DB_CNF.tmp"
	)
	chown "$1" "$DB_CNF.tmp"
	chmod 0400 "$DB_CNF.tmp"
	mv -f "$DB_CNF.tmp" "$DB_CNF"
}

# db [mariadb options...]: run the mariadb client against the env's database
# (batch mode, raw output, no column names).  SQL comes with -e.
db() {
	mariadb --defaults-extra-file="$DB_CNF" --batch --raw --skip-column-names "$@"
}

# The one table of the example.  Run before each use: cheap, idempotent, and
# it makes a fresh durable database usable without a migration job.
ORDERS_SCHEMA="CREATE TABLE IF NOT EXISTS orders (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  payload MEDIUMTEXT NOT NULL,
  status VARCHAR(16) NOT NULL DEFAULT 'new',
  created_by VARCHAR(32) NOT NULL,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  processed_by VARCHAR(96) NULL,
  processed_at TIMESTAMP(3) NULL,
  KEY status_idx (status)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;"
