#!/bin/bash
# multiuser.sh - envs belong to their users on a mount shared with -o allow_other.
# Root serves the store; users A and B (numeric ids, no accounts, run through setpriv)
# use it. The mount root is 01777; `mkdir MNT/a` by A gives an env owned by A with the
# mode mkdir asked for, shown on every file; A runs and pip-installs into it; B can
# import and run from it, but every kind of write (trywrites.py, pip install, editing
# pyvenv.cfg) fails with EACCES/EPERM and the store does not change; B cannot remove or
# rename A's env (sticky root) but makes an env of its own; a directory A opens with
# chmod 0777 takes B's files; A's pyvenv.cfg cannot make the root daemon run A's
# program; root's chown of the env to B, and A's chmod of the env root, are kept in
# envs/NAME and across a remount; venvctl records the invoking user (clone too); an
# envs/NAME from before owners (no keys) mounts as its file's owner; without
# allow_other the root is 0755 and other users are kept out.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ $(id -u) != 0 ]]; then
	[[ ${CI:-} == true ]] && fail "needs root to act as other users (CI=true: not skipping)"
	skip "needs root to act as other users"
fi
command -v setpriv >/dev/null || fail "setpriv (util-linux) not found"

UA=4101 GA=4101 UB=4102 GB=4102
HA=$VV_TMP/home-a HB=$VV_TMP/home-b
mkdir -p "$HA" "$HB"
chown "$UA:$GA" "$HA"
chown "$UB:$GB" "$HB"
# the users must reach the mount point and the wheels
chmod 0755 "$VV_TMP"
W=$VV_TMP/wheels
vv_mkwheels "$W"
chmod -R a+rX "$W"

# as_a/as_b CMD...: run CMD as that user, with a home of its own and pip offline
as_user() {
	local u=$1 g=$2 h=$3
	shift 3
	setpriv --reuid="$u" --regid="$g" --clear-groups env HOME="$h" XDG_CACHE_HOME="$h/.cache" \
		PIP_NO_CACHE_DIR=1 "$@"
}
as_a() { as_user "$UA" "$GA" "$HA" "$@"; }
as_b() { as_user "$UB" "$GB" "$HB" "$@"; }

# The daemon's interpreter must be one the users can run (not one under root's home).
PY=
for cand in "$VV_PYREAL" /usr/bin/python3; do
	[[ -x $cand ]] || continue
	real=$(readlink -f "$cand")
	if as_a "$real" -c 'import ensurepip' 2>/dev/null ||
		{ as_a "$real" -c 'pass' 2>/dev/null && compgen -G '/usr/share/python-wheels/pip-*.whl' >/dev/null; }; then
		PY=$real
		break
	fi
done
[[ -n $PY ]] || fail "no interpreter that user $UA can run (tried $VV_PYREAL, /usr/bin/python3)"
SITEV="lib/python$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')/site-packages"
CFG=$VV_TMP/venvfs.ini
printf '[venvfs]\npython = %s\n' "$PY" >"$CFG"
vv_note "interpreter $PY"

# A store from before owners: an env file without owner keys, owned by user A.
check vv_ctl --config "$CFG" create old >/dev/null
grep -qx 'owner = 0:0' "$STORE/envs/old" || fail "venvctl create did not record root as owner:
$(cat "$STORE/envs/old")"
sed -i '/^owner = /d; /^mode = /d' "$STORE/envs/old"
chown "$UA:$GA" "$STORE/envs/old"

# store_state: every file of the store that describes envs or holds content, hashed
store_state() {
	(cd "$STORE" && find objects envs journal history packages -type f -print0 |
		sort -z | xargs -0 sha256sum)
}

vv_mount --config "$CFG" -o allow_other
grep -E " $(vv__mount_escape "$MNT") " /proc/self/mounts | grep -q 'allow_other' ||
	fail "mount has no allow_other"
mopts=$(awk -v m="$(vv__mount_escape "$MNT")" '$2 == m { print $4 }' /proc/self/mounts)
assert_contains "$mopts" "default_permissions" "mount options"
assert_contains "$mopts" "nosuid" "mount options"
assert_eq "$(stat -c '%a %u' "$MNT")" "1777 0" "mount root with allow_other"

