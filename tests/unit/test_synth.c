/* test_synth.c - pyvenv.cfg text per Python version, shebangs, and bin/activate run in
 * a real bash with an awkward env path. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "python.h"
#include "synth.h"

static struct vv_python py311 = {
	.exe = (char *)"/root/.pyenv/versions/3.11.7/bin/python3.11",
	.home = (char *)"/root/.pyenv/versions/3.11.7/bin",
	.base_exe = (char *)"/root/.pyenv/versions/3.11.7/bin/python3",
	.version = (char *)"3.11.7",
	.major = 3,
	.minor = 11,
};

static struct vv_python py38 = {
	.exe = (char *)"/usr/bin/python3.8",
	.home = (char *)"/usr/bin",
	.base_exe = (char *)"/usr/bin/python3",
	.version = (char *)"3.8.18",
	.major = 3,
	.minor = 8,
};

static struct vv_python py37 = {
	.exe = (char *)"/usr/bin/python3.7",
	.home = (char *)"/usr/bin",
	.base_exe = (char *)"/usr/bin/python3",
	.version = (char *)"3.7.16",
	.major = 3,
	.minor = 7,
};

static void check_cfg(const struct vv_synth_env *e, const char *want)
{
	char *out = NULL;
	size_t len = 0;
	assert_int_equal(vv_synth_pyvenv_cfg(e, &out, &len), 0);
	assert_int_equal(len, strlen(out));
	assert_string_equal(out, want);
	free(out);
}

static void test_pyvenv_cfg(void **state)
{
	(void)state;
	struct vv_synth_env e = { .path = "/tmp/v1", .name = "v1", .py = &py311 };
	check_cfg(&e, "home = /root/.pyenv/versions/3.11.7/bin\n"
		      "include-system-site-packages = false\n"
		      "version = 3.11.7\n"
		      "executable = /root/.pyenv/versions/3.11.7/bin/python3.11\n"
		      "command = /root/.pyenv/versions/3.11.7/bin/python3 -m venv /tmp/v1\n");

	e.system_site = true;
	e.prompt = "my env";
	check_cfg(&e, "home = /root/.pyenv/versions/3.11.7/bin\n"
		      "include-system-site-packages = true\n"
		      "version = 3.11.7\n"
		      "prompt = 'my env'\n"
		      "executable = /root/.pyenv/versions/3.11.7/bin/python3.11\n"
		      "command = /root/.pyenv/versions/3.11.7/bin/python3 -m venv "
		      "--system-site-packages --prompt=\"my env\" /tmp/v1\n");

	e.py = &py38;
	check_cfg(&e, "home = /usr/bin\n"
		      "include-system-site-packages = true\n"
		      "version = 3.8.18\n"
		      "prompt = 'my env'\n");
	e.system_site = false;
	e.prompt = NULL;
	check_cfg(&e, "home = /usr/bin\n"
		      "include-system-site-packages = false\n"
		      "version = 3.8.18\n");
	/* 3.6 and 3.7 never write a prompt line. */
	e.py = &py37;
	e.prompt = "p";
	check_cfg(&e, "home = /usr/bin\n"
		      "include-system-site-packages = false\n"
		      "version = 3.7.16\n");
}

static void check_repr(const char *prompt, const char *want)
{
	struct vv_synth_env e = { .path = "/e", .name = "e", .prompt = prompt, .py = &py38 };
	char *out = NULL, line[256];
	size_t len;
	assert_int_equal(vv_synth_pyvenv_cfg(&e, &out, &len), 0);
	snprintf(line, sizeof(line), "\nprompt = %s\n", want);
	if (!strstr(out, line))
		fail_msg("repr of '%s': want %s in\n%s", prompt, want, out);
	free(out);
}

static void test_repr(void **state)
{
	(void)state;
	check_repr("plain", "'plain'");
	check_repr("it's", "\"it's\"");
	check_repr("say \"hi\"", "'say \"hi\"'");
	check_repr("both ' and \"", "'both \\' and \"'");
	check_repr("back\\slash", "'back\\\\slash'");
	check_repr("tab\there\nnl\r\x01\x7f", "'tab\\there\\nnl\\r\\x01\\x7f'");
	check_repr("caf\xc3\xa9 \xe2\x9c\x93", "'caf\xc3\xa9 \xe2\x9c\x93'");
	check_repr("nb\xc2\xa0sp", "'nb\\xa0sp'");
	check_repr("zw\xe2\x80\x8bsp", "'zw\\u200bsp'");
	check_repr("bad\xff", "'bad\\udcff'");
	check_repr("", "''");
}

