#!/bin/bash
# import.sh - `venvctl import PATH NAME`: real venvs made by `python -m venv` (also at a
# path with a space, where pip writes /bin/sh trampolines) and by virtualenv, with a
# package and its console scripts installed by pip, become envs that work on the mount
# (python, import, console scripts, pip list/freeze as in the source); the source is
# byte-for-byte unchanged; its bytecode names the env's own path (stored in the shared
# form); an imported pip shares its objects with venvfs's own pip of
# the same version; bad input (not a venv, no interpreter, wrong --python, a device, an
# existing NAME) is refused naming PATH and creates nothing (a FIFO or socket is kept:
# special.sh); a progress bar shows on a
# terminal only. uv is not tested (not installed here).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
VV_TEST_TIMEOUT=${VV_TEST_TIMEOUT:-600}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

W=$VV_TMP/wheels
vv_mkwheels "$W"
SRC=$VV_TMP/src
mkdir -p "$SRC"

# every entry with type, mode, size, mtime and link target, then every file's hash
listing() {
	(cd "$1" && find . -printf '%p %y %m %s %T@ %l\n' | sort &&
		find . -type f -print0 | sort -z | xargs -0 sha256sum)
}

# ---- the sources -------------------------------------------------------------------------
srcs=("$SRC/v" "$SRC/with space/v")
python3 -m venv "$SRC/v"
python3 -m venv "$SRC/with space/v"
if command -v virtualenv >/dev/null; then
	check virtualenv -q -p "$VV_PYREAL" --no-download --no-periodic-update "$SRC/ve" \
		>/dev/null
	srcs+=("$SRC/ve")
else
	vv_note "virtualenv not installed: its variant is not tested"
fi
vv_note "uv not installed: its variant is not tested"
for s in "${srcs[@]}"; do
	check "$s/bin/pip" install -q --find-links "$W" demoapp
done
assert_contains "$(head -n 3 "$SRC/with space/v/bin/demo")" "'''exec'" \
	"pip wrote a trampoline for a path with a space"
for s in "${srcs[@]}"; do
	listing "$s" >"$s.before"
done

# ---- dedup against venvfs's own pip of the same version ----------------------------------
check vv_ctl create fresh >/dev/null
spip=$("$SRC/v/bin/python" -c 'import pip; print(pip.__version__)')
fpip=$(vv_ctl freeze --all fresh | sed -n 's/^pip==//p')
[[ -n $fpip ]] || fail "no pip in a venvfs-created env"
shared_checked=0
if [[ $spip == "$fpip" ]]; then
	# every pip source file of the venv is already an object before the import
	missing=0 total=0
	while IFS= read -r -d '' f; do
		total=$((total + 1))
		[[ -f $(vv_obj_path "$(vv_sha256 "$f")") ]] || missing=$((missing + 1))
	done < <(find "$SRC/v/$VV_SITE/pip" -name '*.py' -print0)
	((total > 100)) || fail "only $total pip sources found"
	assert_eq "$missing" 0 "pip sources of the venv not already stored (of $total)"
	shared_checked=1
else
	vv_note "venv pip $spip differs from venvfs's pip $fpip: dedup check skipped"
fi

# ---- import --------------------------------------------------------------------------------
objs0=$(vv_objects_count)
check vv_ctl import "$SRC/v" iv >"$VV_TMP/out" 2>"$VV_TMP/err"
assert_eq "$(cat "$VV_TMP/err")" "" "stderr of an import that is not on a terminal"
assert_contains "$(cat "$VV_TMP/out")" "imported '$SRC/v' as env 'iv': Python $VV_PYVER" \
	"import output"
objs1=$(vv_objects_count)
if ((shared_checked)); then
	# new objects (files and trees) leave out pip's sources: they were stored already
	npip=$(find "$SRC/v/$VV_SITE/pip" -name '*.py' | wc -l)
	nents=$(find "$SRC/v" -type f -o -type d | wc -l)
	(((objs1 - objs0) <= nents - npip)) ||
		fail "import stored $((objs1 - objs0)) new objects for $nents files and dirs: pip was not deduplicated"
	vv_note "import of a venv: $((objs1 - objs0)) new objects for $(find "$SRC/v" -type f | wc -l) files"
fi
check vv_ctl import "$SRC/with space/v" isp >/dev/null
# on a terminal, a progress bar
if command -v script >/dev/null; then
	check script -qec "$(vv_quote "$VENVCTL" --store "$STORE" import "$SRC/v" tty)" /dev/null \
		>"$VV_TMP/tty" 2>&1
	assert_contains "$(cat "$VV_TMP/tty")" "import hashing [" "progress bar on a terminal"
	assert_contains "$(cat "$VV_TMP/tty")" "imported '$SRC/v' as env 'tty'" "output on a terminal"
else
	vv_note "script(1) not installed: the progress bar is not tested"