# ---- the old env: its file's owner, 0755 ------------------------------------------------
assert_eq "$(stat -c '%a %u:%g' "$MNT/old")" "755 $UA:$GA" "env without owner keys"
assert_eq "$(stat -c '%u:%g' "$MNT/old/bin/pip")" "$UA:$GA" "file of env without owner keys"

# ---- A makes an env -----------------------------------------------------------------
check as_a sh -c "umask 027 && mkdir '$MNT/a'"
assert_eq "$(stat -c '%a %u:%g' "$MNT/a")" "750 $UA:$GA" "env made by A (umask 027)"
grep -qx "owner = $UA:$GA" "$STORE/envs/a" || fail "envs/a does not record A:
$(cat "$STORE/envs/a")"
grep -qx "mode = 0750" "$STORE/envs/a" || fail "envs/a does not record mode 0750"
for f in bin bin/pip pyvenv.cfg "$SITEV"; do
	assert_eq "$(stat -c '%u:%g' "$MNT/a/$f")" "$UA:$GA" "owner of a/$f"
done
# per-file modes stay as stored
assert_eq "$(stat -c '%a' "$MNT/a/bin/pip")" "755" "mode of a/bin/pip"
assert_eq "$(stat -c '%a' "$MNT/a/pyvenv.cfg")" "644" "mode of a/pyvenv.cfg"
# B cannot even look into a 0750 env of A's
check_fail as_b ls "$MNT/a"
check as_a chmod 0755 "$MNT/a"
grep -qx "mode = 0755" "$STORE/envs/a" || fail "chmod of the env root not saved"

check as_a "$MNT/a/bin/python" -c 'import sys; assert sys.prefix == sys.argv[1], sys.prefix' "$MNT/a"
check as_a "$MNT/a/bin/pip" install -q --no-index --find-links "$W" demolib==1.0
check as_a mkdir "$MNT/a/emptydir"
check as_a "$MNT/a/bin/demolib-version" >/dev/null
out=$(as_b "$MNT/a/bin/python" -c 'import demolib; print(demolib.__version__)')
assert_eq "$out" "1.0" "B imports from A's env"
check as_b "$MNT/a/bin/demolib-version" >/dev/null
vv_commit a

# ---- B cannot change A's env ----------------------------------------------------------
before=$(store_state)
as_b python3 "$VV_LIB_DIR/trywrites.py" --expect EACCES,EPERM "$MNT/a" \
	"$SITEV/demolib/__init__.py" "$SITEV/demolib" emptydir >"$VV_TMP/tried" ||
	fail "writes by B not refused:
$(cat "$VV_TMP/tried")"
vv_note "$(cat "$VV_TMP/tried") kinds of write by B into A's env refused with EACCES/EPERM"
rc=0
as_b "$MNT/a/bin/pip" install -q --no-index --find-links "$W" demolib==2.0 \
	>"$VV_TMP/out" 2>&1 || rc=$?
((rc != 0)) || fail "pip install by B into A's env succeeded"
assert_contains "$(cat "$VV_TMP/out")" "Permission denied" "pip install by B"
for op in rmdir rename rmtree; do
	rc=0
	as_b python3 -c '
import errno, os, shutil, sys
op, env = sys.argv[1:3]
try:
    if op == "rmdir":
        os.rmdir(env)
    elif op == "rename":
        os.rename(env, env + "-mine")
    else:
        shutil.rmtree(env)
except OSError as e:
    sys.exit(0 if e.errno in (errno.EPERM, errno.EACCES) else "%s: %s" % (op, e))
