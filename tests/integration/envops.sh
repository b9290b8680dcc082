#!/bin/bash
# envops.sh - env-level operations at the top of the mount: rename (mv) regenerates
# everything that holds the env's path (pyvenv.cfg, activate, console-script shebangs,
# also for a path with a space), rename never clobbers another env, rm -rf removes the
# env from the store, and a new env of the same name starts fresh. venvctl's env
# commands take --store and --config after the command name too.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

W=$VV_TMP/wheels
vv_mkwheels "$W"

# The env at path E is self-consistent: config, activation, scripts, prefix.
env_at() { # E
	local E=$1 out
	cmd=$(sed -n 's/^command = //p' "$E/pyvenv.cfg")
	[[ $cmd == *" -m venv $E" ]] || fail "pyvenv.cfg command does not name $E: $cmd"
	# shellcheck disable=SC2016
	out=$(env -i PATH="$PATH" E="$E" bash --norc -c '. "$E/bin/activate"; echo "$VIRTUAL_ENV"')
	assert_eq "$out" "$E" "VIRTUAL_ENV from activate"
	out=$("$E/bin/pip" --version) || fail "bin/pip --version failed in $E"
	assert_contains "$out" "$E/$VV_SITE/pip" "pip --version in $E"
	out=$("$E/bin/python" -c 'import sys; print(sys.prefix)')
	assert_eq "$out" "$E" "sys.prefix"
}

vv_mount
check mkdir "$MNT/a"
check "$MNT/a/bin/pip" install -q --find-links "$W" demoapp
env_at "$MNT/a"
check vv_commit a

# ---- rename ----------------------------------------------------------------------------------
check mv "$MNT/a" "$MNT/b"
assert_missing "$MNT/a"
assert_dir "$MNT/b"
assert_eq "$(ls "$MNT")" b "ls after mv"
env_at "$MNT/b"
assert_eq "$(head -n 1 "$MNT/b/bin/demo")" "#!$MNT/b/bin/python" "console script shebang after mv"
assert_eq "$("$MNT/b/bin/demo")" "demoapp 1.0 demolib 2.0" "bin/demo after mv"
assert_not_contains "$(cat "$MNT/b/bin/activate")" "$MNT/a" "activate after mv"
vv_wait_for 10 test -f "$STORE/envs/b" || fail "envs/b not in the store after mv"
assert_missing "$STORE/envs/a"

# to a path with a space: shebangs can no longer be a plain #! line
check mv "$MNT/b" "$MNT/x y"
env_at "$MNT/x y"
assert_eq "$("$MNT/x y/bin/demo")" "demoapp 1.0 demolib 2.0" "bin/demo in 'x y'"
check mv "$MNT/x y" "$MNT/b"

# rename never clobbers another env
check mkdir "$MNT/c"
echo marker >"$MNT/c/marker"
check_fail python3 -c 'import os, sys; os.rename(sys.argv[1], sys.argv[2])' "$MNT/b" "$MNT/c" 2>/dev/null
check_fail mv -T "$MNT/b" "$MNT/c" 2>/dev/null
assert_eq "$(cat "$MNT/c/marker")" marker "target env after a refused rename"
env_at "$MNT/b"
assert_eq "$(ls "$MNT")" $'b\nc' "ls after a refused rename"

# ---- remove ----------------------------------------------------------------------------------
check rm -rf "$MNT/b"
assert_missing "$MNT/b"
assert_eq "$(ls "$MNT")" c "ls after rm -rf"
vv_wait_for 10 test ! -e "$STORE/envs/b" || fail "envs/b still in the store after rm -rf"
assert_missing "$STORE/journal/b"

# ---- recreate: a fresh env ---------------------------------------------------------------------
check mkdir "$MNT/b"
env_at "$MNT/b"
assert_missing "$MNT/b/$VV_SITE/demoapp"
assert_missing "$MNT/b/bin/demo"
out=$("$MNT/b/bin/pip" list --format=freeze)
grep -q '^demoapp' <<<"$out" && fail "recreated env still has demoapp: $out"

# ---- all of it survives a remount ------------------------------------------------------------
vv_umount
assert_eq "$(ls "$STORE/envs")" $'b\nc' "env files in the store"
vv_mount
assert_eq "$(ls "$MNT")" $'b\nc' "ls after remount"
assert_eq "$(cat "$MNT/c/marker")" marker "marker after remount"
env_at "$MNT/b"

# ---- console scripts: one object for all envs, following the mountpoint ------------------------
check mkdir "$MNT/s2"
check "$MNT/b/bin/pip" install -q --find-links "$W" demoapp
check "$MNT/s2/bin/pip" install -q --find-links "$W" demoapp
vv_umount
n=0
while IFS= read -r -d '' obj; do
	if [[ $(head -c 9 "$obj") == '#!python'* ]] && grep -q 'from demoapp' "$obj"; then
		n=$((n + 1))
	fi
done < <(find "$STORE/objects" -type f -size -4k -print0)
assert_eq "$n" 1 "stored objects holding the demo console script (two envs)"
MNT=$VV_TMP/elsewhere
vv_mount
assert_eq "$(head -n 1 "$MNT/s2/bin/demo")" "#!$MNT/s2/bin/python" "shebang at another mountpoint"
assert_eq "$("$MNT/s2/bin/demo")" "demoapp 1.0 demolib 2.0" "bin/demo at another mountpoint"
env_at "$MNT/b"
vv_umount

# ---- venvctl: the global options among the command's arguments --------------------------------
printf 'demolib==1.0\n' >"$VV_TMP/req.txt"
printf '[venvfs]\n' >"$VV_TMP/venvfs.ini"
check "$VENVCTL" create --store "$STORE" -r "$VV_TMP/req.txt" --find-links "$W" r1 >/dev/null
assert_eq "$("$VENVCTL" freeze r1 --store "$STORE")" "demolib==1.0" "freeze NAME --store DIR"
# a command option's value is never taken for a global option
check "$VENVCTL" create r2 --prompt --store --store="$STORE" >/dev/null
assert_eq "$(sed -n 's/^prompt = //p' "$STORE/envs/r2")" "--store" "prompt of create --prompt --store"
check "$VENVCTL" clone r1 r3 --config "$VV_TMP/venvfs.ini" --store "$STORE" >/dev/null
check "$VENVCTL" lock --store "$STORE" r3 >/dev/null
assert_contains "$(cat "$STORE/envs/r3")" "locked = true" "lock --store DIR NAME"
check "$VENVCTL" unlock r3 --store "$STORE" >/dev/null
assert_not_contains "$(cat "$STORE/envs/r3")" "locked" "unlock NAME --store DIR"
# after a `--` it is an operand: here an env name
check_fail "$VENVCTL" --store "$STORE" lock -- --store 2>/dev/null
check vv_ctl fsck
