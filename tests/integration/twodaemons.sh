#!/bin/bash
# twodaemons.sh - two venvfs daemons on one store, as on two hosts sharing it over NFS:
# A (inotify) at mnt/, B at mntb/ with VENVFS_NO_INOTIFY=1, so that B sees A's changes
# only by polling envs/, as a daemon on another host does. Checks:
#   - B shows an env A made, and A's pip install and file writes once A commits, within
#     VISIBLE_S seconds, with its kernel caches (an entry it found missing, a file it
#     had read) invalidated; a reader loop on B sees no error meanwhile;
#   - while A holds uncommitted changes to env x (a file open for writing), B's writes
#     to x (and renaming x) fail with EBUSY and B's log names the holder (venvfs, A's
#     pid, the host); `venvctl add`, `rollback`, `create --clear` and `lock` are refused
#     the same way; once A commits, B writes, and A shows B's change;
#   - pip installs into different envs through A and B at the same time both land;
#   - `venvctl add` returns with the change shown by both mounts (B by a forced scan);
#   - kill -9 of A with changes only in its journal: B's next write replays them under
#     the lock and commits them, exactly once (a restarted A replays nothing);
#   - removing an env through the mount removes its lock file; fsck is clean at the end.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
export VV_TEST_TIMEOUT=${VV_TEST_TIMEOUT:-600}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# A commit shows in the other daemon within its poll interval (1 s) plus a scan; the
# bound leaves room for a loaded machine. A change shows after the writer commits:
# tests commit explicitly (sync) so the writer's commit delay (1-5 s) is not counted.
VISIBLE_S=5
W=$VV_TMP/wheels
vv_mkwheels "$W"
MNTB=$VV_TMP/mntb
LOGB=$VV_TMP/daemon-b.log
B_PID=
: >"$LOGB"
HOST=$(hostname)

# failures show both daemons' logs
vv_log_tail() {
	local f
	for f in "$VV_LOG" "$LOGB"; do
		[[ -s $f ]] || continue
		printf -- '--- %s (last 40 lines) ---\n' "$f" >&2
		tail -n 40 "$f" >&2 || true
	done
}

mount_b() {
	mkdir -p "$MNTB"
	printf '=== %s: B\n' "$(date +%T)" >>"$LOGB"
	VENVFS_NO_INOTIFY=1 "$VENVFS" -f --store "$STORE" "$MNTB" >>"$LOGB" 2>&1 &
	B_PID=$!
	VV_BG_PIDS+=("$B_PID")
	vv_wait_for 30 vv_is_mounted "$MNTB" || fail "mount B did not come up"
	timeout 20 stat "$MNTB" >/dev/null || fail "mount B does not answer"
}

b_exited() { ! kill -0 "$B_PID" 2>/dev/null; }

umount_b() {
	vv__unmount "$MNTB" || fail "unmounting B needed a lazy unmount"
	vv_wait_for 60 b_exited || fail "daemon B did not exit"
	local rc=0
	wait "$B_PID" 2>/dev/null || rc=$?
	((rc == 0)) || fail "daemon B exited with status $rc"
}

quiet() { "$@" 2>/dev/null; }

# visible WHAT CMD...: wait up to VISIBLE_S for CMD to succeed; note how long it took.
visible() {
	local what=$1 t0 t1
	shift
	t0=$(date +%s%N)
	vv_wait_for "$VISIBLE_S" quiet "$@" || fail "$what: not visible within ${VISIBLE_S}s"
	t1=$(date +%s%N)
	vv_note "$what: visible after $(((t1 - t0) / 1000000)) ms"
}

# busy CMD...: CMD must fail with EBUSY ("Device or resource busy").
busy() {
	local out rc=0
	out=$("$@" 2>&1) || rc=$?
	((rc != 0)) || fail "succeeded while another writer holds the env: $(vv_quote "$@")"
	assert_contains "$out" "Device or resource busy" "error of $(vv_quote "$@")"
}

pyver() {
	"$1/bin/python" -c 'import demolib; print(demolib.__version__)' 2>/dev/null
}
# has_demolib ENVDIR VERSION: the env imports demolib VERSION
has_demolib() { [[ $(pyver "$1") == "$2" ]]; }
gone() { [[ ! -e $1 ]]; }