fi
[[ ${#srcs[@]} -lt 3 ]] || check vv_ctl import "$SRC/ve" ive >/dev/null
for s in "${srcs[@]}"; do
	listing "$s" >"$s.after"
	check cmp -s "$s.before" "$s.after" || fail "source $s changed: $(diff "$s.before" "$s.after" | head -5)"
done
check vv_ctl fsck -q
assert_missing "$STORE/journal/iv"
grep -q '^prompt' "$STORE/envs/iv" && fail "imported env got a prompt the venv did not set"

# ---- mounted: it works like the source ----------------------------------------------------
vv_mount
envs=(iv isp)
[[ ${#srcs[@]} -lt 3 ]] || envs+=(ive)
for i in "${!envs[@]}"; do
	e=${envs[$i]} s=${srcs[$i]}
	E=$MNT/$e
	assert_eq "$("$E/bin/python" -c 'import sys; print(sys.prefix)')" "$E" "sys.prefix of $e"
	check "$E/bin/python" -c 'import demoapp, demolib'
	assert_eq "$("$E/bin/demo")" "demoapp 1.0 demolib 2.0" "console script of $e"
	assert_eq "$("$E/bin/demolib-version")" "demolib 2.0" "console script of $e"
	head=$(head -n 1 "$E/bin/demo")
	[[ $head == "#!$E/bin/python"* ]] || fail "bin/demo of $e starts with '$head'"
	assert_not_contains "$(cat "$E/bin/demo" "$E/bin/pip")" "$s" "scripts of $e name the source"
	assert_eq "$("$E/bin/pip" --version | cut -d' ' -f1-2)" \
		"$("$s/bin/pip" --version | cut -d' ' -f1-2)" "pip of $e"
	for cmd in "list" "freeze" "freeze --all" "check"; do
		# shellcheck disable=SC2086 # split on purpose
		got=$("$E/bin/pip" $cmd 2>&1)
		# shellcheck disable=SC2086
		want=$("$s/bin/pip" $cmd 2>&1)
		assert_eq "$got" "$want" "pip $cmd in $e vs the source"
	done
	# the venv's bytecode names the env's path and is used as it is
	pyc=$(ls "$E/$VV_SITE"/demolib/__pycache__/__init__.*.pyc)
	assert_eq "$("$E/bin/python" -c 'import marshal, sys
f = open(sys.argv[1], "rb"); f.read(16); print(marshal.load(f).co_filename)' "$pyc")" \
		"$E/$VV_SITE/demolib/__init__.py" "co_filename of an imported pyc in $e"
	assert_not_contains "$("$E/bin/python" -v -c 'import demolib' 2>&1)" \
		"bytecode is stale" "imported bytecode in $e"
	assert_eq "$(vv_ctl freeze "$e")" "$("$E/bin/pip" freeze)" "venvctl freeze $e"
	assert_eq "$(vv_ctl freeze --all "$e")" "$("$E/bin/pip" freeze --all)" \
		"venvctl freeze --all $e"
done
if ((shared_checked)); then
	f=$VV_SITE/pip/__init__.py
	check cmp -s "$MNT/iv/$f" "$MNT/fresh/$f"
fi
# a mode and an mtime are kept
assert_eq "$(stat -c '%a %Y' "$MNT/iv/$VV_SITE/demolib/__init__.py")" \
	"$(stat -c '%a %Y' "$SRC/v/$VV_SITE/demolib/__init__.py")" "mode and mtime"
# an import while mounted shows at once
check vv_ctl import "$SRC/v" live >/dev/null
vv_wait_for 5 test -x "$MNT/live/bin/demo" || fail "an import did not show in the mount"
assert_eq "$("$MNT/live/bin/demo")" "demoapp 1.0 demolib 2.0" "console script of live"
vv_umount

# ---- refused input creates nothing ----------------------------------------------------------
ls "$STORE/envs" >"$VV_TMP/envs-before"
refused() { # EXPECTED-MESSAGE ARGS...
	local want=$1 rc=0
	shift
	vv_ctl import "$@" >/dev/null 2>"$VV_TMP/err" || rc=$?
	assert_eq "$rc" 1 "exit status of import $*"
	assert_contains "$(cat "$VV_TMP/err")" "$want" "message of import $*"
	assert_contains "$(cat "$VV_TMP/err")" "nothing was imported" "message of import $*"
}
refused "'$VV_TMP/wheels': not a venv (no pyvenv.cfg)" "$VV_TMP/wheels" x
refused "'$VV_TMP/none': No such file or directory" "$VV_TMP/none" x
refused "env 'iv' exists" "$SRC/v" iv
mkdir -p "$VV_TMP/fake/lib/python3.99/site-packages"
printf 'home = %s\nversion = 3.99.1\n' "$VV_TMP/nowhere" >"$VV_TMP/fake/pyvenv.cfg"
refused "'$VV_TMP/fake': no installed Python 3.99 interpreter found (pyvenv.cfg: home $VV_TMP/nowhere, version 3.99.1)" \
	"$VV_TMP/fake" x
rm -r "$VV_TMP/fake/lib"
refused "'$VV_TMP/fake': not a venv: no lib/ directory" "$VV_TMP/fake" x
if other=$(vv_ctl python list 2>/dev/null | awk '{print $1}' | grep -v "^$VV_PYVER" | grep -m1 '^3\.'); then
	other=$(cut -d. -f1-2 <<<"$other")
	refused "'$SRC/v' has lib/python$VV_PYVER, but --python $other is Python $other" \
		--python "$other" "$SRC/v" x
fi
cp -a "$SRC/v" "$VV_TMP/vdev"
if mknod "$VV_TMP/vdev/$VV_SITE/null" c 1 3 2>/dev/null; then
	refused "'$VV_TMP/vdev/$VV_SITE/null': a character device cannot be stored in an env" \
		"$VV_TMP/vdev" x
else
	vv_note "cannot make a device node here: its refusal is not tested"
fi
mkdir "$VV_TMP/vdev/lib/python3.42"
refused "more than one lib/python3.N directory" "$VV_TMP/vdev" x
ls "$STORE/envs" >"$VV_TMP/envs-after"
check cmp -s "$VV_TMP/envs-before" "$VV_TMP/envs-after"
rc=0
vv_ctl import "$SRC/v" 2>"$VV_TMP/err" || rc=$?
assert_eq "$rc" 2 "exit status without NAME"
rc=0
vv_ctl import "$SRC/v" 'a/b' 2>"$VV_TMP/err" || rc=$?
assert_eq "$rc" 2 "exit status for a bad NAME"
check vv_ctl fsck -q
