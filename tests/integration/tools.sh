#!/bin/bash
# tools.sh - the tools people use make their envs straight in the mount root, with the
# real tools from Debian, offline: virtualenv (default and another interpreter, --no-seed),
# python -m venv --copies, virtualenv-clone, virtualenvwrapper (mkvirtualenv, workon,
# cpvirtualenv, lsvirtualenv, rmvirtualenv; its hook files at the root survive a
# remount), tox (toxworkdir), poetry (virtualenvs.path, env use), nox (--envdir,
# virtualenv backend), pipx (PIPX_HOME=MNT/name). Each env runs the interpreter the tool
# was asked for. A tool that stops half way leaves a folder, not a venv; mkdir still
# makes a complete venv; plain files at the root behave like files.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# real use: bytecode is written as it would be
unset PYTHONDONTWRITEBYTECODE
HOSTPY=/usr/bin/python3
W=$VV_TMP/wheels
vv_mkwheels "$W"

# need TOOL...: every tool is there (CI installs them), or this part is skipped with a
# note outside CI
need() {
	local t
	for t in "$@"; do
		if ! command -v "$t" >/dev/null 2>&1 && ! "$HOSTPY" -c "import $t" 2>/dev/null; then
			[[ ${CI:-} != true ]] || fail "$t is not installed (.ci/run installs it)"
			vv_note "$t is not installed: that part is skipped"
			return 1
		fi
	done
}

# base ENV: the real interpreter an env runs
base() { "$1/bin/python" -c 'import os, sys; print(os.path.realpath(sys._base_executable))'; }
prefix() { "$1/bin/python" -c 'import sys; print(sys.prefix)'; }
state() { sed -n 's/^state = //p' "$STORE/envs/$1"; }

vv_mount

