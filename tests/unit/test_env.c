/* test_env.c - env INI files: round trip, strict parsing, names, and the store
 * operations (create never clobbers, rename moves the journal, sorted listing). */
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "env/txn.h"
#include "ops/envstate.h"
#include "env/env.h"
#include "util/error.h"
#include "util/strv.h"
#include "util/fsutil.h"
#include "store/store.h"

#define HEX1 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HEX2 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

static void make_cfg(struct vv_envcfg *c, const char *python, const char *hex,
		     const char *prompt)
{
	memset(c, 0, sizeof(*c));
	c->python = strdup(python);
	assert_int_equal(vv_oid_from_hex(&c->root, hex, 64), 0);
	c->prompt = prompt ? strdup(prompt) : NULL;
}

static void test_round_trip(void **state)
{
	(void)state;
	struct vv_envcfg c, back;
	const char *prompts[] = { NULL, "my prompt", "", "a;b = c", "caf\xc3\xa9 [x]" };
	for (size_t i = 0; i < sizeof(prompts) / sizeof(*prompts); i++) {
		make_cfg(&c, "/home/user/.pyenv/versions/3.11.7/bin/python3.11", HEX1, prompts[i]);
		c.system_site = i % 2;
		char *text;
		size_t len;
		assert_int_equal(vv_envcfg_format(&c, &text, &len), 0);
		assert_int_equal(len, strlen(text));
		assert_int_equal(vv_envcfg_parse(text, len, "x", &back), 0);
		assert_string_equal(back.python, c.python);
		assert_true(vv_oid_eq(&back.root, &c.root));
		assert_int_equal(back.system_site, c.system_site);
		if (prompts[i])
			assert_string_equal(back.prompt, prompts[i]);
		else
			assert_null(back.prompt);
		free(text);
		vv_envcfg_release(&c);
		vv_envcfg_release(&back);
	}

	make_cfg(&c, "/usr/bin/python3", HEX1, NULL);
	char *text;
	size_t len;
	assert_int_equal(vv_envcfg_format(&c, &text, &len), 0);
	assert_string_equal(text, "[env]\npython = /usr/bin/python3\nroot = " HEX1
				  "\nsystem-site-packages = false\n");
	free(text);

	/* What cannot be read back is refused when writing. */
	free(c.prompt);
	c.prompt = strdup("x ;comment");
	assert_int_equal(vv_envcfg_format(&c, &text, &len), -EINVAL);
	free(c.prompt);
	c.prompt = strdup(" padded");
	assert_int_equal(vv_envcfg_format(&c, &text, &len), -EINVAL);
	free(c.prompt);
	c.prompt = strdup("two\nlines");
	assert_int_equal(vv_envcfg_format(&c, &text, &len), -EINVAL);
	free(c.prompt);
	c.prompt = NULL;
	free(c.python);
	c.python = strdup("relative/python");
	assert_int_equal(vv_envcfg_format(&c, &text, &len), -EINVAL);
	vv_envcfg_release(&c);
}

static void expect_bad(const char *text, const char *where)
{
	struct vv_envcfg c;
	int r = vv_envcfg_parse(text, strlen(text), "e1", &c);
	if (r != -EINVAL)
		fail_msg("'%s' parsed: %d", text, r);
	if (!strstr(vv_errmsg(), where))
		fail_msg("message '%s' lacks '%s'", vv_errmsg(), where);
	assert_null(c.python);
	assert_null(c.prompt);
}

