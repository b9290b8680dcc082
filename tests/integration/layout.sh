#!/bin/bash
# layout.sh - a new env looks and behaves like a real `python3 -m venv` with pip:
# pyvenv.cfg in CPython's format, bin/ symlinks and scripts, site-packages with pip,
# sys.prefix/sys.path from inside, and env-name validation at the top level.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vv_mount

# ---- creating an env is instant ----------------------------------------------------
vv_time mkdir "$MNT/web"
((VV_ELAPSED_MS < 10000)) || fail "first mkdir took ${VV_ELAPSED_MS} ms"
vv_time mkdir "$MNT/api"
((VV_ELAPSED_MS < 3000)) || fail "second mkdir took ${VV_ELAPSED_MS} ms (should be one small write)"
check_fail mkdir "$MNT/web" 2>/dev/null

E=$MNT/web
PYV=$VV_PYVER

# ---- layout --------------------------------------------------------------------------
assert_file "$E/pyvenv.cfg"
assert_dir "$E/bin"
assert_dir "$E/include"
assert_dir "$E/lib/python$PYV/site-packages"
[[ -L $E/lib64 ]] || fail "lib64 is not a symlink"
assert_eq "$(readlink "$E/lib64")" lib "lib64 target"
assert_file "$E/bin/activate"
for f in pip pip3 "pip$PYV"; do
	assert_file "$E/bin/$f"
	[[ -x $E/bin/$f ]] || fail "bin/$f is not executable"
done

