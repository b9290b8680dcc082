#!/bin/bash
# oneseam.sh - venvctl and a mount as one system: a venvctl command right after changes
# through the mount (no wait, no sync) asks the mount to commit them and goes ahead -
# rollback, lock, add, snapshot, clone, freeze; each command through the mount is one
# history entry (two pip installs back to back, then rollback undoes only the second);
# a file held open for writing is the one thing that makes venvctl refuse, naming the
# file and the process; an env's own `pip freeze` (pip installs through the mount, no
# wheel anywhere) is enough for `venvctl create -r` and `add -r`.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

W=$VV_TMP/wheels
vv_mkwheels "$W"
pipi() { "$MNT/a/bin/pip" install -q --no-index --find-links "$W" "$@"; }
listed() { "$MNT/a/bin/pip" list 2>/dev/null | awk '/^demo/ { print $1 "=" $2 }' | sort | xargs; }

vv_mount
check mkdir "$MNT/a"

# ---- two installs back to back, rollback at once: only the second is undone -----------
check pipi demolib==1.0
check pipi demoapp
out=$(vv_ctl rollback a 2>&1) || fail "rollback right after pip install: $out"
assert_eq "$(listed)" "demolib=1.0" "packages after rolling back the second install"
hist=$(vv_ctl history a)
assert_contains "$hist" "+demoapp 1.0" "history of the second install"
[[ $(grep -c ' mount ' <<<"$hist") -eq 2 ]] || fail "two installs are not two entries: $hist"

# ---- lock and add right after a change --------------------------------------------------
check pipi demolib==2.0
out=$(vv_ctl lock a 2>&1) || fail "lock right after pip install: $out"
check_fail touch "$MNT/a/x" 2>/dev/null
check vv_ctl unlock a >/dev/null
echo one >"$MNT/a/note"
out=$(vv_ctl add a "$W"/demoapp-1.0-*.whl 2>&1) || fail "add right after a write: $out"
assert_eq "$(listed)" "demoapp=1.0 demolib=2.0" "packages after add"
assert_eq "$(cat "$MNT/a/note")" one "the write before add"

# ---- snapshot, clone and freeze see what was just written ------------------------------
echo two >"$MNT/a/note"
check vv_ctl snapshot a s1 >/dev/null
check vv_ctl clone a b >/dev/null
assert_eq "$(cat "$MNT/b/note")" two "a clone right after a write"
check pipi demolib==1.0
assert_contains "$(vv_ctl freeze a)" "demolib==1.0" "freeze right after pip install"
check vv_ctl rollback a s1 >/dev/null
assert_eq "$(listed)" "demoapp=1.0 demolib=2.0" "rollback to the snapshot"

# ---- a file open for writing: refused, naming it and its process -------------------------
exec 3>"$MNT/a/held"
echo data >&3
out=$(vv_ctl lock a 2>&1) && fail "lock succeeded while a file is open for writing"
assert_contains "$out" "'held' is open for writing by process $BASHPID" "why lock was refused"
exec 3>&-
out=$(vv_ctl lock a 2>&1) || fail "lock once the file is closed: $out"
check vv_ctl unlock a >/dev/null
assert_eq "$(cat "$MNT/a/held")" data "the file that was held"

# ---- pip freeze of an env made through the mount is enough for create -r -----------------
# demolib 2.0 and demo-data came in by pip (no record, no wheel given); demoapp by add
check pipi --force-reinstall --no-deps demolib==2.0
"$MNT/a/bin/pip" freeze >"$VV_TMP/frozen.txt" || fail "pip freeze"
assert_contains "$(cat "$VV_TMP/frozen.txt")" "demolib==2.0" "pip freeze"
out=$(vv_ctl create -r "$VV_TMP/frozen.txt" c 2>&1) || fail "create -r from pip freeze: $out"
assert_eq "$("$MNT/c/bin/demo")" "demoapp 1.0 demolib 2.0" "console script of the new env"
assert_eq "$("$MNT/c/bin/demolib-version")" "demolib 2.0" "pip-installed script in the new env"
assert_eq "$("$MNT/c/bin/python" -c 'import demolib.mod_3 as m; print(m.value())')" 3 \
	"a module of the pip-installed package"
"$MNT/c/bin/pip" check >/dev/null || fail "pip check in the env made from pip freeze"
# pip's demolib 2.0 is a package record now, made of a's own files
ls "$STORE/packages" | grep -q '^demolib@2.0@' || fail "no record of pip's demolib 2.0"
# the same right after the install, with no commit in between
check pipi --force-reinstall --no-deps demolib==1.0
"$MNT/a/bin/pip" freeze >"$VV_TMP/frozen1.txt" || fail "pip freeze"
out=$(vv_ctl create -r "$VV_TMP/frozen1.txt" d 2>&1) || fail "create -r at once: $out"
assert_eq "$("$MNT/d/bin/demolib-version")" "demolib 1.0" "the env made at once"
# add -r into an existing env; and a --hash pin is not met by an installed copy
echo 'demolib==1.0' >"$VV_TMP/one.txt"
out=$(vv_ctl add -r "$VV_TMP/one.txt" c 2>&1) || fail "add -r from an installed copy: $out"
assert_eq "$("$MNT/c/bin/demolib-version")" "demolib 1.0" "after add -r"
printf 'demolib==1.0 --hash=sha256:%064d\n' 0 >"$VV_TMP/hashed.txt"
out=$(vv_ctl create -r "$VV_TMP/hashed.txt" e 2>&1) && fail "a --hash pin met without a wheel"
assert_contains "$out" "demolib" "the unmet hashed pin is named"
# an env's own pip freeze after it was changed and nothing else: gc keeps what the
# records hold, fsck agrees
check vv_ctl gc --grace 0 >/dev/null
check vv_ctl fsck -q
assert_eq "$("$MNT/c/bin/demolib-version")" "demolib 1.0" "after gc"
vv_umount
