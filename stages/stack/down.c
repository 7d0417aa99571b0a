/* SPDX-License-Identifier: MIT */
/* The stack's containers listed and removed (stack_containers, stack_down). */

#include <pthread.h>

#include "common/log.h"
#include "stages/stack/internal.h"

int stack_containers(struct docker_client *c, const char *project, json_object **out,
		     struct error *err)
{
	char pl[512];
	const char *filters[] = {pl, "io.executor.managed=true", NULL};

	snprintf(pl, sizeof(pl), "com.docker.compose.project=%s", project);
	return docker_container_list(c, filters, 1, out, err);
}

struct remove_task {
	struct docker_client *docker;
	const char *id;
	const char *name;
	struct error err;
	int rc;
};

static void *remove_one(void *arg)
{
	struct remove_task *t = arg;
	struct docker_client *c = docker_client_clone(t->docker, &t->err);

	t->rc = -1;
	if (!c)
		return NULL;
	/* a graceful stop first, as long as the service's stop_grace_period
	 * allows (the container's StopTimeout, which the engine applies when the
	 * stop names none; 10 s without one): databases flush, nginx drains */
	if (docker_container_stop(c, t->id, -1, &t->err) < 0)
		error_clear(&t->err);
	if (docker_container_remove(c, t->id, 1, 0, &t->err) < 0)
		error_wrap(&t->err, "remove container %s", t->name);
	else
		t->rc = 0;
	docker_client_free(c);
	return NULL;
}

int stack_down(struct docker_client *c, const char *project, const char *layer, const char *app,
	       int remove_volumes, struct error *err)
{
	char pl[512], ll[128], al[128];
	const char *filters[5] = {pl, "io.executor.managed=true"};
	json_object *list = NULL;
	size_t i, n, k = 2;

	snprintf(pl, sizeof(pl), "com.docker.compose.project=%s", project);
	/* the project's name alone is not enough: another app's or layer's
	 * project may carry the same name */
	if (layer) {
		snprintf(ll, sizeof(ll), "%s=%s", STACK_LABEL_LAYER, layer);
		filters[k++] = ll;
	}
	if (app) {
		snprintf(al, sizeof(al), "%s=%s", STACK_LABEL_APP, app);
		filters[k++] = al;
	}
	filters[k] = NULL;
	if (docker_container_list(c, filters, 1, &list, err) < 0)
		return error_wrap(err, "list containers of %s", project);
	n = json_object_array_length(list);
	{
		/* every container stops at once: the slowest sets the time, not the sum */
		struct remove_task *tasks = calloc(n ? n : 1, sizeof(*tasks));
		pthread_t *th = calloc(n ? n : 1, sizeof(*th));
		int *started = calloc(n ? n : 1, sizeof(*started));
		int rc = 0;

		if (!tasks || !th || !started) {
			free(tasks);
			free(th);
			free(started);
			json_object_put(list);
			return error_set(err, ERR_SYSTEM, "out of memory");
		}
		for (i = 0; i < n; i++) {
			json_object *ct = json_object_array_get_idx(list, i), *id, *names;

			tasks[i].docker = c;
			tasks[i].name = "?";
			if (!json_object_object_get_ex(ct, "Id", &id))
				continue;
			tasks[i].id = json_object_get_string(id);
			if (json_object_object_get_ex(ct, "Names", &names) &&
			    json_object_array_length(names) > 0)
				tasks[i].name =
					json_object_get_string(json_object_array_get_idx(names, 0));
			if (tasks[i].name[0] == '/')
				tasks[i].name++;
			if (n > 1 && pthread_create(&th[i], NULL, remove_one, &tasks[i]) == 0)
				started[i] = 1;
			else
				remove_one(&tasks[i]);
		}
		for (i = 0; i < n; i++)
			if (started[i])
				pthread_join(th[i], NULL);
		for (i = 0; i < n; i++) {
			if (!tasks[i].id)
				continue;
			if (tasks[i].rc < 0) {
				if (rc == 0)
					*err = tasks[i].err;
				rc = -1;
			} else {
				log_info("Removed container %s", tasks[i].name);
			}
		}
		free(tasks);
		free(th);
		free(started);
		if (rc < 0) {
			json_object_put(list);
			return -1;
		}
	}
	json_object_put(list);
	list = NULL;
	if (docker_network_list(c, filters, &list, err) < 0)
		return error_wrap(err, "list networks of %s", project);
	n = json_object_array_length(list);
	for (i = 0; i < n; i++) {
		json_object *net = json_object_array_get_idx(list, i), *name;

		if (!json_object_object_get_ex(net, "Name", &name))
			continue;
		if (docker_network_remove(c, json_object_get_string(name), err) < 0) {
			/* name lives in list: the message first, then the put */
			error_wrap(err, "remove network %s", json_object_get_string(name));
			json_object_put(list);
			return -1;
		}
		log_info("Removed network %s", json_object_get_string(name));
	}
	json_object_put(list);
	list = NULL;
	if (!remove_volumes)
		return 0;
	if (docker_volume_list(c, filters, &list, err) < 0)
		return error_wrap(err, "list volumes of %s", project);
	n = json_object_array_length(list);
	for (i = 0; i < n; i++) {
		json_object *vol = json_object_array_get_idx(list, i), *name;

		if (!json_object_object_get_ex(vol, "Name", &name))
			continue;
		if (docker_volume_remove(c, json_object_get_string(name), 0, err) < 0) {
			/* name lives in list: the message first, then the put */
			error_wrap(err, "remove volume %s", json_object_get_string(name));
			json_object_put(list);
			return -1;
		}
		log_info("Removed volume %s (its data is gone)", json_object_get_string(name));
	}
	json_object_put(list);
	return 0;
}
