/* SPDX-License-Identifier: MIT */
#ifndef DURABLE_OWNER_H
#define DURABLE_OWNER_H

/*
 * Who owns an application: the GitLab project that first acted on it from
 * a runner job, by the trusted payload's project id.
 *
 *   <state_dir>/apps/<app>/owner.json   0600
 *       {"project_id":42,"project":"group/echobase","since":"2026-12-07T17:00:00Z",
 *        "job_id":"4711"}
 *
 * The file is created once, atomically and exclusively (written to a
 * temporary file, then link(2)ed into place, which fails when another job
 * claimed the app first), and never rewritten by the driver.  Only an
 * admin removes it (to hand an app over).  The project path is kept for
 * messages only: decisions compare the id.
 */

#include "common/error.h"

#define DURABLE_OWNER_FILE "owner.json"

struct durable_owner {
	long long project_id; /* 0: nobody owns the app yet */
	char project[256];    /* the owner's path when it claimed, for messages */
	char since[32];
};

/* Read the owner of the app whose state lives in app_root; a missing file
 * is no owner (project_id 0), a corrupt one ERR_IO. */
int durable_owner_read(const char *app_root, struct durable_owner *out, struct error *err);

/*
 * Claim the app for project_id unless someone has: *out is the owner after
 * the call (this project, or the one that was first).  Creates app_root
 * (0700) when missing.
 */
int durable_owner_claim(const char *app_root, long long project_id, const char *project,
			const char *job_id, struct durable_owner *out, struct error *err);

#endif
