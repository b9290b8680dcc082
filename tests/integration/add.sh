#!/bin/bash
# add.sh - `venvctl add NAME WHEEL...`: wheels installed into an unmounted env work once
# it is mounted (import, console scripts) and pip treats them exactly like packages it
# installed itself (list, show, freeze, check, uninstall), compared with a reference env
# filled by pip; a newer version replaces the older one; an add into a mounted env
# without pending changes shows at once; refused wheels (RECORD hash mismatch, wrong
# tags) exit 1 with a message and change nothing; usage errors exit 2.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

W=$VV_TMP/wheels
vv_mkwheels "$W"
LIB1=$W/demolib-1.0-py3-none-any.whl
LIB2=$W/demolib-2.0-py3-none-any.whl
APP=$W/demoapp-1.0-py3-none-any.whl
for f in "$LIB1" "$LIB2" "$APP"; do
	assert_file "$f"
done

# ---- into an unmounted env ------------------------------------------------------------
check vv_ctl create e >/dev/null
check vv_ctl add e "$LIB1" "$APP" >"$VV_TMP/out"
assert_contains "$(cat "$VV_TMP/out")" "env 'e': installed demolib 1.0" "add output"
assert_contains "$(cat "$VV_TMP/out")" "env 'e': installed demoapp 1.0" "add output"
check vv_ctl add e "$LIB2" >"$VV_TMP/out"
assert_eq "$(cat "$VV_TMP/out")" "env 'e': installed demolib 2.0 (replacing 1.0)" "upgrade output"
check vv_ctl fsck -q

# ---- refused wheels change nothing -----------------------------------------------------
cp "$STORE/envs/e" "$VV_TMP/env-before"
python3 - "$LIB1" "$VV_TMP/bad/demolib-1.0-py3-none-any.whl" <<'EOF'
import os, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
os.makedirs(os.path.dirname(dst), exist_ok=True)
with zipfile.ZipFile(src) as zi, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zo:
    for info in zi.infolist():
        data = zi.read(info)
        if info.filename == "demolib/__init__.py":
            data += b"# tampered\n"
        zo.writestr(info, data)
EOF
rc=0
vv_ctl add e "$VV_TMP/bad/demolib-1.0-py3-none-any.whl" 2>"$VV_TMP/err" || rc=$?
assert_eq "$rc" 1 "exit status for a RECORD mismatch"
assert_contains "$(cat "$VV_TMP/err")" \
	"demolib-1.0-py3-none-any.whl: demolib/__init__.py: sha256 does not match RECORD" \
	"message for a RECORD mismatch"
check cmp -s "$STORE/envs/e" "$VV_TMP/env-before"
cp "$LIB1" "$VV_TMP/bad/demolib-1.0-cp27-cp27mu-linux_x86_64.whl"
rc=0
vv_ctl add e "$VV_TMP/bad/demolib-1.0-cp27-cp27mu-linux_x86_64.whl" 2>"$VV_TMP/err" || rc=$?
assert_eq "$rc" 1 "exit status for a foreign tag"
assert_contains "$(cat "$VV_TMP/err")" "not for this env" "message for a foreign tag"
check cmp -s "$STORE/envs/e" "$VV_TMP/env-before"
rc=0
vv_ctl add e 2>/dev/null || rc=$?
assert_eq "$rc" 2 "exit status without a wheel"
rc=0
vv_ctl add nosuch "$LIB1" 2>"$VV_TMP/err" || rc=$?
assert_eq "$rc" 1 "exit status for a missing env"
assert_contains "$(cat "$VV_TMP/err")" "no env named 'nosuch'" "missing env"

