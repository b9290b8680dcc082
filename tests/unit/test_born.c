/*
 * test_born.c - envs made by tools (live/born.c) and the mount root's own files
 * (live/files.c): an env made unborn is empty and born as what its maker made - the
 * complete venv when nothing, a venv on the interpreter its pyvenv.cfg names (the
 * maker's entries winning over synthesized ones), or a folder - and stays so after a
 * reopen; the root's files are an env no name reaches, kept by commits and gc.
 * Uses the real default interpreter (python3 on PATH).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#include "env/env.h"
#include "live/mtree.h"
#include "ops/gc.h"
#include "util/error.h"
#include "store/store.h"

static struct vv_envset *open_set(struct vv_store *st)
{
	return vt_envset_open(st);
}

/* Make a file with content data in dir, like open(O_CREAT)/write/close. */
static void put_file(struct vv_store *st, struct vv_node *dir, const char *name, const char *data)
{
	struct vv_node *n;
	assert_int_equal(vv_node_create(dir, name, 0644, VV_CREATE_EXCL | VV_CREATE_TRUNC, &n), 0);
	struct vv_fdref *fd;
	assert_int_equal(vv_node_write_begin(n, &fd), 0);
	assert_int_equal(pwrite(fd->fd, data, strlen(data), 0), (ssize_t)strlen(data));
	vv_node_write_end(n, strlen(data));
	vv_fdref_put(fd);
	vv_node_close_write(n);
	struct vv_publish p;
	bool need;
	assert_int_equal(vv_node_publish_begin(n, &p, &need), 0);
	assert_true(need);
	vv_publish_run(st, &p);
	assert_int_equal(vv_node_publish_end(&p), 0);
}

static char *read_all(struct vv_node *n)
{
	return vt_node_content(n, NULL);
}

static struct vv_env *make_unborn(struct vv_envset *set, const char *name)
{
	struct vv_env *env;
	assert_int_equal(vv_envset_create(set, name, &env), 0);
	assert_int_equal(vv_env_load_root(env), 0);
	/* a venv at once: what mkdir makes */
	struct vv_node *n;
	assert_int_equal(vv_node_lookup(env->root, "pyvenv.cfg", &n), 0);
	assert_int_equal(vv_env_unborn(env), 0);
	assert_int_equal(env->cfg.state, VV_ENV_UNBORN);
	assert_true(vv_env_is_empty(env));
	assert_int_equal(vv_node_lookup(env->root, "pyvenv.cfg", &n), -ENOENT);
	assert_int_equal(vv_node_lookup(env->root, "bin", &n), -ENOENT);
	return env;
}

static void test_born_empty_is_a_venv(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	struct vv_envset *set = open_set(st);
	struct vv_env *env = make_unborn(set, "e");
	struct vv_node *n;
	/* the maker made a directory and removed it again: nothing made */
	assert_int_equal(vv_node_mkdir(env->root, "tmp", 0755, &n), 0);
	assert_int_equal(vv_node_rmdir(env->root, "tmp"), 0);
	assert_int_equal(vv_env_born(env), 0);
	assert_int_equal(env->cfg.state, VV_ENV_VENV);
	assert_int_equal(vv_node_lookup(env->root, "pyvenv.cfg", &n), 0);
	assert_int_equal(n->kind, VV_SYN_FILE);
	assert_int_equal(vv_env_walk(env, "bin/python", &n), 0);
	assert_int_equal(n->kind, VV_SYN_LINK);
	char pyx[32], sp[96];
	vv_python_name(&env->py, pyx);
	snprintf(sp, sizeof(sp), "lib/%s/site-packages/pip", pyx);
	assert_int_equal(vv_env_walk(env, sp, &n), 0);
	assert_int_equal(vv_envset_close(set), 0);
	/* saved: a plain venv after a reopen */
	set = open_set(st);
	env = vv_envset_find(set, "e", 1);
	assert_non_null(env);
	assert_int_equal(vv_env_walk(env, "bin/python", &n), 0);
	assert_int_equal(env->cfg.state, VV_ENV_VENV);
	assert_int_equal(vv_envset_close(set), 0);
	vt_store_free(st);
}