static void check_shebang(const char *path, const char *want)
{
	char *out = NULL;
	size_t len = 0;
	assert_int_equal(vv_synth_shebang(path, &out, &len), 0);
	assert_int_equal(len, strlen(out));
	assert_string_equal(out, want);
	free(out);
}

static void test_shebang(void **state)
{
	(void)state;
	check_shebang("/mnt/venvs/web", "#!/mnt/venvs/web/bin/python\n");
	check_shebang("/mnt/my venvs/web",
		      "#!/bin/sh\n"
		      "'''exec' \"/mnt/my venvs/web/bin/python\" \"$0\" \"$@\"\n"
		      "' '''\n");
	check_shebang("/a b/\"q\"/$x/`c`/\\",
		      "#!/bin/sh\n"
		      "'''exec' \"/a b/\\\"q\\\"/\"'$'\"x/\"'`'\"c\"'`'\"/\\\\/bin/python\" "
		      "\"$0\" \"$@\"\n"
		      "' '''\n");

	/* 127 bytes of "#!" + path + "/bin/python" is the longest plain line. */
	char path[200], want[400];
	memset(path, 'p', sizeof(path));
	path[0] = '/';
	size_t max = 127 - strlen("#!") - strlen("/bin/python");
	path[max] = 0;
	snprintf(want, sizeof(want), "#!%s/bin/python\n", path);
	check_shebang(path, want);
	path[max] = 'p';
	path[max + 1] = 0;
	snprintf(want, sizeof(want), "#!/bin/sh\n'''exec' \"%s/bin/python\" \"$0\" \"$@\"\n' '''\n",
		 path);
	check_shebang(path, want);
}

static char *run_bash(const char *script);

/* The trampoline really runs: a script in an env whose path has a space, quotes, $ and
 * a backtick starts that env's python with its arguments, and Python says nothing on
 * stderr (no warnings about escapes in the string literal). */
static void test_trampoline_runs(void **state)
{
	(void)state;
	if (system("bash -c 'command -v python3' >/dev/null 2>&1") != 0)
		skip();
	char *dir = vt_tempdir();
	char envpath[1024], script[1100], cmd[4096];
	snprintf(envpath, sizeof(envpath), "%s/a b \"c\" 'd' $HOME `e` \\f", dir);
	snprintf(script, sizeof(script), "%s/bin/tool", envpath);
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(vv_synth_shebang(envpath, &text, &len), 0);
	assert_non_null(strstr(text, "#!/bin/sh\n"));
	const char *body = "import sys\nprint('ok', sys.argv[1:], sys.prefix == sys.base_prefix)\n";
	text = realloc(text, len + strlen(body) + 1);
	strcpy(text + len, body);
	vt_write_file(script, text, strlen(text));
	free(text);
	assert_int_equal(chmod(script, 0755), 0);
	snprintf(cmd, sizeof(cmd),
		 "set -e\nenv=\"$1\"\nreal=$(python3 -I -c 'import sys; print(sys.executable)')\n"
		 "ln -s \"$real\" \"$env/bin/python\"\n"
		 "\"$env/bin/tool\" x 'y z' 2>\"$env/../stderr\"\n"
		 "if [ -s \"$env/../stderr\" ]; then cat \"$env/../stderr\"; fi\n");
	char full[8192];
	char *q = full;
	q += sprintf(q, "set -- '");
	for (const char *p = envpath; *p; p++)
		q += *p == '\'' ? sprintf(q, "'\\''") : sprintf(q, "%c", *p);
	sprintf(q, "'\n%s", cmd);
	char *out = run_bash(full);
	assert_string_equal(out, "ok ['x', 'y z'] True\n");
	free(out);
	vt_rmtree(dir);
}

