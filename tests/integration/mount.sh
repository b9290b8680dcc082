#!/bin/bash
# mount.sh - venvfs under mount(8): `mount -t fuse.venvfs STORE MNT -o ro,allow_other`
# and fstab lines (the README's `STORE MNT fuse.venvfs defaults,ro,allow_other 0 0`, the
# old `venvfs#STORE MNT fuse ...` form), read from a private fstab with `mount -T`.
# mount(8) runs mount.fuse3, which runs `venvfs STORE MNT -o OPTS` through /bin/sh with
# the default PATH, so the fuse.venvfs form runs in a private mount namespace where
# /usr/local/bin holds this build's venvfs (nothing outside the test sees it). Checks:
# the mount comes up with the store as source, ro and allow_other applied,
# default_permissions on; python runs from it, writes get EROFS; umount stops the
# daemon; a rw mount through mount(8) keeps what was made; the daemon's own command
# line takes the store as first operand too, and refuses it given twice. A missing
# mountpoint is made when its parent exists (`venvfs DIR` as the README's first command,
# daemonizing, and `-f` with a relative path); a missing parent is one clear error.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if ((EUID != 0)); then
	[[ ${CI:-} == true ]] && fail "mount(8) of a FUSE filesystem needs root (CI=true: not skipping)"
	skip "mount(8) of a FUSE filesystem needs root here"
fi
command -v mount.fuse3 >/dev/null || [[ -x /sbin/mount.fuse3 ]] || fail "mount.fuse3 is missing"

check vv_ctl create web >/dev/null

# mount_line MNT: the /proc/self/mounts line of MNT
mount_line() {
	awk -v m="$(vv__mount_escape "$1")" '$2 == m' /proc/self/mounts
}

# after_umount: wait until the daemon serving STORE is gone (it commits at exit)
daemon_gone() {
	! pgrep -f -- "venvfs $STORE $MNT" >/dev/null
}

check_ro_mount() {
	local line
	line=$(mount_line "$MNT")
	[[ -n $line ]] || fail "$1: nothing mounted on $MNT"
	assert_eq "$(awk '{ print $1, $3 }' <<<"$line")" "$STORE fuse.venvfs" "$1: source and type"
	local o
	for o in ro allow_other default_permissions; do
		[[ ,$(awk '{ print $4 }' <<<"$line"), == *,$o,* ]] || fail "$1: no '$o' in: $line"
	done
	out=$("$MNT/web/bin/python" -c 'import sys; print(sys.prefix)')
	assert_eq "$out" "$MNT/web" "$1: python runs"
	rc=0
	out=$(touch "$MNT/web/x" 2>&1) || rc=$?
	((rc != 0)) || fail "$1: a write succeeded on a ro mount"
	assert_contains "$out" "Read-only file system" "$1: write"
	check umount "$MNT"
	vv_wait_for 20 daemon_gone || fail "$1: the daemon did not exit after umount"
}

# ---- mount -t fuse with the program's path in the source (no PATH lookup) --------------
check mount -t fuse "$VENVFS#$STORE" "$MNT" -o ro,allow_other
check_ro_mount "mount -t fuse venvfs#STORE"

# ---- an fstab line of that form, through mount -T ---------------------------------------
FSTAB=$VV_TMP/fstab
printf '# test fstab\n%s#%s %s fuse defaults,noauto,ro,allow_other,nofail,_netdev,x-systemd.automount 0 0\n' \
	"$VENVFS" "$STORE" "$MNT" >"$FSTAB"
check mount -T "$FSTAB" "$MNT"
check_ro_mount "fstab venvfs#STORE line"

# ---- rw through mount(8): a new env is kept -----------------------------------------------
check mount -t fuse "$VENVFS#$STORE" "$MNT"
check mkdir "$MNT/made"
check "$MNT/made/bin/python" -c 'print(1)'
check umount "$MNT"
vv_wait_for 20 daemon_gone || fail "rw: the daemon did not exit after umount"
[[ -f $STORE/envs/made ]] || fail "env made through a mount(8) mount was not kept"

# ---- type fuse.venvfs: venvfs found on the default PATH, in a private namespace ------------
if ! command -v unshare >/dev/null; then
	vv_note "unshare missing: the fuse.venvfs forms were not tried"