static void test_born_from_pyvenv_cfg(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	struct vv_envset *set = open_set(st);
	struct vv_env *env = make_unborn(set, "ve");
	const char *home = set->defpy.home;
	char cfg[1024];
	snprintf(cfg, sizeof(cfg), "home = %s\nimplementation = CPython\nvirtualenv = 20.0\n"
		 "include-system-site-packages = false\nprompt = mine\n", home);
	struct vv_node *bin, *n;
	assert_int_equal(vv_node_mkdir(env->root, "bin", 0755, &bin), 0);
	assert_int_equal(vv_node_symlink(bin, "python", "/maker/own/python", &n), 0);
	put_file(st, bin, "activate", "# the maker's activate\n");
	put_file(st, env->root, "pyvenv.cfg", cfg);
	/* the maker's own names while unborn: nothing synthesized */
	assert_int_equal(vv_node_lookup(bin, "python3", &n), -ENOENT);
	assert_int_equal(vv_env_born(env), 0);
	assert_int_equal(env->cfg.state, VV_ENV_MADE);
	/* pyvenv.cfg is live: generated lines, then the maker's other keys */
	assert_int_equal(vv_node_lookup(env->root, "pyvenv.cfg", &n), 0);
	assert_int_equal(n->kind, VV_SYN_FILE);
	char *text = read_all(n);
	assert_non_null(strstr(text, "virtualenv = 20.0"));
	assert_non_null(strstr(text, "prompt = 'mine'"));
	free(text);
	assert_string_equal(env->cfg.prompt, "mine");
	/* the maker's entries stay as it made them; nothing else is synthesized */
	assert_int_equal(vv_node_lookup(bin, "python", &n), 0);
	assert_int_equal(n->kind, VV_LNK);
	assert_string_equal(n->target, "/maker/own/python");
	assert_int_equal(vv_node_lookup(bin, "activate", &n), 0);
	text = read_all(n);
	assert_string_equal(text, "# the maker's activate\n");
	free(text);
	assert_int_equal(vv_node_lookup(bin, "python3", &n), -ENOENT);
	assert_int_equal(vv_node_lookup(env->root, "lib64", &n), -ENOENT);
	assert_int_equal(vv_env_commit(env), 0);
	assert_int_equal(vv_envset_close(set), 0);
	/* after a reopen: the same */
	set = open_set(st);
	env = vv_envset_find(set, "ve", 2);
	assert_non_null(env);
	assert_int_equal(vv_env_walk(env, "bin/python", &n), 0);
	assert_string_equal(n->target, "/maker/own/python");
	assert_int_equal(env->cfg.state, VV_ENV_MADE);
	assert_int_equal(vv_node_lookup(env->root, "pyvenv.cfg", &n), 0);
	assert_int_equal(n->kind, VV_SYN_FILE);
	assert_int_equal(vv_envset_close(set), 0);
	vt_store_free(st);
}

static void test_born_folder(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	struct vv_envset *set = open_set(st);
	struct vv_env *env = make_unborn(set, "f");
	struct vv_node *sub, *n;
	assert_int_equal(vv_node_mkdir(env->root, "logs", 0755, &sub), 0);
	put_file(st, sub, "one.log", "x\n");
	assert_int_equal(vv_env_born(env), 0);
	assert_int_equal(env->cfg.state, VV_ENV_FOLDER);
	assert_int_equal(vv_node_lookup(env->root, "pyvenv.cfg", &n), -ENOENT);
	assert_int_equal(vv_node_lookup(env->root, "bin", &n), -ENOENT);
	assert_int_equal(vv_env_commit(env), 0);
	assert_int_equal(vv_envset_close(set), 0);
	set = open_set(st);
	env = vv_envset_find(set, "f", 1);
	assert_int_equal(vv_env_walk(env, "logs/one.log", &n), 0);
	assert_int_equal(vv_node_lookup(env->root, "pyvenv.cfg", &n), -ENOENT);
	assert_int_equal(vv_envset_close(set), 0);
	vt_store_free(st);
}

