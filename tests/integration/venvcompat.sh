#!/bin/bash
# venvcompat.sh - habits from python -m venv keep working on the mount: `python3 -m venv`
# (with and without pip, --clear) on a path inside the mount, and editing pyvenv.cfg
# in place (sed -i, appending, rewriting): include-system-site-packages and prompt take
# effect and persist; an invalid edit is refused with EINVAL and changes nothing.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

W=$VV_TMP/wheels
vv_mkwheels "$W"
vv_mount

# ---- python -m venv on the mount -------------------------------------------------------
E=$MNT/made
check python3 -m venv "$E"
out=$("$E/bin/python" -c 'import sys; print(sys.prefix)')
assert_eq "$out" "$E" "sys.prefix of an env made by python -m venv"
check "$E/bin/pip" --version >/dev/null
check "$E/bin/pip" install -q --find-links "$W" demoapp
check "$E/bin/python" -c 'import demoapp'
assert_contains "$(cat "$E/bin/activate")" "$E" "activate of an env made by python -m venv"
# --clear empties site-packages and leaves a working env
check python3 -m venv --clear "$E"
check_fail "$E/bin/python" -c 'import demoapp' 2>/dev/null
check "$E/bin/python" -c 'import sys'
check python3 -m venv --without-pip "$MNT/bare"
out=$("$MNT/bare/bin/python" -c 'import sys; print(sys.prefix)')
assert_eq "$out" "$MNT/bare" "sys.prefix of a --without-pip env"
check_fail "$MNT/bare/bin/python" -c 'import pip' 2>/dev/null
assert_missing "$MNT/bare/bin/pip"

# another interpreter than the mount's default: the env becomes a clean env of it
default_v=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
other=
for cand in "$HOME"/.pyenv/versions/3.*/bin/python3 /usr/bin/python3.*; do
	[[ -x $cand && $cand != *-config ]] || continue
	v=$("$cand" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || continue
	if [[ $v != "$default_v" && $v != 3.[67] ]]; then
		other=$cand
		break
	fi
done
if [[ -n $other ]]; then
	check "$other" -m venv "$MNT/other"
	assert_eq "$(ls "$MNT/other/lib")" "python$v" "lib/ of an env made by python$v -m venv"
	out=$("$MNT/other/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
	assert_eq "$out" "$v" "interpreter of an env made by python$v -m venv"
	assert_contains "$("$MNT/other/bin/pip" --version)" "python$v/site-packages/pip" \
		"pip of an env made by python$v -m venv"
	[[ -L $MNT/other/bin/python$v ]] || fail "bin/python$v missing"
else
	vv_note "no second interpreter found; skipping the other-interpreter part"
fi

# ---- virtualenv over an env made by mkdir -------------------------------------------------
if command -v virtualenv >/dev/null; then
	check mkdir "$MNT/ve"
	check env HOME="$VV_TMP/home" virtualenv -q "$MNT/ve"
	out=$("$MNT/ve/bin/python" -c 'import sys; print(sys.prefix)')
	assert_eq "$out" "$MNT/ve" "sys.prefix of an env made by virtualenv"
	check "$MNT/ve/bin/pip" install -q --find-links "$W" demoapp
	assert_eq "$("$MNT/ve/bin/demo")" "demoapp 1.0 demolib 2.0" "bin/demo in a virtualenv env"
	assert_contains "$(cat "$MNT/ve/bin/activate")" "$MNT/ve" "activate of a virtualenv env"
elif [[ ${CI:-} == true ]]; then
	fail "virtualenv is not installed"
else
	vv_note "virtualenv not installed; skipping that part"
fi

# ---- editing pyvenv.cfg ------------------------------------------------------------------
E=$MNT/cfg
check mkdir "$E"
base_purelib=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
syspath() { "$E/bin/python" -c 'import sys; print("\n".join(sys.path))'; }
if grep -qxF "$base_purelib" <<<"$(syspath)"; then fail "base site-packages visible at start"; fi
check sed -i 's/^include-system-site-packages = false$/include-system-site-packages = true/' \
	"$E/pyvenv.cfg"
grep -qx 'include-system-site-packages = true' "$E/pyvenv.cfg" ||
	fail "sed -i edit not shown: $(cat "$E/pyvenv.cfg")"
grep -qxF "$base_purelib" <<<"$(syspath)" ||
	fail "include-system-site-packages = true did not reach the interpreter"
printf "prompt = 'my env'\n" >>"$E/pyvenv.cfg"
grep -qx "prompt = 'my env'" "$E/pyvenv.cfg" || fail "appended prompt not shown"
# shellcheck disable=SC2016
out=$(env -i PATH="$PATH" E="$E" bash --norc -c 'PS1="$ "; . "$E/bin/activate"; echo "$PS1"')
assert_eq "$out" '(my env) $ ' "PS1 after editing prompt"
before=$(cat "$E/pyvenv.cfg")
err=$(python3 - "$E/pyvenv.cfg" 2>&1 <<'PY'
import sys
try:
    with open(sys.argv[1], "w") as f:
        f.write("home = /nonexistent\ninclude-system-site-packages = maybe\n")
except OSError as e:
    print(e.errno)
    sys.exit(0)
sys.exit("an invalid pyvenv.cfg was accepted")
PY
) || fail "$err"
assert_eq "$err" 22 "errno of an invalid pyvenv.cfg edit"
assert_eq "$(cat "$E/pyvenv.cfg")" "$before" "pyvenv.cfg after a refused edit"

# the edits persist across a remount
vv_umount
vv_mount
grep -qx 'include-system-site-packages = true' "$E/pyvenv.cfg" || fail "edit lost on remount"
grep -qx "prompt = 'my env'" "$E/pyvenv.cfg" || fail "prompt lost on remount"
check "$MNT/made/bin/python" -c 'import sys'
vv_umount