# the mount's default interpreter, and another one (another minor if there is one)
check mkdir "$MNT/probe"
DEF=$(base "$MNT/probe")
defv=$("$DEF" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
OTHER=
SAME_MINOR=
for cand in "$HOME"/.pyenv/versions/3.*/bin/python3.* /usr/bin/python3.*; do
	[[ -x $cand && $cand != *-config && $cand != *m ]] || continue
	real=$(readlink -f "$cand")
	[[ $real != "$DEF" ]] || continue
	v=$("$cand" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || continue
	[[ $v != 3.[67] ]] || continue
	[[ -n $OTHER || $v == "$defv" ]] || OTHER=$real
	[[ -n $SAME_MINOR || $v != "$defv" ]] || SAME_MINOR=$real
done
[[ -n $OTHER ]] || OTHER=$SAME_MINOR
[[ -n $OTHER ]] || fail "no interpreter other than $DEF on this machine"
vv_note "default $DEF, other $OTHER, same minor ${SAME_MINOR:-none}"
rmdir "$MNT/probe" 2>/dev/null || true

# ---- mkdir still makes a complete venv; so does a program's mkdir before its child -----
check mkdir "$MNT/plain"
assert_eq "$(prefix "$MNT/plain")" "$MNT/plain" "sys.prefix of a mkdir env"
check "$MNT/plain/bin/pip" --version >/dev/null
check "$HOSTPY" - "$MNT/prog" <<'PY'
import os, subprocess, sys
os.mkdir(sys.argv[1])
subprocess.run([os.path.join(sys.argv[1], "bin", "pip"), "--version"], check=True,
               stdout=subprocess.DEVNULL)
PY

# ---- virtualenv on a new path, default interpreter and seed ----------------------------
if need virtualenv; then
	out=$(cd "$VV_TMP" && "$HOSTPY" -m virtualenv --no-periodic-update "$MNT/ve1" 2>&1) ||
		fail "virtualenv MNT/ve1 failed: $out"
	assert_eq "$(prefix "$MNT/ve1")" "$MNT/ve1" "sys.prefix of virtualenv's env"
	assert_eq "$(base "$MNT/ve1")" "$(readlink -f "$HOSTPY")" "interpreter of virtualenv's env"
	check "$MNT/ve1/bin/pip" install -q --no-index --find-links "$W" demolib==1.0
	assert_eq "$("$MNT/ve1/bin/demolib-version")" "demolib 1.0" "a script pip installed"
	grep -q '^virtualenv = ' "$MNT/ve1/pyvenv.cfg" || fail "pyvenv.cfg lost virtualenv's keys"
	# virtualenv's own files, not venvfs's
	[[ -L $MNT/ve1/bin/python && -e $MNT/ve1/bin/activate_this.py ]] ||
		fail "virtualenv's bin/ is not as it made it: $(ls "$MNT/ve1/bin")"
	assert_missing "$MNT/ve1/bin/Activate.ps1"
	assert_eq "$(state ve1)" made "state of virtualenv's env"

	# another interpreter, no seed
	out=$(cd "$VV_TMP" && "$HOSTPY" -m virtualenv --no-periodic-update -p "$OTHER" --no-seed \
		"$MNT/ve2" 2>&1) || fail "virtualenv -p $OTHER --no-seed failed: $out"
	assert_eq "$(base "$MNT/ve2")" "$OTHER" "interpreter of virtualenv -p OTHER"
	check_fail "$MNT/ve2/bin/python" -c 'import pip' 2>/dev/null
	assert_missing "$MNT/ve2/bin/pip"

	# renamed: its scripts follow (stored with a neutral first line)
	check mv "$MNT/ve1" "$MNT/ve1r"
	assert_eq "$("$MNT/ve1r/bin/demolib-version")" "demolib 1.0" "a script after a rename"
	assert_contains "$("$MNT/ve1r/bin/pip" --version)" "$MNT/ve1r/" "pip after a rename"
fi

# ---- a tool that stops half way leaves a folder, never a venv ---------------------------
check "$HOSTPY" - "$MNT/half" <<'PY'
import os, sys
os.mkdir(sys.argv[1])
os.mkdir(os.path.join(sys.argv[1], "bin"))
open(os.path.join(sys.argv[1], "bin", "junk"), "w").write("x")
PY
born() { local s; s=$(state "$1"); [[ -n $s && $s != unborn ]]; }
vv_wait_for 10 born half || fail "the half-made env was not born"
assert_eq "$(state half)" folder "state of a half-made env"
assert_eq "$(ls "$MNT/half/bin")" junk "a half-made env holds what its maker left"
assert_missing "$MNT/half/pyvenv.cfg"
assert_missing "$MNT/half/bin/python"

# ---- python -m venv --copies: regular interpreter files, stored once --------------------
check "$HOSTPY" -m venv --copies "$MNT/cop"
[[ -f $MNT/cop/bin/python3 && ! -L $MNT/cop/bin/python3 ]] ||
	fail "bin/python3 of venv --copies is not a regular file"
assert_eq "$(prefix "$MNT/cop")" "$MNT/cop" "sys.prefix of venv --copies"
check "$MNT/cop/bin/pip" --version >/dev/null
vv_commit cop
before=$(vv_objects_bytes)
check "$HOSTPY" -m venv --copies --without-pip "$MNT/cop2"
vv_commit cop2
grew=$(($(vv_objects_bytes) - before))
size=$(stat -c %s "$MNT/cop2/bin/python3")
((grew < size)) || fail "a second venv --copies stored the interpreter again ($grew bytes)"
assert_eq "$(prefix "$MNT/cop2")" "$MNT/cop2" "sys.prefix of a second venv --copies"

# ---- virtualenv-clone: packages kept, paths fixed ---------------------------------------
if need virtualenv-clone virtualenv; then
	check virtualenv-clone "$MNT/ve1r" "$MNT/cl"
	assert_eq "$(prefix "$MNT/cl")" "$MNT/cl" "sys.prefix of a clone"
	assert_eq "$("$MNT/cl/bin/demolib-version")" "demolib 1.0" "a package of the clone"
	assert_contains "$(head -n 1 "$MNT/cl/bin/pip")" "$MNT/cl/" "the clone's pip"
fi

# ---- virtualenvwrapper with WORKON_HOME at the mount root --------------------------------
if need virtualenvwrapper virtualenv; then
	wrap() {
		# (virtualenvwrapper's functions do not run under set -e)
		WORKON_HOME=$MNT VIRTUALENVWRAPPER_PYTHON=$HOSTPY bash -c '
			source /usr/share/virtualenvwrapper/virtualenvwrapper.sh &&
			'"$1"
	}
	# Debian's virtualenv seeds offline only for the minor it knows: the same minor
	SEEDPY=${SAME_MINOR:-$DEF}
	out=$(wrap "mkvirtualenv -p $SEEDPY wv1 >/dev/null && python -c 'import sys; print(sys.prefix)' &&
		pip install -q --no-index --find-links '$W' demolib==2.0" 2>&1) ||
		fail "mkvirtualenv failed: $out"
	assert_contains "$out" "$MNT/wv1" "python after mkvirtualenv"
	assert_eq "$(base "$MNT/wv1")" "$SEEDPY" "interpreter of mkvirtualenv -p"
	for h in premkvirtualenv postmkvirtualenv postactivate predeactivate get_env_details; do
		[[ -f $MNT/$h ]] || fail "virtualenvwrapper's hook $h is not at the root"
	done
	echo 'echo hook-ran' >>"$MNT/postactivate"
	out=$(wrap 'cpvirtualenv wv1 wv2 >/dev/null && lsvirtualenv -b' 2>&1) ||
		fail "cpvirtualenv failed: $out"
	assert_contains "$out" wv2 "lsvirtualenv after cpvirtualenv"
	assert_eq "$("$MNT/wv2/bin/demolib-version")" "demolib 2.0" "package kept by cpvirtualenv"
	assert_eq "$(prefix "$MNT/wv2")" "$MNT/wv2" "sys.prefix of the copy"
	check wrap 'rmvirtualenv wv1 >/dev/null'
	assert_missing "$MNT/wv1"
	vv_umount
	vv_mount
	out=$(wrap 'workon wv2 && python -c "import sys; print(sys.prefix)"' 2>&1) ||
		fail "workon after a remount failed: $out"
	assert_contains "$out" hook-ran "a hook edited at the root, after a remount"
	assert_contains "$out" "$MNT/wv2" "workon after a remount"
fi

# ---- tox with toxworkdir at the mount root ----------------------------------------------
if need tox virtualenv; then
	P=$VV_TMP/toxproj
	mkdir -p "$P"
	cat >"$P/tox.ini" <<EOF
[tox]
skipsdist = true
envlist = t1
toxworkdir = $MNT
[testenv]
skip_install = true
commands = python -c "import os, sys; print('RAN', sys.prefix, os.path.realpath(sys._base_executable))"
EOF
	for run in 1 2; do
		out=$(cd "$P" && tox 2>&1) || fail "tox run $run failed: $out"
		assert_contains "$out" "RAN $MNT/t1 " "tox run $run"
	done
fi

# ---- poetry with virtualenvs.path at the mount root -------------------------------------
if need poetry virtualenv; then
	P=$VV_TMP/poetryproj
	mkdir -p "$P"
	cat >"$P/pyproject.toml" <<'EOF'
[tool.poetry]
name = "demo"
version = "0.1.0"
description = ""
authors = ["A <a@example.com>"]

[tool.poetry.dependencies]
python = ">=3.8"
EOF
	PY=${SAME_MINOR:-$DEF}
	# poetry 1.3 runs `python` to look around (Debian's python-is-python3 gives one)
	mkdir -p "$VV_TMP/pybin"
	ln -sf "$HOSTPY" "$VV_TMP/pybin/python"
	PATH=$VV_TMP/pybin:$PATH
	export POETRY_VIRTUALENVS_PATH=$MNT POETRY_CACHE_DIR=$VV_TMP/pcache
	export POETRY_CONFIG_DIR=$VV_TMP/pconf POETRY_VIRTUALENVS_PREFER_ACTIVE_PYTHON=false
	out=$(cd "$P" && poetry env use "$PY" 2>&1) || fail "poetry env use failed: $out"
	penv=$(cd "$P" && poetry env info -p) || fail "poetry env info failed"
	[[ $penv == "$MNT"/demo-* ]] || fail "poetry's env is not in the mount: $penv"
	assert_eq "$(base "$penv")" "$PY" "interpreter of poetry env use"
	out=$(cd "$P" && poetry run python -c 'import sys; print(sys.prefix)')
	assert_eq "$out" "$penv" "poetry run"
	[[ -f $MNT/envs.toml ]] || fail "poetry's envs.toml is not at the root"
	assert_contains "$(cd "$P" && poetry env list)" "$(basename "$penv")" "poetry env list"
	check bash -c "cd '$P' && poetry env remove --all >/dev/null 2>&1"
	assert_missing "$penv"
	unset POETRY_VIRTUALENVS_PATH POETRY_CACHE_DIR POETRY_CONFIG_DIR
fi

# ---- nox with --envdir at the mount root, virtualenv backend -----------------------------
if need nox virtualenv; then
	P=$VV_TMP/noxproj
	mkdir -p "$P"
	cat >"$P/noxfile.py" <<'EOF'
import nox

@nox.session(venv_backend="virtualenv")
def check(session):
    session.run("python", "-c", "import os, sys; print('RAN', sys.prefix, os.path.realpath(sys._base_executable))")
EOF
	for flags in "" -r; do
		out=$(cd "$P" && "$HOSTPY" -m nox $flags --envdir "$MNT" 2>&1) ||
			fail "nox $flags failed: $out"
		assert_contains "$out" "RAN $MNT/check $(readlink -f "$HOSTPY")" "nox $flags"
	done
fi

# ---- pipx, with its home one level down --------------------------------------------------
if need pipx; then
	export PIPX_HOME=$MNT/pipx PIPX_BIN_DIR=$VV_TMP/pipxbin
	out=$(pipx install --pip-args="--no-index --find-links $W" demolib 2>&1) ||
		fail "pipx install failed: $out"
	assert_eq "$("$PIPX_BIN_DIR/demolib-version")" "demolib 2.0" "pipx's app"
	assert_contains "$(pipx list 2>&1)" "package demolib 2.0" "pipx list"
	unset PIPX_HOME PIPX_BIN_DIR
fi

# ---- plain files at the root --------------------------------------------------------------
echo one >"$MNT/note"
check ln -s note "$MNT/note-link"
assert_eq "$(cat "$MNT/note-link")" one "a symlink at the root"
check_fail mkdir "$MNT/note" 2>/dev/null
check mv "$MNT/note" "$MNT/note2"
check_fail rm "$MNT/plain" 2>/dev/null
check rm "$MNT/note-link"
vv_umount
vv_mount
assert_eq "$(cat "$MNT/note2")" one "a root file after a remount"
assert_missing "$MNT/note-link"
[[ -d $MNT/plain && -x $MNT/plain/bin/python ]] || fail "the env next to the files is gone"
vv_ctl fsck >/dev/null || fail "fsck after the tools"
vv_ctl gc --grace 0 >/dev/null || fail "gc"
assert_eq "$(cat "$MNT/note2")" one "a root file after gc"
