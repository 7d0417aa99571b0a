/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/cleanup.h"
#include "docker/docker.h"
#include "docker/internal.h"

#define TAR_BLOCK	       512u
#define TAR_NAME_MAX	       100u
#define TAR_PREFIX_MAX	       155u
#define TAR_SIZE_MAX	       077777777777ull /* 11 octal digits: 8 GiB - 1 */
#define TAR_ID_MAX	       07777777u       /* 7 octal digits */
#define ARCHIVE_PUT_TIMEOUT_MS (10L * 60L * 1000L)

struct ustar_header {
	char name[100];
	char mode[8];
	char uid[8];
	char gid[8];
	char size[12];
	char mtime[12];
	char chksum[8];
	char typeflag;
	char linkname[100];
	char magic[6];
	char version[2];
	char uname[32];
	char gname[32];
	char devmajor[8];
	char devminor[8];
	char prefix[155];
	char pad[12];
};

_Static_assert(sizeof(struct ustar_header) == TAR_BLOCK, "ustar header is one block");

/* Octal, zero-padded, NUL-terminated, filling the field exactly. */
static void octal(char *field, size_t width, unsigned long long v)
{
	char tmp[32];

	snprintf(tmp, sizeof(tmp), "%0*llo", (int)(width - 1), v);
	memcpy(field, tmp, width);
}

/* No "..", no empty components, no leading "/" (stripped). */
static int name_ok(const char *name)
{
	const char *p = name;

	if (!*p)
		return 0;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if (n == 0 && slash && slash[1])
			return 0;
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return 0;
		if (!slash)
			break;
		p = slash + 1;
	}
	return 1;
}

/* Put name into name/prefix; -1 when it cannot be stored in ustar. */
static int set_name(struct ustar_header *h, const char *name, int is_dir)
{
	size_t len = strlen(name);
	char full[TAR_PREFIX_MAX + 1 + TAR_NAME_MAX + 2];
	size_t i;

	if (len + (is_dir ? 1 : 0) >= sizeof(full))
		return -1;
	memcpy(full, name, len + 1);
	if (is_dir && full[len - 1] != '/') {
		full[len++] = '/';
		full[len] = '\0';
	}
	if (len <= TAR_NAME_MAX) {
		memcpy(h->name, full, len);
		return 0;
	}
	/* split at a '/' so that prefix <= 155 and name <= 100, name not empty */
	for (i = 1; i < len && i <= TAR_PREFIX_MAX; i++) {
		if (full[i] != '/' || len - i - 1 > TAR_NAME_MAX || len - i - 1 == 0)
			continue;
		memcpy(h->prefix, full, i);
		memcpy(h->name, full + i + 1, len - i - 1);
		return 0;
	}
	return -1;
}

static int add_entry(struct buf *tar, const char *name, char type, const void *data, size_t len,
		     unsigned mode, unsigned uid, unsigned gid)
{
	static const char zeros[TAR_BLOCK];
	struct ustar_header h;
	const unsigned char *p = (const unsigned char *)&h;
	unsigned long sum = 0;
	size_t start = tar->len, i, pad;

	while (name && *name == '/')
		name++;
	if (!name || !name_ok(name) || (unsigned long long)len > TAR_SIZE_MAX || uid > TAR_ID_MAX ||
	    gid > TAR_ID_MAX)
		return -1;
	memset(&h, 0, sizeof(h));
	if (set_name(&h, name, type == '5') < 0)
		return -1;
	octal(h.mode, sizeof(h.mode), mode & 07777);
	octal(h.uid, sizeof(h.uid), uid);
	octal(h.gid, sizeof(h.gid), gid);
	octal(h.size, sizeof(h.size), len);
	octal(h.mtime, sizeof(h.mtime), (unsigned long long)time(NULL));
	h.typeflag = type;
	memcpy(h.magic, "ustar", 6);
	memcpy(h.version, "00", 2);
	/* the checksum is computed with its own field as eight spaces */
	memset(h.chksum, ' ', sizeof(h.chksum));
	for (i = 0; i < sizeof(h); i++)
		sum += p[i];
	snprintf(h.chksum, sizeof(h.chksum), "%06lo", sum);
	h.chksum[7] = ' ';

	pad = (TAR_BLOCK - len % TAR_BLOCK) % TAR_BLOCK;
	if (buf_append(tar, &h, sizeof(h)) < 0 || (len && buf_append(tar, data, len) < 0) ||
	    buf_append(tar, zeros, pad) < 0) {
		tar->len = start;
		if (tar->data)
			tar->data[start] = '\0';
		return -1;
	}
	return 0;
}

int docker_tar_add_file(struct buf *tar, const char *name, const void *data, size_t len,
			unsigned mode, unsigned uid, unsigned gid)
{
	if (len && !data)
		return -1;
	return add_entry(tar, name, '0', data, len, mode, uid, gid);
}

int docker_tar_add_dir(struct buf *tar, const char *name, unsigned mode, unsigned uid, unsigned gid)
{
	return add_entry(tar, name, '5', NULL, 0, mode, uid, gid);
}

int docker_tar_finish(struct buf *tar)
{
	static const char zeros[2 * TAR_BLOCK];

	return buf_append(tar, zeros, sizeof(zeros));
}

int docker_archive_put(struct docker_client *c, const char *container, const char *dir,
		       const void *tar, size_t tar_len, struct error *err)
{
	_cleanup_buf_ struct buf path = BUF_INIT;
	struct docker_request req = {
		.method = "PUT",
		.content_type = "application/x-tar",
		.body = tar,
		.body_len = tar_len,
		.timeout_ms = ARCHIVE_PUT_TIMEOUT_MS,
	};
	struct docker_response resp;
	int ret;

	if (docker_build_path(&path, "/containers", container, "/archive?path=", err) < 0)
		return -1;
	if (docker_urlencode(&path, dir) < 0)
		return error_set(err, ERR_SYSTEM, "out of memory");
	req.path = path.data;
	docker_response_init(&resp);
	ret = docker_request(c, &req, &resp, err);
	docker_response_release(&resp);
	if (ret < 0)
		return error_wrap(err, "copy files to %s in container %s", dir, container);
	return 0;
}
