/* test_synth.c - pyvenv.cfg text per Python version, shebangs, and the activators:
 * their text for every shell, and each one sourced by the real shell (bash, zsh, dash,
 * ksh, fish, tcsh; a missing shell skips its test) in a fake env whose path has a space,
 * both quotes, $, a backtick and !. activate_this.py is run by the real python3. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "python/python.h"
#include "python/synth.h"

static struct vv_python py311 = {
	.exe = (char *)"/home/user/.pyenv/versions/3.11.7/bin/python3.11",
	.home = (char *)"/home/user/.pyenv/versions/3.11.7/bin",
	.base_exe = (char *)"/home/user/.pyenv/versions/3.11.7/bin/python3",
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
	check_cfg(&e, "home = /home/user/.pyenv/versions/3.11.7/bin\n"
		      "include-system-site-packages = false\n"
		      "version = 3.11.7\n"
		      "executable = /home/user/.pyenv/versions/3.11.7/bin/python3.11\n"
		      "command = /home/user/.pyenv/versions/3.11.7/bin/python3 -m venv /tmp/v1\n");

	e.system_site = true;
	e.prompt = "my env";
	check_cfg(&e, "home = /home/user/.pyenv/versions/3.11.7/bin\n"
		      "include-system-site-packages = true\n"
		      "version = 3.11.7\n"
		      "prompt = 'my env'\n"
		      "executable = /home/user/.pyenv/versions/3.11.7/bin/python3.11\n"
		      "command = /home/user/.pyenv/versions/3.11.7/bin/python3 -m venv "
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

/* The inverse: which first lines are the env's own interpreter, and with what suffix. */
static void check_head(const char *buf, const char *envpath, size_t want, const char *sfx)
{
	char got[16] = "?";
	assert_int_equal(vv_synth_script_head(buf, strlen(buf), envpath, got, sizeof(got)), want);
	if (want)
		assert_string_equal(got, sfx);
}

