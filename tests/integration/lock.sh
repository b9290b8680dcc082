#!/bin/bash
# lock.sh - `venvctl lock NAME` / `unlock NAME` on a mounted store: the running mount
# applies the lock at once (no remount), also to a shell already inside the env; every
# kind of write into the locked env, pip install/uninstall, and removing or renaming
# the env fail with EROFS while python runs and other envs stay writable; files show
# no write bits; `venvctl add` and `create --clear/--upgrade-deps` refuse a locked env
# naming the lock; a lock is refused while the env has uncommitted changes; it survives
# a remount; unlock restores writes at once.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

W=$VV_TMP/wheels
vv_mkwheels "$W"
SITE=$MNT/web/$VV_SITE

vv_mount
check mkdir "$MNT/web" "$MNT/other"
check "$MNT/web/bin/pip" install -q --no-index --find-links "$W" demolib==1.0
check mkdir "$MNT/web/emptydir"
# kernel caches warmed: attributes and entries the lock must override
check ls -lR "$MNT/web" >/dev/null

# ---- right after a change: the mount commits it first, and the lock goes ahead ----------
echo 'x = 1' >"$MNT/web/fresh.py"
check vv_ctl lock web >"$VV_TMP/out"
grep -qx 'locked = true' "$STORE/envs/web" || fail "envs/web not locked right after a change"
assert_eq "$(cat "$MNT/web/fresh.py")" "x = 1" "the change made just before the lock"
check vv_ctl unlock web >/dev/null

# ---- lock: at once, for new lookups and for a shell already inside ----------------------
(cd "$MNT/web/emptydir" && exec sleep 600) &
VV_BG_PIDS+=("$!")
INSIDE=$!
check vv_ctl lock web >"$VV_TMP/out"
assert_eq "$(cat "$VV_TMP/out")" "env 'web' locked (read-only)" "lock output"
grep -qx 'locked = true' "$STORE/envs/web" || fail "envs/web has no 'locked = true'"
assert_eq "$(vv_ctl lock web)" "env 'web' was already locked (read-only)" "second lock"

# the watcher applies it within moments; writes then fail
vv_wait_for 10 eval '! touch "$MNT/web/probe" 2>/dev/null' ||
	fail "the mount did not apply the lock within 10 s"
python3 "$VV_LIB_DIR/trywrites.py" "$MNT/web" "$VV_SITE/demolib/__init__.py" \
	"$VV_SITE/demolib" emptydir >"$VV_TMP/tried" ||
	fail "writes not refused:
$(cat "$VV_TMP/tried")"
vv_note "$(cat "$VV_TMP/tried") kinds of write into a locked env refused with EROFS"
# a process whose cwd was inside before the lock is refused too
rc=0
out=$(cd "/proc/$INSIDE/cwd" && touch here 2>&1) || rc=$?
((rc != 0)) || fail "a write from a cwd inside the locked env succeeded"
assert_contains "$out" "Read-only file system" "write from inside"
# no write bits, for cached and fresh lookups alike
for f in "$SITE/demolib/__init__.py" "$MNT/web/emptydir" "$MNT/web" "$MNT/web/pyvenv.cfg"; do
	m=$(stat -c %a "$f")
	[[ $m != *[2367]* ]] || fail "$f shows mode $m in a locked env"
done
[[ $(stat -c %a "$MNT/other") == 755 ]] || fail "another env lost its write bits"

expect_erofs() {
	local out rc=0
	out=$("$@" 2>&1) || rc=$?
	((rc != 0)) || fail "succeeded on a locked env: $(vv_quote "$@")"
	assert_contains "$out" "Read-only file system" "error of $(vv_quote "$@")"
}
expect_erofs rmdir "$MNT/web"
expect_erofs mv "$MNT/web" "$MNT/web2"
expect_erofs rm -rf "$MNT/web"
rc=0
"$MNT/web/bin/pip" install --no-index --find-links "$W" demoapp >"$VV_TMP/pip" 2>&1 || rc=$?
((rc != 0)) || fail "pip install into a locked env succeeded"
assert_contains "$(cat "$VV_TMP/pip")" "Read-only file system" "pip install's error"
check_fail "$MNT/web/bin/pip" uninstall -y demolib >"$VV_TMP/pip" 2>&1
assert_eq "$("$MNT/web/bin/python" -c 'import demolib; print(demolib.__version__)')" "1.0" \
	"import from the locked env"
# other envs are not affected
check "$MNT/other/bin/pip" install -q --no-index --find-links "$W" demolib==2.0
check touch "$MNT/other/x"

# ---- venvctl refuses to change a locked env ---------------------------------------------
for args in "add web $W/demolib-2.0-py3-none-any.whl" "create --clear web" \
	"create --upgrade-deps web"; do
	rc=0
	# shellcheck disable=SC2086 # word splitting wanted
	vv_ctl $args >"$VV_TMP/out" 2>"$VV_TMP/err" || rc=$?
	assert_eq "$rc" 1 "exit status of venvctl $args on a locked env"
	assert_contains "$(cat "$VV_TMP/err")" "env 'web' is locked" "venvctl $args"
	assert_contains "$(cat "$VV_TMP/err")" "venvctl unlock web" "venvctl $args"
done
grep -qx 'locked = true' "$STORE/envs/web" || fail "envs/web lost its lock"
rc=0
vv_ctl lock nosuch 2>"$VV_TMP/err" || rc=$?
assert_eq "$rc" 1 "lock of a missing env"
assert_contains "$(cat "$VV_TMP/err")" "nosuch" "lock of a missing env"
rc=0
vv_ctl lock 2>"$VV_TMP/err" || rc=$?
assert_eq "$rc" 2 "lock without a name"

# ---- survives a remount -------------------------------------------------------------------
kill "$INSIDE" 2>/dev/null || true
wait "$INSIDE" 2>/dev/null || true
vv_umount
vv_mount
expect_erofs touch "$MNT/web/x"
expect_erofs mkdir "$MNT/web/d"

# ---- unlock: writable again at once -------------------------------------------------------
check vv_ctl unlock web >"$VV_TMP/out"
assert_eq "$(cat "$VV_TMP/out")" "env 'web' unlocked (writable)" "unlock output"
grep -q '^locked' "$STORE/envs/web" && fail "envs/web still has a lock"
vv_wait_for 10 touch "$MNT/web/probe" 2>/dev/null || fail "writes not back within 10 s of unlock"
[[ $(stat -c %a "$SITE/demolib/__init__.py") == 644 ]] ||
	fail "write bits not back after unlock: $(stat -c %a "$SITE/demolib/__init__.py")"
check "$MNT/web/bin/pip" install -q --no-index --find-links "$W" demoapp
assert_eq "$("$MNT/web/bin/demo")" "demoapp 1.0 demolib 1.0" "demo after unlock"
check mv "$MNT/web" "$MNT/web2"
vv_umount
check vv_ctl fsck -q