static void test_bad_files(void **state)
{
	(void)state;
	expect_bad("[env]\npython = /p\nroot = " HEX1 "\ncolour = red\n",
		   "envs/e1:4: unknown key 'colour' in [env] (known: python, root, "
		   "system-site-packages, without-pip, prompt, locked, owner, mode, no-command, state)");
	expect_bad("[env]\npython = p\nroot = " HEX1 "\n", "envs/e1:2:");
	expect_bad("[env]\npython = /p\nroot = 0123\n", "envs/e1:3:");
	expect_bad("[env]\npython = /p\nroot = " HEX1 "0\n", "envs/e1:3:");
	expect_bad("[env]\npython = /p\nroot = " HEX1 "\nsystem-site-packages = sure\n",
		   "envs/e1:4:");
	expect_bad("[env]\npython = /p\nroot = " HEX1 "\nroot = " HEX2 "\n",
		   "envs/e1:4: duplicate key 'root' (first set on line 3)");
	expect_bad("[envs]\npython = /p\nroot = " HEX1 "\n",
		   "envs/e1:1: unknown section [envs] (expected [env])");
	expect_bad("python = /p\nroot = " HEX1 "\n",
		   "envs/e1:1: key 'python' outside a section (start with [env])");
	expect_bad("[env]\npython = /p\n", "envs/e1: no 'root' key");
	expect_bad("[env]\nroot = " HEX1 "\n", "python");
	expect_bad("[env]\npython = /p\nroot = " HEX1 "\ngarbage\n", "envs/e1:4:");
	expect_bad("[env]\npython = /p\n  /more\nroot = " HEX1 "\n", "envs/e1:3:");

	/* A NUL byte inside the buffer is not the end of the file. */
	static const char nul[] = "[env]\npython = /p\nroot = " HEX1 "\n\0garbage\n";
	struct vv_envcfg c;
	assert_int_equal(vv_envcfg_parse(nul, sizeof(nul) - 1, "e1", &c), -EINVAL);
	assert_non_null(strstr(vv_errmsg(), "envs/e1:4:"));

	/* Upper-case hex is accepted; comments and blank lines too. */
	const char *ok = "; written by venvfs\n[env]\n\npython = /p\nroot = "
			 "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\n";
	assert_int_equal(vv_envcfg_parse(ok, strlen(ok), "e1", &c), 0);
	assert_false(c.system_site);
	vv_envcfg_release(&c);
}

static void test_names(void **state)
{
	(void)state;
	assert_int_equal(vv_env_name_check("web", 3), 0);
	assert_int_equal(vv_env_name_check(".hidden", 7), 0);
	assert_int_equal(vv_env_name_check("..x", 3), 0);
	assert_int_equal(vv_env_name_check("with space", 10), 0);
	assert_int_equal(vv_env_name_check(".venv", 5), 0);
	assert_int_equal(vv_env_name_check("", 0), -EINVAL);
	assert_int_equal(vv_env_name_check(".", 1), -EINVAL);
	assert_int_equal(vv_env_name_check("..", 2), -EINVAL);
	assert_int_equal(vv_env_name_check("a/b", 3), -EINVAL);
	assert_int_equal(vv_env_name_check("a\0b", 3), -EINVAL);
	assert_int_equal(vv_env_name_check(".venvfs", 7), -EINVAL);
	assert_int_equal(vv_env_name_check(".venvfs-stats", 13), -EINVAL);
	/* len is what counts, not a NUL terminator. */
	assert_int_equal(vv_env_name_check("web/x", 3), 0);
	char name[300];
	memset(name, 'n', sizeof(name));
	assert_int_equal(vv_env_name_check(name, 255), 0);
	assert_int_equal(vv_env_name_check(name, 256), -ENAMETOOLONG);
	assert_non_null(strstr(vv_errmsg(), "255"));
}

static size_t count_dir(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	size_t n = vt_count_files(path);
	close(fd);
	return n;
}

