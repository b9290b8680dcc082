#!/bin/bash
# readonly.sh - `venvfs -o ro`: every kind of write into an env, making, removing and
# renaming envs, and pip install fail with EROFS, while python runs, imports work (with
# bytecode going to PYTHONPYCACHEPREFIX) and pip list answers; afterwards the store is
# unchanged byte for byte (names, types, sizes, modes, mtimes and content hashes), even
# though it held a journal of uncommitted changes, which the ro mount shows but does
# not commit. Also: a store the daemon cannot write is served read-only.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

W=$VV_TMP/wheels
vv_mkwheels "$W"

# ---- an env with a package, an empty directory and a pending journal ------------------
vv_mount
check mkdir "$MNT/web"
check "$MNT/web/bin/pip" install -q --no-index --find-links "$W" demolib==1.0
check mkdir "$MNT/web/emptydir"
echo 'X = 42' >"$MNT/web/$VV_SITE/plainmod.py"   # never compiled
vv_commit web
vv_umount
vv_mount
echo 'print("from the journal")' >"$MNT/web/pending.py"
check sync "$MNT/web/pending.py"
vv_kill_daemon
grep -q pending.py "$STORE/journal/web" || fail "journal/web does not hold pending.py"

# Snapshot of the whole store: every entry's path, type, size, mode, mtime and, for
# files, the SHA-256 of the content.
snapshot() {
	(cd "$STORE" && find . -printf '%p %y %s %m %T@\n' | sort &&
		find . -type f -print0 | sort -z | xargs -0 sha256sum)
}
snapshot >"$VV_TMP/before"

# ---- the read-only mount ---------------------------------------------------------------
vv_mount -o ro
SITE=$MNT/web/$VV_SITE
out=$("$MNT/web/bin/python" -c 'import demolib; print(demolib.__version__)')
assert_eq "$out" "1.0" "import through the ro mount"
assert_eq "$("$MNT/web/bin/python" "$MNT/web/pending.py")" "from the journal" \
	"journal content shown read-only"
# bytecode goes where PYTHONPYCACHEPREFIX says (the docs' advice for ro envs)
out=$(PYTHONPYCACHEPREFIX=$VV_TMP/pycache "$MNT/web/bin/python" -c 'import plainmod; print(plainmod.X)')
assert_eq "$out" "42" "import of a module without bytecode"
n=$(find "$VV_TMP/pycache" -name 'plainmod.*.pyc' | wc -l)
((n == 1)) || fail "no bytecode of plainmod under PYTHONPYCACHEPREFIX"
check "$MNT/web/bin/pip" list >"$VV_TMP/list"
assert_contains "$(cat "$VV_TMP/list")" "demolib" "pip list on the ro mount"
# the mount shows no write permission
mode=$(stat -c %a "$SITE/demolib/__init__.py")
[[ $mode != *[2367]* ]] || fail "file mode $mode shows write permission on a ro mount"

python3 "$VV_LIB_DIR/trywrites.py" "$MNT/web" "$VV_SITE/demolib/__init__.py" \
	"$VV_SITE/demolib" emptydir >"$VV_TMP/tried" ||
	fail "writes not refused:
$(cat "$VV_TMP/tried")"
vv_note "$(cat "$VV_TMP/tried") kinds of write refused with EROFS"

# envs: make, remove, rename
expect_erofs() {
	local out rc=0
	out=$("$@" 2>&1) || rc=$?
	((rc != 0)) || fail "succeeded on a ro mount: $(vv_quote "$@")"
	assert_contains "$out" "Read-only file system" "error of $(vv_quote "$@")"
}
expect_erofs mkdir "$MNT/new"
expect_erofs rmdir "$MNT/web"
expect_erofs mv "$MNT/web" "$MNT/web2"
expect_erofs python3 -m venv "$MNT/venvmade"
expect_erofs rm -rf "$MNT/web"
# pip install fails cleanly: non-zero, the reason, the env unchanged
rc=0
"$MNT/web/bin/pip" install --no-index --find-links "$W" demoapp >"$VV_TMP/pip" 2>&1 || rc=$?
((rc != 0)) || fail "pip install succeeded on a ro mount"
assert_contains "$(cat "$VV_TMP/pip")" "Read-only file system" "pip install's error"
check_fail "$MNT/web/bin/pip" uninstall -y demolib >"$VV_TMP/pip" 2>&1
assert_eq "$(ls "$MNT")" "web" "envs on the ro mount"
assert_file "$SITE/demolib/__init__.py"
vv_umount

snapshot >"$VV_TMP/after"
diff -u "$VV_TMP/before" "$VV_TMP/after" >"$VV_TMP/diff" ||
	fail "the ro mount changed the store:
$(head -40 "$VV_TMP/diff")"
vv_note "store unchanged: $(grep -c ' f ' "$VV_TMP/before") files compared by hash"

# ---- a store on a read-only filesystem: served ro, refused rw -----------------------------
if ((EUID == 0)); then
ROSTORE=$VV_TMP/rostore
mkdir -p "$ROSTORE"
check mount --bind "$STORE" "$ROSTORE"
check mount -o remount,bind,ro "$ROSTORE"
rc=0
timeout 20 "$VENVFS" -f --store "$ROSTORE" "$MNT" >"$VV_TMP/err" 2>&1 || rc=$?
((rc != 0)) || fail "a rw mount of a read-only store succeeded"
assert_contains "$(cat "$VV_TMP/err")" "not writable" "rw mount of a read-only store"
STORE_SAVED=$STORE
STORE=$ROSTORE
vv_mount -o ro
assert_eq "$("$MNT/web/bin/python" -c 'import demolib; print(demolib.__version__)')" "1.0" \
	"import from a read-only store"
expect_erofs touch "$MNT/web/x"
vv_umount
STORE=$STORE_SAVED
check umount "$ROSTORE"
fi

# ---- the pending change is still there for a rw mount to commit --------------------------
vv_mount
assert_eq "$("$MNT/web/bin/python" "$MNT/web/pending.py")" "from the journal" \
	"journal replayed by the rw mount"
vv_umount
check vv_ctl fsck -q