# ---- mounted: it works, and pip sees what it would have installed itself ---------------------
vv_mount
E=$MNT/e
check "$E/bin/python" -c 'import demoapp, demolib'
assert_eq "$("$E/bin/demo")" "demoapp 1.0 demolib 2.0" "bin/demo"
assert_eq "$(head -n 1 "$E/bin/demo")" "#!$E/bin/python" "bin/demo shebang"
assert_eq "$("$E/bin/demolib-version")" "demolib 2.0" "bin/demolib-version"
check "$E/bin/demo-data" >/dev/null
assert_missing "$E/$VV_SITE/demolib-1.0.dist-info"
assert_file "$E/$VV_SITE/demoapp-1.0.dist-info/REQUESTED"
assert_eq "$(cat "$E/$VV_SITE/demoapp-1.0.dist-info/INSTALLER")" venvctl "INSTALLER"

check mkdir "$MNT/ref"
R=$MNT/ref
check "$R/bin/pip" install -q --find-links "$W" demoapp
# the reference wanted demolib only as a dependency; pip marks only demoapp REQUESTED
for cmd in "list" "list --not-required" "freeze" "show demoapp" "show demolib" "check"; do
	# shellcheck disable=SC2086 # cmd is split into pip's arguments on purpose
	got=$("$E/bin/pip" $cmd 2>&1 | sed "s|$E|ENV|g")
	# shellcheck disable=SC2086
	want=$("$R/bin/pip" $cmd 2>&1 | sed "s|$R|ENV|g")
	assert_eq "$got" "$want" "pip $cmd (venvctl add vs pip install)"
done
assert_eq "$("$E/bin/pip" check)" "No broken requirements found." "pip check"

check "$E/bin/pip" uninstall -q -y demoapp
assert_missing "$E/$VV_SITE/demoapp"
assert_missing "$E/$VV_SITE/demoapp-1.0.dist-info"
assert_missing "$E/bin/demo"
assert_missing "$E/bin/demo-data"
assert_not_contains "$("$E/bin/pip" list)" demoapp "pip list after uninstall"
assert_contains "$("$E/bin/pip" list)" demolib "pip list after uninstall"

# ---- add into a mounted env without pending changes: shows at once ------------------------
check vv_ctl create live >/dev/null
vv_wait_for 10 test -d "$MNT/live/bin" || fail "env 'live' did not appear in the mount"
L=$MNT/live
check test ! -e "$L/$VV_SITE/demolib"
check vv_ctl add live "$LIB1" >/dev/null
vv_wait_for 5 test -f "$L/$VV_SITE/demolib/__init__.py" ||
	fail "venvctl add into a mounted env did not show"
assert_eq "$("$L/bin/python" -c 'import demolib; print(demolib.__version__)')" 1.0 \
	"demolib in the mounted env"
assert_eq "$("$L/bin/demolib-version")" "demolib 1.0" "script in the mounted env"
# python wrote __pycache__ through the mount: commit it, then upgrade from outside
check vv_commit live
vv_wait_for 10 bash -c '[[ $(grep -a -c -v -E "^(venvfs-journal|b) " "$1" 2>/dev/null) -eq 0 ]]' _ \
	"$STORE/journal/live" || fail "journal of 'live' not committed"
check vv_ctl add live "$LIB2" >/dev/null
vv_wait_for 5 test -f "$L/$VV_SITE/demolib-2.0.dist-info/RECORD" ||
	fail "upgrade into a mounted env did not show"
assert_missing "$L/$VV_SITE/demolib-1.0.dist-info"
# 1.0's bytecode went with its sources; 2.0's record brings its own, for every module
want=$(cd "$L/$VV_SITE/demolib" && for f in *.py; do echo "${f%.py}"; done | sort)
got=$(cd "$L/$VV_SITE/demolib/__pycache__" && for f in *.pyc; do echo "${f%%.*}"; done | sort)
assert_eq "$got" "$want" "bytecode of the upgraded demolib"
out=$("$L/bin/python" -v -c 'import demolib; print(demolib.__version__)' 2>&1)
assert_contains "$out" "$(printf '\n2.0')" "upgraded demolib in the mounted env"
assert_not_contains "$out" "bytecode is stale" "bytecode of the upgraded demolib"

vv_umount
check vv_ctl fsck -q