static void test_store_ops(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	struct vv_envcfg c, back;
	make_cfg(&c, "/usr/bin/python3.11", HEX1, NULL);

	assert_int_equal(vv_env_load(st, "web", &back), -ENOENT);
	assert_int_equal(vv_txn_create(st, "web", &c), 0);
	assert_int_equal(vv_env_load(st, "web", &back), 0);
	assert_true(vv_oid_eq(&back.root, &c.root));
	vv_envcfg_release(&back);

	/* create never clobbers. */
	struct vv_envcfg other;
	make_cfg(&other, "/usr/bin/python3.12", HEX2, "x");
	assert_int_equal(vv_txn_create(st, "web", &other), -EEXIST);
	assert_int_equal(vv_env_load(st, "web", &back), 0);
	assert_string_equal(back.python, "/usr/bin/python3.11");
	vv_envcfg_release(&back);

	/* save replaces. */
	assert_int_equal(vt_env_save(st, "web", &other, "create", 0), 0);
	assert_int_equal(vv_env_load(st, "web", &back), 0);
	assert_string_equal(back.python, "/usr/bin/python3.12");
	assert_string_equal(back.prompt, "x");
	vv_envcfg_release(&back);
	/* No temp files are left in envs/ or tmp/. */
	assert_int_equal(count_dir(st->envfd), 1);
	assert_int_equal(count_dir(st->tmpfd), 0);

	/* Bad names are refused before touching anything. */
	assert_int_equal(vv_txn_create(st, "a/b", &c), -EINVAL);
	assert_int_equal(vv_txn_create(st, ".venvfs-x", &c), -EINVAL);
	assert_int_equal(vv_env_load(st, "..", &back), -EINVAL);

	/* rename moves the journal and never clobbers. */
	assert_int_equal(vv_txn_create(st, "api", &c), 0);
	int fd = openat(st->journalfd, "web", O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(vv_write_all(fd, "journal of web\n", 15), 0);
	close(fd);
	assert_int_equal(vv_txn_rename(st, "web", "api"), -EEXIST);
	assert_int_equal(vv_env_load(st, "api", &back), 0);
	assert_string_equal(back.python, "/usr/bin/python3.11");
	vv_envcfg_release(&back);
	assert_int_equal(vv_txn_rename(st, "nope", "new"), -ENOENT);
	assert_int_equal(vv_txn_rename(st, "web", "web2"), 0);
	assert_int_equal(vv_env_load(st, "web", &back), -ENOENT);
	assert_int_equal(vv_env_load(st, "web2", &back), 0);
	assert_string_equal(back.python, "/usr/bin/python3.12");
	vv_envcfg_release(&back);
	char *j = NULL;
	assert_int_equal(vv_read_file_at(st->journalfd, "web2", 1024, &j, NULL), 0);
	assert_string_equal(j, "journal of web\n");
	free(j);
	assert_true(faccessat(st->journalfd, "web", F_OK, 0) < 0);

	/* Renaming an env without a journal drops a stale journal of the new name. */
	fd = openat(st->journalfd, "stale", O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(vv_txn_rename(st, "api", "stale"), 0);
	assert_true(faccessat(st->journalfd, "stale", F_OK, 0) < 0);

	/* list: sorted, dot-names included, .venvfs* and directories skipped. */
	assert_int_equal(vv_txn_create(st, ".dot", &c), 0);
	assert_int_equal(vv_txn_create(st, "Zed", &c), 0);
	assert_int_equal(vv_txn_create(st, "alpha", &c), 0);
	fd = openat(st->envfd, ".venvfs-lock", O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(mkdirat(st->envfd, "somedir", 0755), 0);
	char **names;
	size_t n;
	assert_int_equal(vv_env_list(st, &names, &n), 0);
	const char *want[] = { ".dot", "Zed", "alpha", "stale", "web2" };
	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(names[i], want[i]);
	vv_strv_free(names, n);

	/* remove takes the journal along. */
	fd = openat(st->journalfd, "alpha", O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(vv_txn_remove(st, "alpha"), 0);
	assert_true(faccessat(st->journalfd, "alpha", F_OK, 0) < 0);
	assert_int_equal(vv_env_load(st, "alpha", &back), -ENOENT);
	assert_int_equal(vv_txn_remove(st, "alpha"), -ENOENT);
	assert_int_equal(vv_txn_remove(st, "Zed"), 0);
	assert_int_equal(vv_env_list(st, &names, &n), 0);
	assert_int_equal(n, 3);
	vv_strv_free(names, n);

	vv_envcfg_release(&c);
	vv_envcfg_release(&other);
	vt_store_free(st);
}

/* locked = true: round trip, only written when set, tools' check, vv_env_set_locked. */
static void test_locked(void **state)
{
	(void)state;
	struct vv_envcfg c, back;
	make_cfg(&c, "/usr/bin/python3", HEX1, NULL);
	c.locked = true;
	char *text;
	size_t len;
	assert_int_equal(vv_envcfg_format(&c, &text, &len), 0);
	assert_non_null(strstr(text, "\nlocked = true\n"));
	assert_int_equal(vv_envcfg_parse(text, len, "x", &back), 0);
	assert_true(back.locked);
	vv_envcfg_release(&back);
	free(text);
	const char *bad = "[env]\npython = /usr/bin/python3\nroot = " HEX1 "\nlocked = perhaps\n";
	vv_err_clear();
	assert_int_equal(vv_envcfg_parse(bad, strlen(bad), "x", &back), -EINVAL);
	assert_non_null(strstr(vv_errmsg(), "perhaps"));

	assert_int_equal(vv_envcfg_check_unlocked(&c, "web"), -EROFS);
	assert_non_null(strstr(vv_errmsg(), "env 'web' is locked"));
	assert_non_null(strstr(vv_errmsg(), "venvctl unlock web"));
	c.locked = false;
	assert_int_equal(vv_envcfg_check_unlocked(&c, "web"), 0);

	struct vv_store *st = vt_store_new();
	assert_int_equal(vv_txn_create(st, "web", &c), 0);
	assert_int_equal(vv_envstate_lock(st, "web", true), 0);
	assert_int_equal(vv_env_load(st, "web", &back), 0);
	assert_true(back.locked);
	assert_true(vv_oid_eq(&back.root, &c.root));
	vv_envcfg_release(&back);
	assert_int_equal(vv_envstate_lock(st, "web", true), 1);
	assert_int_equal(vv_envstate_lock(st, "web", false), 0);
	assert_int_equal(vv_env_load(st, "web", &back), 0);
	assert_false(back.locked);
	vv_envcfg_release(&back);
	assert_int_equal(vv_envstate_lock(st, "nosuch", true), -ENOENT);
	/* a journal with records over the root: a mount would commit over the lock */
	char hex[VV_OID_HEX + 1], head[128];
	vv_oid_hex(&c.root, hex);
	int n = snprintf(head, sizeof(head), "venvfs-journal 1 %s\nrecord\n", hex);
	int fd = openat(st->journalfd, "web", O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, head, (size_t)n), n);
	close(fd);
	vv_err_clear();
	assert_int_equal(vv_envstate_lock(st, "web", true), -EBUSY);
	assert_non_null(strstr(vv_errmsg(), "not committed"));
	assert_int_equal(vv_env_load(st, "web", &back), 0);
	assert_false(back.locked);
	vv_envcfg_release(&back);
	vv_envcfg_release(&c);
	vt_store_free(st);
}

/* owner = UID:GID and mode = 0NNN: round trip, only written when set, strict values,
 * the env file's owner when absent, kept by a save that does not say, set by create. */
static void test_owner(void **state)
{
	(void)state;
	struct vv_envcfg c, back;
	make_cfg(&c, "/usr/bin/python3", HEX1, NULL);
	c.owned = true;
	c.uid = 4101;
	c.gid = 4202;
	c.has_mode = true;
	c.mode = 01750;
	char *text;
	size_t len;
	assert_int_equal(vv_envcfg_format(&c, &text, &len), 0);
	assert_non_null(strstr(text, "\nowner = 4101:4202\nmode = 1750\n"));
	assert_int_equal(vv_envcfg_parse(text, len, "x", &back), 0);
	assert_true(back.owned && back.has_mode);
	assert_int_equal(back.uid, 4101);
	assert_int_equal(back.gid, 4202);
	assert_int_equal(back.mode, 01750);
	assert_int_equal(vv_envcfg_mode(&back), 01750);
	vv_envcfg_release(&back);
	free(text);
	/* not set: not written, and the root directory is 0755 */
	c.owned = c.has_mode = false;
	assert_int_equal(vv_envcfg_format(&c, &text, &len), 0);
	assert_null(strstr(text, "owner"));
	assert_null(strstr(text, "mode"));
	assert_int_equal(vv_envcfg_parse(text, len, "x", &back), 0);
	assert_false(back.owned || back.has_mode);
	assert_int_equal(vv_envcfg_mode(&back), 0755);
	vv_envcfg_release(&back);
	free(text);
	const char *good[] = { "owner = 0:0\nmode = 0", "owner = 4294967294:1\nmode = 07777",
			       "mode = 755" };
	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
		char buf[300];
		snprintf(buf, sizeof(buf), "[env]\npython = /p\nroot = " HEX1 "\n%s\n", good[i]);
		assert_int_equal(vv_envcfg_parse(buf, strlen(buf), "e1", &back), 0);
		vv_envcfg_release(&back);
	}

	/* bad values name the env file, the line and the key */
	const char *bad[] = { "owner = 1000", "owner = 1000:", "owner = :1000", "owner = x:1",
			      "owner = -1:0", "owner = 1:2:3", "owner = 4294967295:0",
			      "owner = 99999999999:0", "owner = 1 :2", "mode = 0800",
			      "mode = 17777", "mode = rwx", "mode = -755", "mode = 0x1ed",
			      "owner = 1:1\nowner = 2:2", "mode = 0755\nmode = 0700" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		char buf[300];
		snprintf(buf, sizeof(buf), "[env]\npython = /p\nroot = " HEX1 "\n%s\n", bad[i]);
		const char *key = strncmp(bad[i], "owner", 5) ? "mode" : "owner";
		expect_bad(buf, "envs/e1:");
		assert_non_null(strstr(vv_errmsg(), key));
	}
	vv_err_clear();
	assert_int_equal(vv_envcfg_parse("[env]\npython = /p\nroot = " HEX1 "\nowner = 1\n",
					 strlen("[env]\npython = /p\nroot = " HEX1 "\nowner = 1\n"),
					 "web", &back), -EINVAL);
	assert_non_null(strstr(vv_errmsg(), "envs/web:4: owner '1' is not UID:GID"));
	/* what cannot be read back is not written */
	c.owned = true;
	c.uid = (uid_t)-1;
	assert_int_equal(vv_envcfg_format(&c, &text, &len), -EINVAL);
	c.owned = false;

	struct vv_store *st = vt_store_new();
	/* create without an owner: the creating process's user */
	assert_int_equal(vv_txn_create(st, "web", &c), 0);
	assert_int_equal(vv_env_load(st, "web", &back), 0);
	assert_true(back.owned);
	assert_int_equal(back.uid, getuid());
	assert_int_equal(back.gid, getgid());
	assert_false(back.has_mode);
	vv_envcfg_release(&back);
	/* an old env file without the keys: its owner's */
	const char *old = "[env]\npython = /p\nroot = " HEX1 "\n";
	int fd = openat(st->envfd, "old", O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, old, strlen(old)), (ssize_t)strlen(old));
	if (getuid() == 0)
		assert_int_equal(fchown(fd, 4101, 4202), 0);
	close(fd);
	struct stat sb;
	assert_int_equal(fstatat(st->envfd, "old", &sb, 0), 0);
	assert_int_equal(vv_env_load(st, "old", &back), 0);
	assert_true(back.owned);
	assert_int_equal(back.uid, sb.st_uid);
	assert_int_equal(back.gid, sb.st_gid);
	assert_int_equal(vv_envcfg_mode(&back), 0755);
	vv_envcfg_release(&back);
	/* a save that does not say keeps the owner and mode it replaces; one that does
	 * changes them */
	c.owned = true;
	c.uid = 4101;
	c.gid = 4202;
	c.has_mode = true;
	c.mode = 0700;
	assert_int_equal(vt_env_save(st, "web", &c, "test", 0), 0);
	c.owned = c.has_mode = false;
	assert_int_equal(vv_oid_from_hex(&c.root, HEX2, 64), 0);
	assert_int_equal(vt_env_save(st, "web", &c, "create", 0), 0);
	assert_int_equal(vv_env_load(st, "web", &back), 0);
	assert_true(vv_oid_eq(&back.root, &c.root));
	assert_int_equal(back.uid, 4101);
	assert_int_equal(back.gid, 4202);
	assert_int_equal(vv_envcfg_mode(&back), 0700);
	vv_envcfg_release(&back);
	vv_envcfg_release(&c);
	vt_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_store_ops),
		cmocka_unit_test(test_locked),
		cmocka_unit_test(test_owner),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
