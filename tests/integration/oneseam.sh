#!/bin/bash
# oneseam.sh - venvctl and a mount as one system: a venvctl command right after changes
# through the mount (no wait, no sync) asks the mount to commit them and goes ahead -
# rollback, lock, add, snapshot, clone, freeze; each command through the mount is one
# history entry (two pip installs back to back, then rollback undoes only the second);
# a file held open for writing is the one thing that makes venvctl refuse, naming the
# file and the process.
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