static void test_script_head(void **state)
{
	(void)state;
	const char *tr = "#!/bin/sh\n'''exec' \"/a b/v/bin/python3\" \"$0\" \"$@\"\n' '''\nimport x\n";
	check_head("#!/e/v/bin/python\nimport x\n", "/e/v", 18, "");
	check_head("#!/e/v/bin/python3.11\nimport x\n", "/e/v", 22, "3.11");
	check_head(tr, "/a b/v", strlen(tr) - strlen("import x\n"), "3");
	const char *tr2 = "#!/bin/sh\n'''exec' /e/v/bin/python \"$0\" \"$@\"\n' '''\n";
	check_head(tr2, "/e/v", strlen(tr2), "");
	/* what vv_synth_shebang writes is recognised */
	char *sb;
	size_t len;
	assert_int_equal(vv_synth_shebang("/my envs/web", &sb, &len), 0);
	check_head(sb, "/my envs/web", len, "");
	free(sb);
	/* other interpreters, other envs, a prefix of the env path, broken trampolines */
	check_head("#!/usr/bin/python3\n", "/e/v", 0, "");
	check_head("#!/e/v2/bin/python\n", "/e/v", 0, "");
	check_head("#!/e/v/bin/pythonw\n", "/e/v", 0, "");
	check_head("#!/e/v/bin/python", "/e/v", 0, "");
	check_head("#!/bin/sh\n'''exec' \"/a b/v/bin/python3 \"$0\" \"$@\"\n' '''\n", "/a b/v", 0, "");
	check_head("#!/bin/sh\n'''exec' /e/v/bin/python \"$0\"\n", "/e/v", 0, "");
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

/* Run argv with extra environment entries ("K=V", NULL-terminated list, may be NULL);
 * return its stdout (malloc'd). Fails the test unless it exits 0. */
static char *run_argv(char *const argv[], char *const env[])
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		for (size_t i = 0; env && env[i]; i++)
			putenv(env[i]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	assert_non_null(buf);
	ssize_t n;
	while ((n = read(p[0], buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = 0;
	close(p[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("%s failed (status %d), output:\n%s", argv[0], status, buf);
	return buf;
}

/* Run a bash script, return its stdout (malloc'd). */
static char *run_bash(const char *script)
{
	char *argv[] = { (char *)"bash", (char *)"--norc", (char *)"--noprofile", (char *)"-c",
			 (char *)script, NULL };
	return run_argv(argv, NULL);
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

/* ---- the other activators: text ------------------------------------------------- */

static char *gen(enum vv_synth_file f, const struct vv_synth_env *e)
{
	char *out = NULL;
	size_t len = 0;
	assert_true(vv_synth_exists(f, e->py));
	assert_int_equal(vv_synth_file(f, e, &out, &len), 0);
	assert_int_equal(len, strlen(out));
	return out;
}

#define expect(text, want)                                                               \
	do {                                                                             \
		if (!strstr((text), (want)))                                             \
			fail_msg("missing <<%s>> in:\n%s", (want), (text));              \
	} while (0)
#define expect_not(text, want)                                                           \
	do {                                                                             \
		if (strstr((text), (want)))                                              \
			fail_msg("unexpected <<%s>> in:\n%s", (want), (text));           \
	} while (0)

static void test_table(void **state)
{
	(void)state;
	static const char *const names[VV_SYNTH_NFILES] = {
		"pyvenv.cfg", ".gitignore", "activate", "activate.fish", "activate.csh",
		"Activate.ps1", "activate.nu", "activate_this.py",
	};
	struct vv_python py313 = py311;
	py313.minor = 13;
	for (int f = 0; f < VV_SYNTH_NFILES; f++) {
		assert_string_equal(vv_synth_name((enum vv_synth_file)f), names[f]);
		assert_int_equal(vv_synth_in_bin((enum vv_synth_file)f), f >= VV_SYNTH_ACTIVATE);
		assert_int_equal(vv_synth_exists((enum vv_synth_file)f, &py311),
				 f != VV_SYNTH_GITIGNORE);
		assert_true(vv_synth_exists((enum vv_synth_file)f, &py313));
	}
}

static void test_fish_text(void **state)
{
	(void)state;
	struct vv_synth_env e = { .path = "/srv/envs/web", .name = "web", .py = &py311 };
	char *t = gen(VV_SYNTH_ACTIVATE_FISH, &e);
	expect(t, "\nfunction deactivate ");
	expect(t, "\ndeactivate nondestructive\n");
	expect(t, "\nset -gx VIRTUAL_ENV '/srv/envs/web'\n");
	expect(t, "\nset -gx _OLD_VIRTUAL_PATH $PATH\nset -gx PATH \"$VIRTUAL_ENV/bin\" $PATH\n");
	expect(t, "        set -gx PATH $_OLD_VIRTUAL_PATH\n");
	expect(t, "    set -gx _OLD_VIRTUAL_PYTHONHOME $PYTHONHOME\n    set -e PYTHONHOME\n");
	expect(t, "        set -gx PYTHONHOME $_OLD_VIRTUAL_PYTHONHOME\n");
	expect(t, "\nif test -z \"$VIRTUAL_ENV_DISABLE_PROMPT\"\n");
	expect(t, "        functions -c fish_prompt _old_fish_prompt\n");
	expect(t, "            functions -c _old_fish_prompt fish_prompt\n");
	expect(t, "(set_color 4B8BBE) '(web) ' (set_color normal)\n");
	expect(t, "    set -gx VIRTUAL_ENV_PROMPT '(web) '\n");
	expect(t, "        functions -e deactivate\n");
	expect(t, "    set -e VIRTUAL_ENV\n    set -e VIRTUAL_ENV_PROMPT\n");
	free(t);

	/* 3.13: the bare prompt, exported whether or not the prompt changes. */
	struct vv_python py313 = py311;
	py313.minor = 13;
	e.py = &py313;
	e.path = "/a b/it's \\x";
	e.prompt = "p'q";
	t = gen(VV_SYNTH_ACTIVATE_FISH, &e);
	expect(t, "\nset -gx VIRTUAL_ENV '/a b/it\\'s \\\\x'\n");
	expect(t, "\nset -gx VIRTUAL_ENV_PROMPT 'p\\'q'\n");
	expect(t, "(set_color 4B8BBE) '(p\\'q) ' (set_color normal)\n");
	expect_not(t, "    set -gx VIRTUAL_ENV_PROMPT");
	free(t);
}

static void test_csh_text(void **state)
{
	(void)state;
	struct vv_synth_env e = { .path = "/srv/envs/web", .name = "web", .py = &py311 };
	char *t = gen(VV_SYNTH_ACTIVATE_CSH, &e);
	expect(t, "\nalias deactivate 'test $?_OLD_VIRTUAL_PATH != 0 && "
		  "setenv PATH \"$_OLD_VIRTUAL_PATH:q\" && unset _OLD_VIRTUAL_PATH; ");
	expect(t, "setenv PYTHONHOME \"$_OLD_VIRTUAL_PYTHONHOME:q\"");
	expect(t, "set prompt=\"$_OLD_VIRTUAL_PROMPT:q\"");
	expect(t, "unsetenv VIRTUAL_ENV; unsetenv VIRTUAL_ENV_PROMPT; ");
	expect(t, "test \"\\!:*\" != nondestructive && unalias deactivate && unalias pydoc'\n");
	expect(t, "\ndeactivate nondestructive\n");
	expect(t, "\nsetenv VIRTUAL_ENV '/srv/envs/web'\n");
	expect(t, "\nset _OLD_VIRTUAL_PATH=\"$PATH:q\"\nsetenv PATH \"$VIRTUAL_ENV:q/bin:$PATH:q\"\n");
	expect(t, "    set _OLD_VIRTUAL_PYTHONHOME=\"$PYTHONHOME:q\"\n    unsetenv PYTHONHOME\n");
	expect(t, "        set prompt='(web) '\"$prompt:q\"\n");
	expect(t, "    setenv VIRTUAL_ENV_PROMPT '(web) '\n");
	expect(t, "\nrehash\n");
	free(t);

	/* Awkward text: ', !, \ outside the quotes, a newline as \<newline> inside. */
	struct vv_python py313 = py311;
	py313.minor = 13;
	e.py = &py313;
	e.path = "/a b/it's!\"x\\y\nz";
	e.prompt = "";
	t = gen(VV_SYNTH_ACTIVATE_CSH, &e);
	expect(t, "\nsetenv VIRTUAL_ENV '/a b/it'\\''s'\\!'\"x'\\\\'y\\\nz'\n");
	expect(t, "\nsetenv VIRTUAL_ENV_PROMPT ''\n");
	expect(t, "        set prompt='() '\"$prompt:q\"\n");
	expect_not(t, "    setenv VIRTUAL_ENV_PROMPT");
	free(t);
}

static void test_ps1_text(void **state)
{
	(void)state;
	struct vv_synth_env e = { .path = "/srv/envs/web", .name = "web", .py = &py311 };
	char *t = gen(VV_SYNTH_ACTIVATE_PS1, &e);
	expect(t, "    $VenvDir = '/srv/envs/web',\n");
	expect(t, "    $Prompt = 'web'\n)\n");
	expect(t, "\nfunction global:deactivate ([switch] $NonDestructive) {\n");
	expect(t, "\ndeactivate -NonDestructive\n");
	expect(t, "\n$Env:VIRTUAL_ENV = $VenvDir\n");
	expect(t, "Copy-Item -Path Function:_OLD_VIRTUAL_PROMPT -Destination Function:prompt\n");
	expect(t, "Copy-Item -Path Env:_OLD_VIRTUAL_PATH -Destination Env:PATH\n");
	expect(t, "Copy-Item -Path Env:PYTHONHOME -Destination Env:_OLD_VIRTUAL_PYTHONHOME\n");
	expect(t, "        Remove-Item -Path Function:deactivate\n");
	expect(t, "\nif (-not $Env:VIRTUAL_ENV_DISABLE_PROMPT) {\n");
	expect(t, "    function global:prompt {\n");
	expect(t, "Write-Host -NoNewline -ForegroundColor Green \"($_PYTHON_VENV_PROMPT_PREFIX) \"\n");
	expect(t, "    $Env:VIRTUAL_ENV_PROMPT = \"($Prompt) \"\n");
	expect(t, "\n$Env:PATH = (Join-Path -Path $VenvDir -ChildPath 'bin') + "
		  "[System.IO.Path]::PathSeparator + $Env:PATH\n");
	free(t);

	struct vv_python py313 = py311;
	py313.minor = 13;
	e.py = &py313;
	e.path = "/a b/it's \xe2\x80\x98x\xe2\x80\x99 $y";
	t = gen(VV_SYNTH_ACTIVATE_PS1, &e);
	expect(t, "    $VenvDir = '/a b/it''s \xe2\x80\x98\xe2\x80\x98x\xe2\x80\x99\xe2\x80\x99 $y',\n");
	expect(t, "\n$Env:VIRTUAL_ENV_PROMPT = $Prompt\n");
	expect_not(t, "    $Env:VIRTUAL_ENV_PROMPT");
	free(t);
}

static void test_nu_text(void **state)
{
	(void)state;
	struct vv_synth_env e = { .path = "/srv/envs/web", .name = "web", .py = &py311 };
	char *t = gen(VV_SYNTH_ACTIVATE_NU, &e);
	expect(t, "\nexport-env {\n");
	expect(t, "    let venv_dir = \"/srv/envs/web\"\n");
	expect(t, "    let venv_prompt = \"(web) \"\n");
	expect(t, "    let venv_label = \"(web) \"\n");
	expect(t, "        VIRTUAL_ENV: $venv_dir\n");
	expect(t, "            VIRTUAL_ENV_PROMPT: $venv_prompt\n");
	expect(t, "            PROMPT_COMMAND: $new_prompt\n");
	expect(t, "    load-env $with_prompt\n");
	expect(t, "if 'PYTHONHOME' in $env { hide-env PYTHONHOME }");
	expect(t, "\nexport alias deactivate = overlay hide activate\n");
	free(t);

	struct vv_python py313 = py311;
	py313.minor = 13;
	e.py = &py313;
	e.path = "/a \"b\"\\c\n\t\x01 $(x)";
	t = gen(VV_SYNTH_ACTIVATE_NU, &e);
	expect(t, "    let venv_dir = \"/a \\\"b\\\"\\\\c\\n\\t\\u{1} $(x)\"\n");
	expect(t, "    let venv_prompt = \"web\"\n");
	expect(t, "    let base = ($base | merge { VIRTUAL_ENV_PROMPT: $venv_prompt })\n");
	expect(t, "        $base | merge { PROMPT_COMMAND: $new_prompt }\n");
	free(t);
}

static void test_activate_this_text(void **state)
{
	(void)state;
	struct vv_synth_env e = { .path = "/srv/envs/web", .name = "web", .py = &py311 };
	char *t = gen(VV_SYNTH_ACTIVATE_THIS, &e);
	expect(t, "\n_activate(\n    '/srv/envs/web',\n    '3.11',\n    '(web) ',\n)\ndel _activate\n");
	expect(t, "    os.environ['VIRTUAL_ENV'] = venv_dir\n");
	expect(t, "    os.environ.pop('PYTHONHOME', None)\n");
	expect(t, "'python' + version, 'site-packages'");
	expect(t, "    sys.prefix = sys.exec_prefix = venv_dir\n");
	free(t);

	/* ASCII only, whatever the path: escapes as ascii() writes them. */
	struct vv_python py313 = py311;
	py313.minor = 13;
	e.py = &py313;
	e.path = "/caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80 bad\xff it's\\";
	t = gen(VV_SYNTH_ACTIVATE_THIS, &e);
	expect(t, "\n    '/caf\\xe9 \\u2713 \\U0001f600 bad\\udcff it\\'s\\\\',\n    '3.13',\n"
		  "    'web',\n");
	for (const char *p = t; *p; p++)
		assert_true((unsigned char)*p < 0x80);
	free(t);
}

/* ---- every activator sourced by its real shell ------------------------------------ */

/* A space, both quotes, $, a backtick and ! (csh history) in the env's name. */
#define AWKWARD "my env's \"q\" $x `y` !z"

struct fake_env {
	char *dir;
	char env[1024];       /* DIR/AWKWARD: bin/python -> the real python, activators */
	char pyexe[1024];     /* the real interpreter */
	struct vv_python py;  /* py311 with the real interpreter's version */
	char want_vep[1100];  /* VIRTUAL_ENV_PROMPT for that version */
	char e_kv[1100], home_kv[1100], xdg_kv[1100];
};

/* false (and a note) when there is no python3 to point bin/python at. The activators
 * are generated for the real interpreter's version, or for 3.minor when minor is not 0
 * (which only changes VIRTUAL_ENV_PROMPT). */
static bool fake_env_make(struct fake_env *fe, int minor)
{
	char *py = vt_find_in_path("python3");
	if (!py) {
		printf("# no python3 on PATH\n");
		return false;
	}
	free(py);
	char *out = run_bash("python3 -I -c 'import sys; print(sys.executable); "
			     "print(sys.version_info[1])'");
	char *nl = strchr(out, '\n');
	assert_non_null(nl);
	*nl = 0;
	snprintf(fe->pyexe, sizeof(fe->pyexe), "%s", out);
	fe->py = py311;
	fe->py.minor = minor ? minor : atoi(nl + 1);
	free(out);

	fe->dir = vt_tempdir();
	snprintf(fe->env, sizeof(fe->env), "%s/" AWKWARD, fe->dir);
	char p[1200];
	assert_int_equal(mkdir(fe->env, 0755), 0);
	snprintf(p, sizeof(p), "%s/bin", fe->env);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/bin/python", fe->env);
	assert_int_equal(symlink(fe->pyexe, p), 0);
	snprintf(p, sizeof(p), "%s/home", fe->dir);
	assert_int_equal(mkdir(p, 0755), 0);

	struct vv_synth_env e = { .path = fe->env, .name = AWKWARD, .py = &fe->py };
	for (int f = 0; f < VV_SYNTH_NFILES; f++) {
		if (!vv_synth_in_bin((enum vv_synth_file)f) ||
		    !vv_synth_exists((enum vv_synth_file)f, &fe->py))
			continue;
		char *text = NULL;
		size_t len = 0;
		assert_int_equal(vv_synth_file((enum vv_synth_file)f, &e, &text, &len), 0);
		snprintf(p, sizeof(p), "%s/bin/%s", fe->env, vv_synth_name((enum vv_synth_file)f));
		vt_write_file(p, text, len);
		free(text);
	}
	snprintf(fe->want_vep, sizeof(fe->want_vep), fe->py.minor >= 13 ? "%s" : "(%s) ",
		 AWKWARD);
	snprintf(fe->e_kv, sizeof(fe->e_kv), "E=%s", fe->env);
	snprintf(fe->home_kv, sizeof(fe->home_kv), "HOME=%s/home", fe->dir);
	snprintf(fe->xdg_kv, sizeof(fe->xdg_kv), "XDG_CONFIG_HOME=%s/home", fe->dir);
	return true;
}

/* What every shell's probe prints (see the probes below). */
static void want_probe(const struct fake_env *fe, char *want, size_t size)
{
	snprintf(want, size,
		 "VE=%s\n"
		 "FIRST=%s/bin\n"
		 "PS1=(" AWKWARD ") base> \n"
		 "VEP=%s\n"
		 "PH=unset\n"
		 "PY=%s/bin/python\n"
		 "EXE=%s/bin/python\n"
		 "PATH_RESTORED\n"
		 "PS1=base> \n"
		 "VE=unset\n"
		 "VEP=unset\n"
		 "PH=/ph\n"
		 "TWICE_RESTORED\n"
		 "NOPROMPT=base> \n",
		 fe->env, fe->env, fe->want_vep, fe->env, fe->env);
}

/* Run SHELL ARGS... with the probe, for activators of the real interpreter's version and
 * of 3.12 or 3.13 (the other VIRTUAL_ENV_PROMPT style); skip (saying why) when the shell
 * is missing. */
static void run_probe(const char *shell, char *const argv[], const char *what)
{
	char *path = vt_find_in_path(shell);
	if (!path) {
		printf("# %s is not installed: skipping its activator test\n", shell);
		skip();
	}
	free(path);
	unsetenv("VIRTUAL_ENV");
	unsetenv("VIRTUAL_ENV_PROMPT");
	unsetenv("VIRTUAL_ENV_DISABLE_PROMPT");
	unsetenv("PYTHONHOME");
	int other = 0;
	for (int round = 0; round < 2; round++) {
		struct fake_env fe;
		if (!fake_env_make(&fe, round ? other : 0))
			skip();
		other = fe.py.minor >= 13 ? 12 : 13;
		char *env[] = { fe.e_kv, fe.home_kv, fe.xdg_kv, (char *)"TERM=dumb", NULL };
		char *out = run_argv(argv, env);
		char want[8192];
		want_probe(&fe, want, sizeof(want));
		if (strcmp(out, want) != 0)
			fail_msg("%s (3.%d):\n--- got ---\n%s--- want ---\n%s", what, fe.py.minor,
				 out, want);
		free(out);
		vt_rmtree(fe.dir);
	}
}

/* bash, zsh, dash, ksh: bin/activate under set -eu. ksh quotes what `command -v`
 * prints when the path needs it, so that is eval'd back. */
static const char posix_probe[] =
	"set -eu\n"
	"PS1='base> '\n"
	"orig_path=$PATH\n"
	"PYTHONHOME=/ph\n"
	"export PYTHONHOME\n"
	". \"$E/bin/activate\"\n"
	"printf 'VE=%s\\n' \"$VIRTUAL_ENV\"\n"
	"printf 'FIRST=%s\\n' \"${PATH%%:*}\"\n"
	"printf 'PS1=%s\\n' \"$PS1\"\n"
	"printf 'VEP=%s\\n' \"$VIRTUAL_ENV_PROMPT\"\n"
	"printf 'PH=%s\\n' \"${PYTHONHOME-unset}\"\n"
	"w=$(command -v python)\n"
	"case $w in \"'\"*|\"\\$'\"*) eval \"w=$w\" ;; esac\n"
	"printf 'PY=%s\\n' \"$w\"\n"
	"printf 'EXE=%s\\n' \"$(python -c 'import sys; print(sys.executable)')\"\n"
	"deactivate\n"
	"if [ \"$PATH\" = \"$orig_path\" ]; then echo PATH_RESTORED; fi\n"
	"printf 'PS1=%s\\n' \"$PS1\"\n"
	"printf 'VE=%s\\n' \"${VIRTUAL_ENV-unset}\"\n"
	"printf 'VEP=%s\\n' \"${VIRTUAL_ENV_PROMPT-unset}\"\n"
	"printf 'PH=%s\\n' \"${PYTHONHOME-unset}\"\n"
	"case $(type deactivate 2>/dev/null || :) in *function*) echo STILL_DEFINED ;; esac\n"
	". \"$E/bin/activate\"\n"
	". \"$E/bin/activate\"\n"
	"deactivate\n"
	"if [ \"$PATH\" = \"$orig_path\" ]; then echo TWICE_RESTORED; fi\n"
	"VIRTUAL_ENV_DISABLE_PROMPT=1\n"
	". \"$E/bin/activate\"\n"
	"printf 'NOPROMPT=%s\\n' \"$PS1\"\n"
	"deactivate\n";

static void test_shell_bash(void **state)
{
	(void)state;
	char *argv[] = { (char *)"bash", (char *)"--norc", (char *)"--noprofile", (char *)"-c",
			 (char *)posix_probe, NULL };
	run_probe("bash", argv, "bash");
}

static void test_shell_zsh(void **state)
{
	(void)state;
	char *argv[] = { (char *)"zsh", (char *)"-f", (char *)"-c", (char *)posix_probe, NULL };
	run_probe("zsh", argv, "zsh");
}

static void test_shell_dash(void **state)
{
	(void)state;
	char *argv[] = { (char *)"dash", (char *)"-c", (char *)posix_probe, NULL };
	run_probe("dash", argv, "dash");
}

static void test_shell_ksh(void **state)
{
	(void)state;
	char *argv[] = { (char *)"ksh", (char *)"-c", (char *)posix_probe, NULL };
	run_probe("ksh", argv, "ksh");
}

/* fish: the prompt is what fish_prompt prints (colours stripped). */
static const char fish_probe[] =
	"function fish_prompt; printf 'base> '; end\n"
	"set -g esc '\\e[\\[(][0-9;]*[A-Za-z]?'\n"
	"set -g orig_path (string join : $PATH)\n"
	"set -gx PYTHONHOME /ph\n"
	"source \"$E/bin/activate.fish\"; or exit 9\n"
	"printf 'VE=%s\\n' \"$VIRTUAL_ENV\"\n"
	"printf 'FIRST=%s\\n' $PATH[1]\n"
	"printf 'PS1=%s\\n' (fish_prompt | string replace -ra $esc '')\n"
	"printf 'VEP=%s\\n' \"$VIRTUAL_ENV_PROMPT\"\n"
	"if set -q PYTHONHOME; printf 'PH=%s\\n' $PYTHONHOME; else; echo PH=unset; end\n"
	"printf 'PY=%s\\n' (command -s python)\n"
	"printf 'EXE=%s\\n' (python -c 'import sys; print(sys.executable)')\n"
	"deactivate\n"
	"if test (string join : $PATH) = \"$orig_path\"; echo PATH_RESTORED; end\n"
	"printf 'PS1=%s\\n' (fish_prompt | string replace -ra $esc '')\n"
	"if set -q VIRTUAL_ENV; echo VE=set; else; echo VE=unset; end\n"
	"if set -q VIRTUAL_ENV_PROMPT; echo VEP=set; else; echo VEP=unset; end\n"
	"if set -q PYTHONHOME; printf 'PH=%s\\n' $PYTHONHOME; else; echo PH=unset; end\n"
	"if functions -q deactivate; echo STILL_DEFINED; end\n"
	"if functions -q _old_fish_prompt; echo OLD_PROMPT_LEFT; end\n"
	"source \"$E/bin/activate.fish\"\n"
	"source \"$E/bin/activate.fish\"\n"
	"deactivate\n"
	"if test (string join : $PATH) = \"$orig_path\"; echo TWICE_RESTORED; end\n"
	"set -gx VIRTUAL_ENV_DISABLE_PROMPT 1\n"
	"source \"$E/bin/activate.fish\"\n"
	"printf 'NOPROMPT=%s\\n' (fish_prompt | string replace -ra $esc '')\n"
	"deactivate\n";

static void test_shell_fish(void **state)
{
	(void)state;
	char *argv[] = { (char *)"fish", (char *)"--no-config", (char *)"-c", (char *)fish_probe,
			 NULL };
	run_probe("fish", argv, "fish");
}

/* tcsh: a shell without a prompt (non-interactive) gets one set first. */
static const char csh_probe[] =
	"set prompt='base> '\n"
	"set orig_path=\"$PATH:q\"\n"
	"setenv PYTHONHOME /ph\n"
	"source \"$E:q/bin/activate.csh\"\n"
	"printf 'VE=%s\\n' \"$VIRTUAL_ENV:q\"\n"
	"printf 'FIRST=%s\\n' \"$path[1]:q\"\n"
	"printf 'PS1=%s\\n' \"$prompt:q\"\n"
	"printf 'VEP=%s\\n' \"$VIRTUAL_ENV_PROMPT:q\"\n"
	"if ( $?PYTHONHOME ) then\n"
	"    printf 'PH=%s\\n' \"$PYTHONHOME:q\"\n"
	"else\n"
	"    echo PH=unset\n"
	"endif\n"
	"printf 'PY=%s\\n' \"`which python`\"\n"
	"printf 'EXE=%s\\n' \"`python -c 'import sys; print(sys.executable)'`\"\n"
	"deactivate\n"
	"if ( \"$PATH:q\" == \"$orig_path:q\" ) echo PATH_RESTORED\n"
	"printf 'PS1=%s\\n' \"$prompt:q\"\n"
	"if ( $?VIRTUAL_ENV ) then\n"
	"    echo VE=set\n"
	"else\n"
	"    echo VE=unset\n"
	"endif\n"
	"if ( $?VIRTUAL_ENV_PROMPT ) then\n"
	"    echo VEP=set\n"
	"else\n"
	"    echo VEP=unset\n"
	"endif\n"
	"if ( $?PYTHONHOME ) then\n"
	"    printf 'PH=%s\\n' \"$PYTHONHOME:q\"\n"
	"else\n"
	"    echo PH=unset\n"
	"endif\n"
	"set a=\"`alias deactivate`\"\n"
	"if ( \"$a:q\" != \"\" ) echo STILL_DEFINED\n"
	"source \"$E:q/bin/activate.csh\"\n"
	"source \"$E:q/bin/activate.csh\"\n"
	"deactivate\n"
	"if ( \"$PATH:q\" == \"$orig_path:q\" ) echo TWICE_RESTORED\n"
	"setenv VIRTUAL_ENV_DISABLE_PROMPT 1\n"
	"source \"$E:q/bin/activate.csh\"\n"
	"printf 'NOPROMPT=%s\\n' \"$prompt:q\"\n"
	"deactivate\n";

static void test_shell_tcsh(void **state)
{
	(void)state;
	char *dir = vt_tempdir();
	char script[1100];
	snprintf(script, sizeof(script), "%s/probe.csh", dir);
	vt_write_file(script, csh_probe, strlen(csh_probe));
	char *argv[] = { (char *)"tcsh", (char *)"-f", script, NULL };
	run_probe("tcsh", argv, "tcsh");
	vt_rmtree(dir);
}

/* activate_this.py in the real python3: environment, sys.prefix, the env's
 * site-packages first on sys.path with its .pth files processed. */
static void test_activate_this_runs(void **state)
{
	(void)state;
	struct fake_env fe;
	if (!fake_env_make(&fe, 0))
		skip();
	char site[1200], p[1300];
	snprintf(site, sizeof(site), "%s/lib/python3.%d/site-packages", fe.env, fe.py.minor);
	snprintf(p, sizeof(p), "%s/vvdemo.py", site);
	vt_write_file(p, "X = 1\n", 6);
	snprintf(p, sizeof(p), "%s/extra", site);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/vvdemo.pth", site);
	vt_write_file(p, "extra\n", 6);
	char *argv[] = {
		fe.pyexe, (char *)"-I", (char *)"-c",
		(char *)"import os, sys\n"
			"p = os.path.join(os.environ['E'], 'bin', 'activate_this.py')\n"
			"g = {'__file__': p}\n"
			"exec(open(p).read(), g)\n"
			"import vvdemo\n"
			"print(sys.prefix)\n"
			"print(sys.path[0])\n"
			"print(vvdemo.__file__)\n"
			"print(os.path.join(sys.path[0], 'extra') in sys.path)\n"
			"print(os.environ['VIRTUAL_ENV'])\n"
			"print(os.environ['PATH'].split(os.pathsep)[0])\n"
			"print(os.environ['VIRTUAL_ENV_PROMPT'])\n"
			"print('PYTHONHOME' in os.environ, sys.real_prefix != sys.prefix)\n"
			"print(sorted(k for k in g if not k.startswith('__')))\n",
		NULL };
	char *env[] = { fe.e_kv, (char *)"PYTHONHOME=", NULL };
	char *out = run_argv(argv, env);
	char want[8192];
	snprintf(want, sizeof(want), "%s\n%s\n%s/vvdemo.py\nTrue\n%s\n%s/bin\n%s\nFalse True\n[]\n",
		 fe.env, site, site, fe.env, fe.env, fe.want_vep);
	assert_string_equal(out, want);
	free(out);
	vt_rmtree(fe.dir);
}

/* pyvenv.cfg lines as CPython splits them */
static void test_pycfg_next(void **state)
{
	(void)state;
	const char buf[] = "home = /usr/bin\nno equals sign here\n\tKey\t=  a = b \r\n=\nlast=x";
	const char *p = buf, *end = buf + sizeof(buf) - 1, *k, *v;
	size_t kl, vl;
	assert_int_equal(vv_pycfg_next(&p, end, &k, &kl, &v, &vl), 1);
	assert_int_equal(kl, 4);
	assert_memory_equal(k, "home", 4);
	assert_int_equal(vl, 8);
	assert_memory_equal(v, "/usr/bin", 8);
	assert_int_equal(vv_pycfg_next(&p, end, &k, &kl, &v, &vl), 1); /* skips the line without '=' */
	assert_int_equal(kl, 3);
	assert_memory_equal(k, "Key", 3);
	assert_int_equal(vl, 5); /* split at the first '=', "\r" stripped */
	assert_memory_equal(v, "a = b", 5);
	assert_int_equal(vv_pycfg_next(&p, end, &k, &kl, &v, &vl), 1);
	assert_int_equal(kl, 0);
	assert_int_equal(vl, 0);
	assert_int_equal(vv_pycfg_next(&p, end, &k, &kl, &v, &vl), 1); /* no final newline */
	assert_memory_equal(k, "last", 4);
	assert_memory_equal(v, "x", 1);
	assert_int_equal(vv_pycfg_next(&p, end, &k, &kl, &v, &vl), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pycfg_next),
		cmocka_unit_test(test_pyvenv_cfg),
		cmocka_unit_test(test_repr),
		cmocka_unit_test(test_shebang),
		cmocka_unit_test(test_script_head),
		cmocka_unit_test(test_trampoline_runs),
		cmocka_unit_test(test_activate),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_fish_text),
		cmocka_unit_test(test_csh_text),
		cmocka_unit_test(test_ps1_text),
		cmocka_unit_test(test_nu_text),
		cmocka_unit_test(test_activate_this_text),
		cmocka_unit_test(test_shell_bash),
		cmocka_unit_test(test_shell_zsh),
		cmocka_unit_test(test_shell_dash),
		cmocka_unit_test(test_shell_ksh),
		cmocka_unit_test(test_shell_fish),
		cmocka_unit_test(test_shell_tcsh),
		cmocka_unit_test(test_activate_this_runs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
