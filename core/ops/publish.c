/*
 * publish.c - `venvctl publish`: envs and every object they reach into a directory
 * served over HTTP, HEAD replaced last (publish.h).
 */
#include "ops/publish.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "env/env.h"
#include "ops/manifest.h"
#include "ops/reach.h"
#include "python/python.h"
#include "store/odb.h"
#include "store/remote.h"
#include "store/store.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/strv.h"

/* The directory's temp files (unnamed where the filesystem allows): a name a server's
 * readers never ask for. */
#define PUB_TMP ".venvfs-tmp"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The env names to publish, sorted and distinct, malloc'd. */
static int pick_names(struct vv_store *st, char *const *names, size_t n, char ***out,
		      size_t *nout)
{
	if (n == 0)
		return vv_env_list(st, out, nout);
	char **v = calloc(n, sizeof(*v));
	if (!v)
		return vv_err(-ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		if (!(v[i] = strdup(names[i]))) {
			vv_strv_free(v, i);
			return vv_err(-ENOMEM, "out of memory");
		}
	qsort(v, n, sizeof(*v), cmp_str);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (k && !strcmp(v[k - 1], v[i]))
			free(v[i]);
		else
			v[k++] = v[i];
	}
	*out = v;
	*nout = k;
	return 0;
}

/* Put one object of st into pod unless it is there: verified, then linked or copied. */
static int copy_object(struct vv_store *st, struct vv_odb *pod, const vv_oid *oid,
		       struct vv_publish_result *res)
{
	int r = vv_odb_has(pod, oid);
	if (r != 0)
		return r < 0 ? r : 0;
	struct stat sb;
	r = vv_odb_check(&st->odb, oid, true, &sb);
	char shown[VV_ODB_PATH_SIZE];
	vv_odb_obj_path(oid, shown);
	if (r == 0 || r == 2)
		return vv_err(-EUCLEAN, "object '%s' in store '%s' is damaged (run venvctl "
			      "fsck): not published", shown, st->path);
	if (r < 0)
		return r;
	int fd = vv_odb_open_obj(&st->odb, oid);
	if (fd < 0)
		return fd;
	r = vv_odb_link_synced(pod, fd, oid); /* a hard link on the same filesystem */
	if (r == -EXDEV) {
		vv_oid got;
		r = vv_odb_put_fd(pod, fd, &got, NULL);
		if (r == 0 && !vv_oid_eq(&got, oid))
			r = vv_err(-EUCLEAN, "object '%s' changed while it was published", shown);
	}
	close(fd);
	if (r == 0) {
		res->added++;
		res->added_bytes += (uint64_t)sb.st_size;
	}
	return r;
}

static int cmp_py(const void *a, const void *b)
{
	return strcmp(((const struct vv_manifest_py *)a)->exe,
		      ((const struct vv_manifest_py *)b)->exe);
}

/* The interpreters the envs name, each once, in path order, with their versions. */
static int interpreters(struct vv_store *st, const struct vv_envcfg *cfgs, size_t n,
			struct vv_manifest_py **out, size_t *nout)
{
	struct vv_manifest_py *v = calloc(n ? n : 1, sizeof(*v));
	size_t k = 0;
	int r = v ? 0 : vv_err(-ENOMEM, "out of memory");
	for (size_t i = 0; i < n && r == 0; i++) {
		bool seen = false;
		for (size_t j = 0; j < k && !seen; j++)
			seen = !strcmp(v[j].exe, cfgs[i].python);
		if (seen)
			continue;
		struct vv_python py = { 0 };
		if ((r = vv_python_load(st, cfgs[i].python, NULL, &py)) < 0) {
			r = vv_err_prefix(r, "the interpreter of the envs '%s'", cfgs[i].python);
			break;
		}
		v[k].exe = strdup(cfgs[i].python);
		v[k].version = strdup(py.version);
		vv_python_release(&py);
		if (!v[k].exe || !v[k].version) {
			free(v[k].exe);
			free(v[k].version);
			r = vv_err(-ENOMEM, "out of memory");
			break;
		}
		k++;
	}
	*out = v;
	*nout = k;
	if (r == 0)
		qsort(v, k, sizeof(*v), cmp_py);
	return r;
}