/* Run a bash script, return its stdout (malloc'd). */
static char *run_bash(const char *script)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execlp("bash", "bash", "--norc", "--noprofile", "-c", script, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	ssize_t n;
	while ((n = read(p[0], buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = 0;
	close(p[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("bash failed (status %d), output:\n%s", status, buf);
	return buf;
}

static void test_activate(void **state)
{
	(void)state;
	if (system("bash -c true >/dev/null 2>&1") != 0)
		skip();
	char *dir = vt_tempdir();
	/* The env path has a space, both quotes, a dollar and a backtick. */
	char envpath[1024], act[1100];
	snprintf(envpath, sizeof(envpath), "%s/my env's \"dir\" $HOME `x`", dir);
	snprintf(act, sizeof(act), "%s/activate", dir);
	struct vv_synth_env e = { .path = envpath, .name = "web", .py = &py311 };
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(vv_synth_activate_sh(&e, &text, &len), 0);
	vt_write_file(act, text, len);
	free(text);

	char script[4096];
	snprintf(script, sizeof(script),
		 "export PATH=/usr/bin:/bin PS1='$ '\n"
		 "unset VIRTUAL_ENV VIRTUAL_ENV_PROMPT PYTHONHOME\n"
		 "export PYTHONHOME=/ph\n"
		 ". \"$1\" || exit 9\n"
		 "printf 'VE=%%s\\n' \"$VIRTUAL_ENV\"\n"
		 "printf 'PATH=%%s\\n' \"$PATH\"\n"
		 "printf 'PS1=%%s\\n' \"$PS1\"\n"
		 "printf 'VEP=%%s\\n' \"$VIRTUAL_ENV_PROMPT\"\n"
		 "printf 'PH=%%s\\n' \"${PYTHONHOME-unset}\"\n"
		 "deactivate\n"
		 "printf 'AFTER_PATH=%%s\\n' \"$PATH\"\n"
		 "printf 'AFTER_PS1=%%s\\n' \"$PS1\"\n"
		 "printf 'AFTER_VE=%%s\\n' \"${VIRTUAL_ENV-unset}\"\n"
		 "printf 'AFTER_VEP=%%s\\n' \"${VIRTUAL_ENV_PROMPT-unset}\"\n"
		 "printf 'AFTER_PH=%%s\\n' \"${PYTHONHOME-unset}\"\n"
		 "type deactivate >/dev/null 2>&1 && echo STILL_DEFINED\n"
		 "exit 0\n");
	char cmd[8192];
	/* bash -c SCRIPT NAME ARG: $1 is the activate path. */
	snprintf(cmd, sizeof(cmd), "set -- '%s'\n%s", act, script);
	char *out = run_bash(cmd);
	char want[4096];
	snprintf(want, sizeof(want),
		 "VE=%s\n"
		 "PATH=%s/bin:/usr/bin:/bin\n"
		 "PS1=(web) $ \n"
		 "VEP=(web) \n"
		 "PH=unset\n"
		 "AFTER_PATH=/usr/bin:/bin\n"
		 "AFTER_PS1=$ \n"
		 "AFTER_VE=unset\n"
		 "AFTER_VEP=unset\n"
		 "AFTER_PH=/ph\n",
		 envpath, envpath);
	assert_string_equal(out, want);
	free(out);

	/* A prompt with shell metacharacters, VIRTUAL_ENV_DISABLE_PROMPT, and 3.13 style. */
	e.prompt = "it's $(echo pwned)";
	struct vv_python py313 = py311;
	py313.minor = 13;
	py313.version = (char *)"3.13.0";
	e.py = &py313;
	assert_int_equal(vv_synth_activate_sh(&e, &text, &len), 0);
	vt_write_file(act, text, len);
	free(text);
	snprintf(cmd, sizeof(cmd),
		 "set -- '%s'\nexport PS1='> '\n. \"$1\"\nprintf '%%s|%%s\\n' \"$PS1\" "
		 "\"$VIRTUAL_ENV_PROMPT\"\ndeactivate\nexport VIRTUAL_ENV_DISABLE_PROMPT=1\n"
		 ". \"$1\"\nprintf '%%s|%%s\\n' \"$PS1\" \"$VIRTUAL_ENV_PROMPT\"\n", act);
	out = run_bash(cmd);
	assert_string_equal(out, "(it's $(echo pwned)) > |it's $(echo pwned)\n"
				 "> |it's $(echo pwned)\n");
	free(out);
	vt_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pyvenv_cfg),
		cmocka_unit_test(test_repr),
		cmocka_unit_test(test_shebang),
		cmocka_unit_test(test_trampoline_runs),
		cmocka_unit_test(test_activate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
