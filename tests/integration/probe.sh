#!/bin/bash
# probe.sh - what a user's pyvenv.cfg can make a root daemon run. Root serves a store
# with -o allow_other; user A (numeric ids, run through setpriv) makes an env and names
# programs in its pyvenv.cfg. Nothing that does not look like CPython is run: dash
# (`executable = /usr/bin/dash`, `home = /usr/bin`) and a root-owned script named
# python3 (which would leave a mark if run) are refused at close with EINVAL and a
# message in the log naming the file and why; a copied ELF of another program named
# python3 passes that check and then fails the probe cleanly. What does run, runs as
# A: a copy of the interpreter only root may run is refused with EACCES, the same copy
# made runnable by everybody is taken and works, and so does the system interpreter.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ $(id -u) != 0 ]]; then
	[[ ${CI:-} == true ]] && fail "needs root to act as another user (CI=true: not skipping)"
	skip "needs root to act as another user"
fi
command -v setpriv >/dev/null || fail "setpriv (util-linux) not found"

UA=4201 GA=4202
HA=$VV_TMP/home-a
mkdir -p "$HA"
chown "$UA:$GA" "$HA"
chmod 0755 "$VV_TMP"
as_a() {
	setpriv --reuid="$UA" --regid="$GA" --clear-groups env HOME="$HA" "$@"
}

# The daemon's interpreter must be one A can run (not one under root's home).
PY=
for cand in "$VV_PYREAL" /usr/bin/python3; do
	[[ -x $cand ]] || continue
	real=$(readlink -f "$cand")
	if as_a "$real" -c 'pass' 2>/dev/null; then
		PY=$real
		break
	fi
done
[[ -n $PY ]] || fail "no interpreter that user $UA can run (tried $VV_PYREAL, /usr/bin/python3)"
PYX=$(basename "$PY")
CFG=$VV_TMP/venvfs.ini
printf '[venvfs]\npython = %s\n' "$PY" >"$CFG"
vv_note "interpreter $PY"

vv_mount --config "$CFG" -o allow_other
check as_a mkdir "$MNT/a"
check as_a "$MNT/a/bin/python" -c 'pass'
grep -qx "python = $PY" "$STORE/envs/a" || fail "envs/a does not name $PY"

# set_cfg EXE [HOME]: A writes its env's pyvenv.cfg naming EXE (no `executable` line
# when EXE is empty) and HOME (default: EXE's directory). Status: that of close.
set_cfg() {
	as_a "$PY" -c '
import os, sys
path, exe, home = sys.argv[1:4]
with open(path, "w") as f:
    f.write("home = %s\n" % home)
    if exe:
        f.write("executable = %s\n" % exe)' "$MNT/a/pyvenv.cfg" "$1" "${2:-$(dirname "$1")}" \
		2>"$VV_TMP/err"
}

# refused WHAT EXE [HOME]: the edit fails with EINVAL, the log says WHAT, and the env
# keeps its interpreter.
refused() {
	local what=$1
	shift
	local named=${1:-home $2}
	local before
	before=$(wc -l <"$VV_LOG")
	local rc=0
	set_cfg "$@" || rc=$?
	((rc != 0)) || fail "a pyvenv.cfg naming $named was accepted"
	assert_contains "$(cat "$VV_TMP/err")" "Invalid argument" "pyvenv.cfg naming $named"
	assert_contains "$(tail -n +"$((before + 1))" "$VV_LOG")" "$what" "daemon log for $named"
	grep -qx "python = $PY" "$STORE/envs/a" || fail "envs/a changed interpreter for $named"
}

# ---- dash: an ELF, root's, executable, but not an interpreter --------------------------
DASH=$(type -P dash || type -P sh)
DASH=$(readlink -f "$DASH")
refused "'$DASH' is not a CPython interpreter: its name is not python" "$DASH" /usr/bin
vv_note "refused $DASH"

# ---- a root-owned script named python3 is not run ---------------------------------------
MARKS=$VV_TMP/marks
mkdir -p "$MARKS" "$VV_TMP/fake/bin"
chmod 01777 "$MARKS"
printf '#!/bin/sh\ntouch %s/ran\n' "$MARKS" >"$VV_TMP/fake/bin/python3"
chmod 0755 "$VV_TMP/fake/bin/python3"
refused "is not a CPython interpreter: it is not an ELF binary" "$VV_TMP/fake/bin/python3"
# through `home` alone (home/python3)
refused "is not a CPython interpreter: it is not an ELF binary" "" "$VV_TMP/fake/bin"
assert_missing "$MARKS/ran"
# the same script, run by A directly, would leave the mark: the test can see one
check as_a "$VV_TMP/fake/bin/python3"
assert_file "$MARKS/ran"
rm -f "$MARKS/ran"

# ---- an ELF of another program named python3: run (as A), refused by its output ----------
mkdir -p "$VV_TMP/elf/bin"
cp "$(readlink -f "$(type -P true)")" "$VV_TMP/elf/bin/python3"
chmod 0755 "$VV_TMP/elf/bin/python3"
refused "'$VV_TMP/elf/bin/python3' printed nothing" "$VV_TMP/elf/bin/python3"
check stat "$MNT/a/bin" >/dev/null

# ---- what runs, runs as A --------------------------------------------------------------
# A copy of the interpreter that only root may run: the probe, as A, cannot execute it.
ALT=$VV_TMP/alt/bin/$PYX
mkdir -p "$VV_TMP/alt/bin"
cp "$PY" "$ALT"
chmod 0755 "$ALT"
as_a "$ALT" -I -c 'pass' 2>/dev/null ||
	fail "a copy of $PY does not run (it needs its own directory: $(as_a "$ALT" -c pass 2>&1))"
chmod 0700 "$ALT"
refused "cannot execute '$ALT' as uid $UA gid $GA (the env's owner): Permission denied" \
	"$ALT" "$VV_TMP/alt/bin"
# runnable by everybody, the same copy is taken
chmod 0755 "$ALT"
check set_cfg "$ALT"
grep -qx "python = $ALT" "$STORE/envs/a" || fail "envs/a does not name $ALT:
$(cat "$STORE/envs/a")"
assert_eq "$(readlink "$MNT/a/bin/$PYX")" "$ALT" "a/bin/$PYX after the switch"
out=$(as_a "$MNT/a/bin/python" -c 'import sys; print(sys.prefix)' 2>/dev/null)
assert_eq "$out" "$MNT/a" "sys.prefix of the env on the copied interpreter"

# ---- the system interpreter works again --------------------------------------------------
check set_cfg "$PY"
grep -qx "python = $PY" "$STORE/envs/a" || fail "envs/a does not name $PY again"
check as_a "$MNT/a/bin/python" -c 'import sys; assert sys.prefix == sys.argv[1], sys.prefix' \
	"$MNT/a"
vv_commit a
assert_missing "$MARKS/ran"
vv_umount