vv_mount
A_PID=$VV_PID
mount_b
grep -q "VENVFS_NO_INOTIFY set: polling" "$LOGB" || fail "B does not say that it polls only"

# ---- A's env, writes and pip install show in B after A commits ------------------------------
ls "$MNTB/x" >/dev/null 2>&1 && fail "env x exists before it was made"   # a negative entry
check mkdir "$MNT/x"
visible "env made on A, in B" test -x "$MNTB/x/bin/python"

: >"$VV_TMP/reader.err"
(
	trap - ERR
	set +e
	n=0
	while [[ ! -e $VV_TMP/stop-reader ]]; do
		cat "$MNTB/x/data.txt" >/dev/null 2>>"$VV_TMP/reader.err"
		ls "$MNTB/x/$VV_SITE" >/dev/null 2>>"$VV_TMP/reader.err"
		n=$((n + 1))
	done
	echo "$n" >"$VV_TMP/reads"
) &
VV_BG_PIDS+=("$!")
READER=$!

# `sync FILE` first: a close's release (which stores the file) may still be in flight
# when close returns, and the commit would not have it yet
echo v1 >"$MNT/x/data.txt"
check "$MNT/x/bin/pip" install -q --no-index --find-links "$W" demolib==1.0
sync "$MNT/x/data.txt"
vv_commit x
visible "A's file write, in B" grep -qx v1 "$MNTB/x/data.txt"
visible "A's pip install, in B" has_demolib "$MNTB/x" 1.0
# B has read data.txt (page cache kept); A's next version replaces it
echo v2 >"$MNT/x/data.txt"
sync "$MNT/x/data.txt"
vv_commit x
visible "A's rewrite of a file B had read, in B" grep -qx v2 "$MNTB/x/data.txt"

touch "$VV_TMP/stop-reader"
wait "$READER" || true
reads=$(cat "$VV_TMP/reads")
# before A's first commit data.txt was missing in B; nothing else may fail
unexpected=$(grep -v 'No such file or directory' "$VV_TMP/reader.err" || true)
[[ -z $unexpected ]] || fail "B's reader got errors while A wrote: $unexpected"
vv_note "B's reader loop: $reads rounds of cat + ls without an error"

# ---- one writer per env: B and venvctl are refused while A holds changes --------------------
exec 3>>"$MNT/x/held.txt"
echo 'from A' >&3
busy sh -c "echo b >'$MNTB/x/fromb.txt'"
busy mkdir "$MNTB/x/dirb"
busy rm "$MNTB/x/data.txt"
assert_contains "$(cat "$LOGB")" \
	"env 'x' is being changed by venvfs pid $A_PID on host $HOST" "B's log"
# venvctl asks both mounts to commit: A cannot let go while the file is open, and says so
out=$(vv_ctl add x "$W/demolib-2.0-py3-none-any.whl" 2>&1) && fail "venvctl add succeeded"
assert_contains "$out" "env 'x' is being changed through the mount $MNT: 'held.txt' is open for writing by process $BASHPID" \
	"venvctl add's error"
assert_contains "$out" "try again once it is closed" "venvctl add's error"
for cmd in "rollback x" "create --clear x" "lock x"; do
	# shellcheck disable=SC2086 # word splitting wanted
	out=$(vv_ctl $cmd 2>&1) && fail "venvctl $cmd succeeded"
	assert_contains "$out" "'held.txt' is open for writing" "venvctl $cmd's error"
done
busy mv "$MNTB/x" "$MNTB/x-renamed"
assert_missing "$MNT/x/fromb.txt"
assert_eq "$(pyver "$MNT/x")" "1.0" "A's env after the refused add"
exec 3>&-
# A commits a second after the close and lets go: then B can write
vv_wait_for 15 sh -c "echo b >'$MNTB/x/fromb.txt'" 2>/dev/null ||
	fail "B could not write after A committed"
assert_eq "$(cat "$MNTB/x/held.txt")" "from A" "A's file in B after B took over"
vv_commit_b() { sync "$MNTB/$1" || fail "sync of env '$1' on B failed"; }
sync "$MNTB/x/fromb.txt"
vv_commit_b x
visible "B's write, in A" grep -qx b "$MNT/x/fromb.txt"
assert_eq "$(cat "$MNT/x/data.txt")" "v2" "A's own file in A after B's commit"

