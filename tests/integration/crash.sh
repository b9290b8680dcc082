#!/bin/bash
# crash.sh - kill -9 the daemon in the middle of a pip install, a few times: after each
# crash and remount the store passes `venvctl fsck` (every object matches its name, every
# tree entry points to an existing object), tmp/ holds no leftovers, the env still works,
# and pip can install. The mount also cleans temp files a dead process left in tmp/ and
# keeps those of a live one.
#
# VV_CRASH_ROUNDS sets the number of rounds (default 4, about 10 s each). The long run
# documented in docs/reliability.md:
#     VV_CRASH_ROUNDS=200 meson test -C build crash --timeout-multiplier 0
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
ROUNDS=${VV_CRASH_ROUNDS:-4}
[[ $ROUNDS =~ ^[0-9]+$ ]] || { echo "crash: VV_CRASH_ROUNDS='$ROUNDS' is not a number" >&2; exit 1; }
VV_TEST_TIMEOUT=${VV_TEST_TIMEOUT:-$((150 + ROUNDS * 40))}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
T0=$SECONDS
W=$VV_TMP/wheels
pkgs=()
for i in $(seq 1 12); do
	python3 "$VV_LIB_DIR/mkwheel.py" "$W" "crashpkg$i" 1.0 --modules 25 \
		--payload-size $((i * 40000)) --script "crash$i=crashpkg$i:main" >/dev/null
	pkgs+=("crashpkg$i")
done
python3 "$VV_LIB_DIR/mkwheel.py" "$W" afterpkg 1.0 --script after=afterpkg:main >/dev/null

env_works() { # ENV
	local E=$MNT/$1
	check timeout 60 "$E/bin/python" -c 'import sys'
	out=$(timeout 60 "$E/bin/pip" --version) || fail "pip --version in $1 failed after a crash"
	assert_contains "$out" "$E/$VV_SITE/pip" "pip --version in $1"
}

vv_mount
check mkdir "$MNT/web"
vv_umount

# Temp files in tmp/: one of a process that is gone (cleaned at the next mount) and one
# of a live process (kept).
dead=$(sh -c 'echo $$')
live_tmp=$STORE/tmp/obj-$$-0123456789abcdef
printf 'junk' >"$STORE/tmp/obj-$dead-0123456789abcdef"
printf 'mine' >"$live_tmp"

for ((round = 1; round <= ROUNDS; round++)); do
	vv_mount
	# kill somewhere between 0.2 s and ~3 s into the install (or after it, on a fast box)
	delay=$(printf '%d.%02d' $((RANDOM % 3)) $((20 + RANDOM % 80)))
	vv_note "round $round: killing the daemon after ${delay}s"
	vv_bg timeout 120 "$MNT/web/bin/pip" install -q --find-links "$W" "${pkgs[@]}" \
		>>"$VV_TMP/pip.log" 2>&1
	pip_pid=$VV_BG_PID
	sleep "$delay"
	vv_kill_daemon KILL
	# pip now fails (the mount is gone) or had finished; either way it must end.
	wait "$pip_pid" || true

	vv_mount
	if ((round == 1)); then
		assert_missing "$STORE/tmp/obj-$dead-0123456789abcdef"
		assert_file "$live_tmp"
		rm -f "$live_tmp"
	fi
	left=$(find "$STORE/tmp" -mindepth 1)
	assert_eq "$left" "" "tmp/ after recovering from crash round $round"
	env_works web
	out=$(vv_ctl fsck 2>&1) || fail "fsck after crash round $round: $out"
	# a clean unmount between rounds; the next round starts from the recovered state
	vv_umount
	out=$(vv_ctl fsck 2>&1) || fail "fsck after unmounting in round $round: $out"
done

vv_mount
env_works web
# The crashed env can still install something new...
check timeout 120 "$MNT/web/bin/pip" install -q --find-links "$W" afterpkg
assert_eq "$("$MNT/web/bin/after")" "afterpkg 1.0" "script installed after the crashes"
# ...and a fresh env gets the whole set.
check mkdir "$MNT/fresh"
check timeout 120 "$MNT/fresh/bin/pip" install -q --find-links "$W" "${pkgs[@]}"
check "$MNT/fresh/bin/python" -c "import $(IFS=,; echo "${pkgs[*]}")"
assert_eq "$("$MNT/fresh/bin/crash12")" "crashpkg12 1.0" "script in the fresh env"
vv_commit web fresh
check vv_ctl fsck
vv_umount
check vv_ctl fsck
vv_note "$ROUNDS crash rounds passed in $((SECONDS - T0)) s"