[[ -L $E/bin/python$PYV ]] || fail "bin/python$PYV is not a symlink"
target=$(readlink "$E/bin/python$PYV")
[[ $target == /* ]] || fail "bin/python$PYV points to a relative path: $target"
assert_eq "$(readlink -f "$target")" "$VV_PYREAL" "bin/python$PYV target"
assert_eq "$(head -c 4 "$target" | od -An -c | tr -d ' ')" '177ELF' "bin/python$PYV is an ELF"
for l in python python3; do
	[[ -L $E/bin/$l ]] || fail "bin/$l is not a symlink"
	assert_eq "$(readlink "$E/bin/$l")" "python$PYV" "bin/$l target"
done

sp=$E/lib/python$PYV/site-packages
assert_dir "$sp/pip"
compgen -G "$sp/pip-*.dist-info/RECORD" >/dev/null || fail "no pip-*.dist-info/RECORD in site-packages"
assert_eq "$(head -n 1 "$E/bin/pip")" "#!$E/bin/python" "bin/pip shebang"

ls_out=$(ls "$MNT")
assert_eq "$ls_out" $'api\nweb' "ls of the mount"

# ---- pyvenv.cfg: same keys, order and values as a real venv of this interpreter --------
python3 -m venv --without-pip "$VV_TMP/ref" || fail "cannot make a reference venv"
cfg_keys() { sed -n 's/^\([a-z-]*\) = .*/\1/p' "$1" | tr '\n' ' '; }
cfg_val() { sed -n "s/^$2 = //p" "$1"; }
assert_eq "$(cfg_keys "$E/pyvenv.cfg")" "$(cfg_keys "$VV_TMP/ref/pyvenv.cfg")" "pyvenv.cfg keys"
lines=$(grep -c . "$E/pyvenv.cfg")
assert_eq "$lines" "$(grep -c . "$VV_TMP/ref/pyvenv.cfg")" "pyvenv.cfg line count"
for k in home include-system-site-packages version executable; do
	assert_eq "$(cfg_val "$E/pyvenv.cfg" "$k")" "$(cfg_val "$VV_TMP/ref/pyvenv.cfg" "$k")" \
		"pyvenv.cfg $k"
done
cmd=$(cfg_val "$E/pyvenv.cfg" command)
[[ $cmd == *" -m venv $E" ]] || fail "pyvenv.cfg command does not end in '-m venv $E': $cmd"
cmd_exe=${cmd%% -m venv *}
[[ -x $cmd_exe ]] || fail "pyvenv.cfg command interpreter is not executable: $cmd_exe"
assert_eq "$(readlink -f "$cmd_exe")" "$VV_PYREAL" "pyvenv.cfg command interpreter"

# ---- the interpreter sees a venv -------------------------------------------------------
base_prefix=$(python3 -c 'import sys; print(sys.base_prefix)')
base_purelib=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
out=$("$E/bin/python" -c 'import sys; print(sys.prefix); print(sys.base_prefix)')
assert_eq "$out" "$E"$'\n'"$base_prefix" "sys.prefix / sys.base_prefix"
out=$("$E/bin/python3" -c 'import sys; print(sys.prefix)')
assert_eq "$out" "$E" "sys.prefix via bin/python3"
paths=$("$E/bin/python" -c 'import sys; print("\n".join(sys.path))')
grep -qxF "$sp" <<<"$paths" || fail "env site-packages not on sys.path: $paths"
if grep -qxF "$base_purelib" <<<"$paths"; then
	fail "base site-packages $base_purelib is on sys.path of the env"
fi
out=$("$E/bin/python" -c 'import pip, os; print(os.path.dirname(pip.__file__))')
assert_eq "$out" "$sp/pip" "pip imported from"
# pip comes with its bytecode; a module of our own gets its bytecode written by the
# import, through the mount
compgen -G "$sp/pip/__pycache__/__init__.cpython-*.pyc" >/dev/null ||
	fail "the env's pip has no bytecode"
echo 'X = 1' >"$sp/layoutmod.py"
check "$E/bin/python" -c 'import layoutmod'
compgen -G "$sp/__pycache__/layoutmod.cpython-*.pyc" >/dev/null ||
	fail "importing a module wrote no __pycache__ in the env"
check rm -r "$sp/layoutmod.py" "$sp/__pycache__"

# ---- pip ---------------------------------------------------------------------------------
for p in pip pip3 "pip$PYV"; do
	out=$("$E/bin/$p" --version) || fail "bin/$p --version failed"
	assert_contains "$out" "$sp/pip" "bin/$p --version"
done
out=$("$E/bin/python" -m pip --version) || fail "python -m pip --version failed"
assert_contains "$out" "$sp/pip" "python -m pip --version"
out=$("$E/bin/pip" list --format=freeze) || fail "pip list failed"
grep -q '^pip==' <<<"$out" || fail "pip list does not show pip: $out"

# The second env is a separate one with its own prefix.
out=$("$MNT/api/bin/python" -c 'import sys; print(sys.prefix)')
assert_eq "$out" "$MNT/api" "sys.prefix of the second env"

# ---- env names ----------------------------------------------------------------------------
long=$(printf 'x%.0s' {1..256})
err=$(mkdir "$MNT/$long" 2>&1) && fail "mkdir of a 256-byte name succeeded"
assert_contains "$err" "File name too long" "mkdir of a 256-byte name"
ok255=$(printf 'y%.0s' {1..255})
check mkdir "$MNT/$ok255"
check rm -rf "$MNT/$ok255"
check_fail mkdir "$MNT/.venvfs-reserved" 2>/dev/null
assert_eq "$(ls "$MNT")" $'api\nweb' "ls after rejected names"

vv_umount

# ---- the without-pip config key -----------------------------------------------------------
mkdir -p "$XDG_CONFIG_HOME/venvfs"
printf '[venvfs]\nwithout-pip = true\n' >"$XDG_CONFIG_HOME/venvfs/venvfs.ini"
vv_mount
check mkdir "$MNT/bare"
assert_missing "$MNT/bare/bin/pip"
[[ -z $(ls "$MNT/bare/$VV_SITE") ]] || fail "site-packages of a without-pip env is not empty"
check_fail "$MNT/bare/bin/python" -c 'import pip' 2>/dev/null
if grep -q '^command = ' "$MNT/bare/pyvenv.cfg"; then
	grep -q '^command = .* -m venv --without-pip '"$MNT/bare"'$' "$MNT/bare/pyvenv.cfg" ||
		fail "command line of a without-pip env: $(grep '^command' "$MNT/bare/pyvenv.cfg")"
fi
# envs made before keep their pip
check "$E/bin/pip" --version >/dev/null
vv_umount