# ---- writers on different envs of A and B at the same time ----------------------------------
check mkdir "$MNT/ea"
visible "env ea, in B" test -d "$MNTB/ea"
check mkdir "$MNTB/eb"
visible "env eb, in A" test -d "$MNT/eb"
vv_bg "$MNT/ea/bin/pip" install -q --no-index --find-links "$W" demoapp
PA=$VV_BG_PID
vv_bg "$MNTB/eb/bin/pip" install -q --no-index --find-links "$W" demolib==1.0 demoapp
PB=$VV_BG_PID
wait "$PA" || fail "pip install through A failed"
wait "$PB" || fail "pip install through B failed"
vv_commit ea
vv_commit_b eb
visible "A's install into ea, in B" has_demolib "$MNTB/ea" 2.0
visible "B's install into eb, in A" has_demolib "$MNT/eb" 1.0
assert_eq "$("$MNT/ea/bin/demo")" "demoapp 1.0 demolib 2.0" "demo in ea through A"
assert_eq "$("$MNTB/eb/bin/demo")" "demoapp 1.0 demolib 1.0" "demo in eb through B"
assert_contains "$(vv_ctl freeze ea)" "demoapp==1.0" "ea's committed packages"
assert_contains "$(vv_ctl freeze eb)" "demoapp==1.0" "eb's committed packages"

# ---- venvctl: both mounts show its change when it returns (B by a forced scan) ---------------
check vv_ctl add x "$W/demolib-2.0-py3-none-any.whl" >/dev/null
assert_eq "$(pyver "$MNT/x")" "2.0" "A right after venvctl add"
assert_eq "$(pyver "$MNTB/x")" "2.0" "B right after venvctl add"

# ---- kill -9 of A with changes only in its journal: replayed once, by B ---------------------
# fsync: the content is journaled before the kill (a close's release may still be in
# flight when close returns); fsync of a file does not commit. One process writes and
# renames: another process's change after it exited would commit its changes first.
python3 -c 'import os, sys
with open(sys.argv[1], "w") as f:
    f.write("dead\n")
    f.flush()
    os.fsync(f.fileno())
os.rename(sys.argv[1], sys.argv[2])' "$MNT/x/dead.txt" "$MNT/x/dead2.txt"
vv_kill_daemon KILL
(($(wc -l <"$STORE/journal/x") > 1)) ||
	fail "A committed before it was killed: nothing left to replay"
assert_missing "$MNTB/x/dead2.txt" # B shows the committed state
echo b2 >"$MNTB/x/b2.txt" || fail "B's first write after A died failed"
assert_contains "$(cat "$LOGB")" "replayed" "B's log after taking over a dead writer's journal"
assert_eq "$(cat "$MNTB/x/dead2.txt")" "dead" "the dead writer's file in B"
assert_missing "$MNTB/x/dead.txt"
sync "$MNTB/x/b2.txt"
vv_commit_b x
assert_eq "$(wc -l <"$STORE/journal/x")" 1 "journal lines after B's commit"
vv_mount
assert_eq "$(cat "$MNT/x/dead2.txt")" "dead" "the dead writer's file in a restarted A"
assert_eq "$(cat "$MNT/x/b2.txt")" "b2" "B's file in a restarted A"
assert_eq "$(cat "$VV_LOG" "$LOGB" | grep -c 'replayed')" 1 "journal replays"
if grep -q 'skipped' "$VV_LOG" "$LOGB"; then
	fail "a journal record was replayed twice (skipped)"
fi

# ---- removing an env removes its lock file --------------------------------------------------
check rm -rf "$MNT/ea"
assert_missing "$STORE/envs/ea"
assert_missing "$STORE/locks/ea"
visible "removal of ea, in B" gone "$MNTB/ea"

vv_umount
umount_b
assert_eq "$(find "$STORE/journal" -type f -exec sh -c 'wc -l <"$1"' _ {} \; | sort -u)" \
	"1" "journal lines after both daemons stopped"
check vv_ctl fsck >"$VV_TMP/fsck" 2>&1