sys.exit(op + " of A'"'"'s env by B succeeded")' "$op" "$MNT/a" || rc=$?
	((rc == 0)) || fail "$op of A's env by B was not refused"
done
check_fail as_b chown "$UB:$GB" "$MNT/a"
check_fail as_b chmod 0777 "$MNT/a"
assert_eq "$(as_b "$MNT/a/bin/python" -c 'import demolib; print(demolib.__version__)')" "1.0" \
	"A's env after B's attempts"
vv_commit a
after=$(store_state)
[[ $before == "$after" ]] || fail "B's attempts changed the store:
$(diff <(echo "$before") <(echo "$after"))"

# ---- B makes its own env ----------------------------------------------------------------
check as_b mkdir "$MNT/b"
assert_eq "$(stat -c '%a %u:%g' "$MNT/b")" "755 $UB:$GB" "env made by B"
check as_b "$MNT/b/bin/pip" install -q --no-index --find-links "$W" demolib==2.0
check_fail as_a touch "$MNT/b/x"
# the daemon's user (root) may still remove envs from the sticky root; A may not
check_fail as_a rmdir "$MNT/b"

# ---- a directory A opens to everybody ---------------------------------------------------
check as_a mkdir "$MNT/a/shared"
check_fail as_b touch "$MNT/a/shared/b.txt"
check as_a chmod 0777 "$MNT/a/shared"
check as_b sh -c "echo from-b >'$MNT/a/shared/b.txt'"
check as_b mkdir "$MNT/a/shared/bdir"
assert_eq "$(cat "$MNT/a/shared/b.txt")" "from-b" "B's file in A's open directory"
# what B made there is A's env's like everything in it
assert_eq "$(stat -c '%u' "$MNT/a/shared/b.txt")" "$UA" "owner of B's file in A's env"
check_fail as_b touch "$MNT/a/lib/nope"

# ---- pyvenv.cfg cannot make the root daemon run a user's program -----------------------
check as_a mkdir -p "$HA/bin"
printf '#!/bin/sh\ntouch %s/ran\n' "$VV_TMP" >"$HA/bin/python3"
chown "$UA:$GA" "$HA/bin/python3"
chmod 0755 "$HA/bin/python3"
rc=0
as_a python3 -c 'import sys
with open(sys.argv[1], "w") as f:
    f.write("home = %s/bin\nexecutable = %s/bin/python3\n" % (sys.argv[2], sys.argv[2]))' \
	"$MNT/a/pyvenv.cfg" "$HA" 2>"$VV_TMP/err" || rc=$?
((rc != 0)) || fail "a pyvenv.cfg naming A's program was accepted"
assert_contains "$(cat "$VV_TMP/err")" "Operation not permitted" "pyvenv.cfg naming A's program"
assert_missing "$VV_TMP/ran"
assert_contains "$(cat "$VV_LOG")" "not run: the directory '$HA' belongs to uid $UA" "daemon log"
grep -qx "python = $PY" "$STORE/envs/a" || fail "envs/a changed interpreter"

# ---- root gives A's env to B; venvctl records its caller -------------------------------
check chown "$UB:$GB" "$MNT/a"
grep -qx "owner = $UB:$GB" "$STORE/envs/a" || fail "chown of the env not saved"
owner_is() { [[ $(stat -c %u "$1") == "$2" ]]; }
vv_wait_for 10 owner_is "$MNT/a/$SITEV/demolib/__init__.py" "$UB" ||
	fail "files of the env still show their old owner"
check as_b touch "$MNT/a/$SITEV/by-b"
check_fail as_a touch "$MNT/a/$SITEV/by-a"
# inside an env only a no-op chown works, even for root
check_fail chown "$UA" "$MNT/a/lib"
check chown "$UB:$GB" "$MNT/a/lib"
check as_b chmod 0711 "$MNT/a"
vv_commit a
check vv_ctl clone a a-copy >/dev/null
grep -qx 'owner = 0:0' "$STORE/envs/a-copy" || fail "clone by root is not root's:
$(cat "$STORE/envs/a-copy")"

vv_umount
vv_mount --config "$CFG" -o allow_other
assert_eq "$(stat -c '%a %u:%g' "$MNT/a")" "711 $UB:$GB" "env a after remount"
assert_eq "$(stat -c '%u:%g' "$MNT/a/$SITEV/by-b")" "$UB:$GB" "file of env a after remount"
assert_eq "$(stat -c '%a %u:%g' "$MNT/b")" "755 $UB:$GB" "env b after remount"
assert_eq "$(stat -c '%u:%g' "$MNT/a-copy/bin/pip")" "0:0" "clone after remount"
assert_eq "$(stat -c '%a %u:%g' "$MNT/old")" "755 $UA:$GA" "old env after remount"
check as_b "$MNT/a/bin/python" -c 'import demolib'
vv_umount

# ---- without allow_other: the daemon's user's alone -------------------------------------
vv_mount --config "$CFG"
assert_eq "$(stat -c '%a %u' "$MNT")" "755 0" "mount root without allow_other"
check_fail as_a stat "$MNT/old"
vv_umount