/* A pyvenv.cfg that does not make a venv (no home): the env is a folder, says so. */
static void test_born_bad_cfg_is_folder(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	struct vv_envset *set = open_set(st);
	struct vv_env *env = make_unborn(set, "half");
	put_file(st, env->root, "pyvenv.cfg", "version = 3.99\n");
	assert_int_equal(vv_env_born(env), 0);
	assert_int_equal(env->cfg.state, VV_ENV_FOLDER);
	struct vv_node *n;
	assert_int_equal(vv_node_lookup(env->root, "pyvenv.cfg", &n), 0);
	assert_int_equal(n->kind, VV_REG);
	assert_int_equal(vv_envset_close(set), 0);
	vt_store_free(st);
}

/* Only an untouched env becomes unborn. */
static void test_unborn_refused_after_change(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	struct vv_envset *set = open_set(st);
	struct vv_env *env;
	struct vv_node *n;
	assert_int_equal(vv_envset_create(set, "c", &env), 0);
	assert_int_equal(vv_env_load_root(env), 0);
	assert_int_equal(vv_node_mkdir(env->root, "src", 0755, &n), 0);
	assert_int_equal(vv_env_unborn(env), -EBUSY);
	assert_int_equal(env->cfg.state, VV_ENV_VENV);
	assert_int_equal(vv_envset_close(set), 0);
	vt_store_free(st);
}

static void test_root_files(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	struct vv_envset *set = open_set(st);
	struct vv_node *dir, *n;
	assert_int_equal(vv_envset_files(set, false, &dir), -ENOENT);
	assert_int_equal(vv_envset_files(set, true, &dir), 0);
	put_file(st, dir, "premkvirtualenv", "#!/bin/bash\n# hook\n");
	assert_int_equal(vv_node_symlink(dir, "link", "premkvirtualenv", &n), 0);
	/* no name reaches it, and it is no env of the listing */
	assert_null(vv_envset_find(set, VV_ROOT_ENV, strlen(VV_ROOT_ENV)));
	assert_int_equal(vv_envset_close(set), 0);
	char **names;
	size_t nn;
	assert_int_equal(vv_env_list(st, &names, &nn), 0);
	assert_int_equal(nn, 0);
	free(names);
	/* gc keeps what it holds */
	struct vv_gc_opts go = { .grace_s = 0, .now_s = time(NULL) + 3600 };
	struct vv_gc_result res;
	assert_int_equal(vv_gc(st, &go, &res), 0);
	assert_int_equal(res.envs, 0);
	set = open_set(st);
	assert_int_equal(vv_envset_files(set, false, &dir), 0);
	assert_int_equal(vv_node_lookup(dir, "premkvirtualenv", &n), 0);
	char *text = read_all(n);
	assert_string_equal(text, "#!/bin/bash\n# hook\n");
	free(text);
	assert_int_equal(vv_node_lookup(dir, "link", &n), 0);
	assert_string_equal(n->target, "premkvirtualenv");
	/* an env cannot take the reserved name */
	struct vv_env *env;
	assert_int_equal(vv_envset_create(set, VV_ROOT_ENV, &env), -EINVAL);
	assert_int_equal(vv_envset_close(set), 0);
	vt_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_born_empty_is_a_venv),
		cmocka_unit_test(test_born_from_pyvenv_cfg),
		cmocka_unit_test(test_born_folder),
		cmocka_unit_test(test_born_bad_cfg_is_folder),
		cmocka_unit_test(test_unborn_refused_after_change),
		cmocka_unit_test(test_root_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