static int open_dir(const char *dir, int *dirfd, int *objfd, int *tmpfd)
{
	*dirfd = *objfd = *tmpfd = -1;
	int r = vv_mkdir_p_at(AT_FDCWD, dir, 0755);
	if (r < 0)
		return vv_err_prefix(r, "publish directory");
	*dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*dirfd < 0)
		return vv_err_sys(-errno, "cannot open publish directory '%s'", dir);
	if ((mkdirat(*dirfd, "objects", 0755) < 0 && errno != EEXIST) ||
	    (mkdirat(*dirfd, PUB_TMP, 0700) < 0 && errno != EEXIST))
		r = vv_err_sys(-errno, "cannot make the layout of '%s'", dir);
	if (r == 0 && (*objfd = openat(*dirfd, "objects", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		r = vv_err_sys(-errno, "cannot open '%s/objects'", dir);
	if (r == 0 && (*tmpfd = openat(*dirfd, PUB_TMP, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		r = vv_err_sys(-errno, "cannot open '%s/%s'", dir, PUB_TMP);
	return r;
}

int vv_publish(struct vv_store *st, char *const *names, size_t n, const char *dir,
	       struct vv_publish_result *res)
{
	memset(res, 0, sizeof(*res));
	char **envs = NULL;
	size_t nenv = 0;
	struct vv_envcfg *cfgs = NULL;
	struct vv_reach *reach = NULL;
	int dirfd = -1, objfd = -1, tmpfd = -1;
	char *text = NULL;
	size_t tlen = 0, npy = 0;
	struct vv_manifest_py *pys = NULL;
	int r = pick_names(st, names, n, &envs, &nenv);
	if (r < 0)
		return r;
	if (nenv == 0) {
		r = vv_err(-ENOENT, "store '%s' has no env to publish", st->path);
		goto out;
	}
	if (!(cfgs = calloc(nenv, sizeof(*cfgs)))) {
		r = vv_err(-ENOMEM, "out of memory");
		goto out;
	}
	/* every env as committed: the manifest names committed roots only */
	for (size_t i = 0; i < nenv && r == 0; i++) {
		if (strchr(envs[i], '\n'))
			r = vv_err(-EINVAL, "env name '%s' holds a newline: it cannot be published",
				   envs[i]);
		else if ((r = vv_env_load(st, envs[i], &cfgs[i])) == 0)
			r = vv_env_check_committed(st, envs[i], &cfgs[i].root);
	}
	if (r < 0 || (r = vv_reach_new(st, &reach)) < 0)
		goto out;
	for (size_t i = 0; i < nenv && r == 0; i++)
		if ((r = vv_reach_tree(reach, &cfgs[i].root)) < 0)
			r = vv_err_prefix(r, "env '%s'", envs[i]);
	if (r < 0 || (r = open_dir(dir, &dirfd, &objfd, &tmpfd)) < 0)
		goto out;
	struct vv_odb pod;
	vv_odb_init(&pod, dir, objfd, tmpfd, -1, false);
	size_t total = vv_reach_count(reach);
	for (size_t i = 0; i < total && r == 0; i++) {
		struct vv_reach_node *nd = vv_reach_at(reach, i);
		if (!(nd->flags & (VV_RN_FILE | VV_RN_TREE)))
			continue;
		res->objects++;
		r = copy_object(st, &pod, &nd->oid, res);
	}
	/* the objects' bytes and names durable before the manifest names them */
	if (r < 0 || (r = vv_odb_sync(&pod)) < 0)
		goto out;
	if ((r = interpreters(st, cfgs, nenv, &pys, &npy)) < 0 ||
	    (r = vv_manifest_format(pys, npy, envs, cfgs, nenv, &text, &tlen)) < 0 ||
	    (r = vv_odb_put_buf(&pod, text, tlen, &res->manifest)) < 0)
		goto out;
	char head[VV_REMOTE_HEAD_SIZE + 1];
	vv_remote_head_format(&res->manifest, head);
	if ((r = vv_write_file_atomic(dirfd, "HEAD", head, strlen(head), 0644)) < 0)
		r = vv_err_prefix(r, "publish directory '%s'", dir);
	res->envs = nenv;
out:
	for (size_t i = 0; i < npy; i++) {
		free(pys[i].version);
		free(pys[i].exe);
	}
	free(pys);
	free(text);
	if (cfgs)
		for (size_t i = 0; i < nenv; i++)
			vv_envcfg_release(&cfgs[i]);
	free(cfgs);
	vv_strv_free(envs, nenv);
	vv_reach_free(reach);
	if (tmpfd >= 0)
		close(tmpfd);
	if (objfd >= 0)
		close(objfd);
	if (dirfd >= 0)
		close(dirfd);
	return r;
}