else
	# the README's fstab line, on the test's store and mount point
	line=$(grep -E '^/srv/venvfs +/opt/venvs +fuse\.venvfs ' "$VV_LIB_DIR/../../README.md") ||
		fail "README has no fstab line for fuse.venvfs"
	printf '%s\n' "$line" | sed "s|/srv/venvfs|$STORE|; s|/opt/venvs|$MNT|" >"$FSTAB"
	cat >"$VV_TMP/ns.sh" <<-EOF
	set -eu
	mount -t tmpfs tmpfs /usr/local/bin
	ln -s "$VENVFS" /usr/local/bin/venvfs
	mount -t fuse.venvfs "$STORE" "$MNT" -o ro,allow_other
	grep -F " $MNT fuse.venvfs ro," /proc/self/mounts >"$VV_TMP/ns-mounts.1"
	"$MNT/web/bin/python" -c 'import sys; print(sys.prefix)' >"$VV_TMP/ns-prefix.1"
	! touch "$MNT/web/x" 2>/dev/null
	umount "$MNT"
	mount -T "$FSTAB" "$MNT"
	grep -F " $MNT fuse.venvfs ro," /proc/self/mounts >"$VV_TMP/ns-mounts.2"
	"$MNT/web/bin/python" -c 'import sys; print(sys.prefix)' >"$VV_TMP/ns-prefix.2"
	umount "$MNT"
	EOF
	check timeout 60 unshare -m --propagation private bash "$VV_TMP/ns.sh"
	for i in 1 2; do
		assert_contains "$(cat "$VV_TMP/ns-mounts.$i")" "$STORE $MNT fuse.venvfs ro," \
			"fuse.venvfs mount $i"
		assert_eq "$(cat "$VV_TMP/ns-prefix.$i")" "$MNT/web" "python on fuse.venvfs mount $i"
	done
	vv_wait_for 20 daemon_gone || fail "fuse.venvfs: the daemon did not exit after umount"
fi

# ---- the daemon's command line ---------------------------------------------------------------
# STORE as first operand, options after the operands (as mount.fuse3 passes them)
"$VENVFS" -f "$STORE" "$MNT" -o ro >>"$VV_LOG" 2>&1 &
VV_PID=$!
vv_wait_for 20 vv_is_mounted || fail "venvfs STORE MNT -o ro did not mount"
check test -x "$MNT/web/bin/python"
vv_umount
rc=0
"$VENVFS" -f --store "$STORE" "$STORE" "$MNT" 2>"$VV_TMP/err" || rc=$?
assert_eq "$rc" 2 "store given twice"
assert_contains "$(cat "$VV_TMP/err")" "store given twice" "store given twice"
vv_is_mounted && fail "mounted although the store was given twice"
check vv_ctl fsck -q

# ---- a missing mountpoint is made when its parent exists ---------------------------------------
# the README's first command, `venvfs ~/envs`, on a first run: no ~/envs, the default store
check mkdir "$VV_TMP/home"
NEW=$VV_TMP/home/envs
new_gone() {
	! pgrep -f -- "venvfs $NEW\$" >/dev/null
}
check "$VENVFS" "$NEW" # daemonizes once mounted
vv_is_mounted "$NEW" || fail "venvfs DIR did not mount on the DIR it made"
check mkdir "$NEW/first"
out=$("$NEW/first/bin/python" -c 'import sys; print(sys.prefix)')
assert_eq "$out" "$NEW/first" "python in an env of the made mountpoint"
check fusermount3 -u "$NEW"
vv_wait_for 20 new_gone || fail "the daemon on $NEW did not exit after the unmount"
assert_dir "$NEW"
assert_eq "$(stat -c %a "$NEW")" "$(printf '%o' $((0755 & ~$(umask))))" "mode of the made mountpoint"
[[ -f $XDG_DATA_HOME/venvfs/envs/first ]] || fail "env made on $NEW is not in the default store"

# -f and a relative mountpoint; the store given with --store
check rmdir "$MNT"
cd "$VV_TMP"
"$VENVFS" -f --store "$STORE" mnt >>"$VV_LOG" 2>&1 &
VV_PID=$!
cd - >/dev/null
vv_wait_for 20 vv_is_mounted || fail "venvfs -f --store STORE MISSING-DIR did not mount"
check test -x "$MNT/web/bin/python"
vv_umount
assert_dir "$MNT"

# a missing parent: exit status 1, one line naming the mountpoint and the parent, nothing made
rc=0
"$VENVFS" --store "$STORE" "$VV_TMP/nodir/mnt" 2>"$VV_TMP/err" || rc=$?
assert_eq "$rc" 1 "exit status for a mountpoint whose parent is missing"
assert_eq "$(cat "$VV_TMP/err")" "venvfs: mountpoint '$VV_TMP/nodir/mnt' does not exist and \
cannot be made: its parent directory '$VV_TMP/nodir' does not exist" "missing parent"
assert_missing "$VV_TMP/nodir"
check vv_ctl fsck -q
