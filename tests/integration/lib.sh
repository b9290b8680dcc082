#!/bin/bash
# lib.sh - shared setup for the venvfs integration tests (sourced, needs bash).
#
# Gives every test a private temp dir with store/ and mnt/, starts and stops the daemon,
# and always cleans up: an EXIT trap unmounts whatever is still mounted under the temp
# dir (lazily as a last resort), stops the daemon and background jobs, and removes the
# temp dir. A watchdog kills a hung daemon (which unblocks anything stuck on the mount)
# and fails the test after VV_TEST_TIMEOUT seconds. Any command that fails unchecked
# fails the test with its line number (set -e plus an ERR trap).
#
# Environment: VENVFS and VENVCTL (binaries; default: found on PATH), CI (when "true", a
# missing /dev/fuse is a failure, not a skip), VV_TEST_TIMEOUT, VV_KEEP_TMP=1 (keep the
# temp dir for debugging), TMPDIR.
#
# Exit status: 0 pass, 1 fail, 77 skip.

set -eEu -o pipefail
shopt -s inherit_errexit 2>/dev/null || true
export LC_ALL=C

VV_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VV_TEST_NAME=$(basename "$0" .sh)
VV_TMP=
VV_PID=
VV_WATCHDOG=
VV_BG_PIDS=()
VV_DAEMON_STATUS=

# ---- messages and assertions ---------------------------------------------------------

vv_note() {
	printf '%s: %s\n' "$VV_TEST_NAME" "$*" >&2
}

vv_log_tail() {
	if [[ -n ${VV_LOG:-} && -s ${VV_LOG:-} ]]; then
		printf -- '--- daemon log (last 40 lines of %s) ---\n' "$VV_LOG" >&2
		tail -n 40 "$VV_LOG" >&2 || true
		printf -- '--- end of daemon log ---\n' >&2
	fi
}

# fail MSG...: report and exit 1 (the EXIT trap cleans up).
fail() {
	trap - ERR
	printf '%s: FAIL: %s\n' "$VV_TEST_NAME" "$*" >&2
	vv_log_tail
	exit 1
}

skip() {
	trap - ERR
	printf '%s: SKIP: %s\n' "$VV_TEST_NAME" "$*" >&2
	exit 77
}

# check CMD...: run CMD; fail unless it succeeds.
check() {
	local rc=0
	"$@" || rc=$?
	((rc == 0)) || fail "command failed (exit $rc): $(vv_quote "$@")"
}

# check_fail CMD...: run CMD; fail if it succeeds.
check_fail() {
	local rc=0
	"$@" || rc=$?
	((rc != 0)) || fail "command succeeded but should have failed: $(vv_quote "$@")"
}

# assert_eq ACTUAL EXPECTED WHAT
assert_eq() {
	[[ $1 == "$2" ]] || fail "$3: got '$1', expected '$2'"
}

# assert_contains HAYSTACK NEEDLE WHAT (fixed string)
assert_contains() {
	[[ $1 == *"$2"* ]] || fail "$3: '$2' not found in: $1"
}

assert_not_contains() {
	[[ $1 != *"$2"* ]] || fail "$3: '$2' unexpectedly found in: $1"
}

# assert_file PATH / assert_dir PATH / assert_missing PATH
assert_file() { [[ -f $1 && ! -L $1 ]] || fail "not a regular file: $1"; }
assert_dir() { [[ -d $1 && ! -L $1 ]] || fail "not a directory: $1"; }
assert_missing() { [[ ! -e $1 && ! -L $1 ]] || fail "should not exist: $1"; }

vv_quote() {
	local out='' a
	for a in "$@"; do
		out+="${out:+ }$(printf '%q' "$a")"
	done
	printf '%s' "$out"
}

# vv_wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds; 1 on timeout.
vv_wait_for() {
	local limit=$1 start=$SECONDS
	shift
	until "$@"; do
		((SECONDS - start < limit)) || return 1
		sleep 0.1
	done
}

# vv_bg CMD...: start CMD in the background, remembered for cleanup; pid in VV_BG_PID.
vv_bg() {
	"$@" &
	VV_BG_PID=$!
	VV_BG_PIDS+=("$VV_BG_PID")
}

# vv_time CMD...: run CMD (must succeed); its wall time in ms goes to VV_ELAPSED_MS.
vv_time() {
	local t0 t1
	t0=$(date +%s%N)
	check "$@"
	t1=$(date +%s%N)
	# shellcheck disable=SC2034 # read by the tests
	VV_ELAPSED_MS=$(((t1 - t0) / 1000000))
}

vv__on_err() {
	local rc=$1 line=$2 cmd=$3
	fail "line $line: command failed (exit $rc): $cmd"
}

# ---- mounting ------------------------------------------------------------------------

# /proc/self/mounts escapes space, tab, newline and backslash as octal.
vv__mount_escape() {
	local p=$1
	p=${p//\\/\\134}
	p=${p// /\\040}
	p=${p//$'\t'/\\011}
	p=${p//$'\n'/\\012}
	printf '%s' "$p"
}

# vv_is_mounted [DIR]: is DIR (default $MNT) a mount point right now? Reads
# /proc/self/mounts instead of stat'ing DIR, which would hang on a stuck daemon.
vv_is_mounted() {
	local want
	want=$(vv__mount_escape "${1:-$MNT}")
	awk -v m="$want" '$2 == m { found = 1 } END { exit !found }' /proc/self/mounts
}

# vv_mount [ARGS...]: start "$VENVFS -f --store $STORE ARGS... $MNT" (with VV_REMOTE_URL
# set: --remote $VV_REMOTE_URL in place of --store) in the background and wait until the
# mount is up and answers.
# shellcheck disable=SC2120 # arguments are optional
vv_mount() {
	local timeout=${VV_MOUNT_TIMEOUT:-30} start=$SECONDS
	[[ -z $VV_PID ]] || fail "vv_mount: daemon $VV_PID is already running"
	mkdir -p "$MNT"
	# VV_REMOTE_URL set: mount the envs published there (--remote), not $STORE
	local src=(--store "$STORE")
	[[ -z ${VV_REMOTE_URL:-} ]] || src=(--remote "$VV_REMOTE_URL")
	printf '=== %s: %s -f %s %s %s\n' "$(date +%T)" "$VENVFS" "${src[*]}" "$*" \
		"$MNT" >>"$VV_LOG"
	"$VENVFS" -f "${src[@]}" "$@" "$MNT" >>"$VV_LOG" 2>&1 &
	VV_PID=$!
	echo "$VV_PID" >"$VV_TMP/daemon.pid"
	until vv_is_mounted; do
		if ! kill -0 "$VV_PID" 2>/dev/null; then
			local rc=0
			wait "$VV_PID" || rc=$?
			VV_PID=
			fail "daemon exited with status $rc before the mount came up"
		fi
		((SECONDS - start < timeout)) || fail "mount did not come up within ${timeout}s"
		sleep 0.05
	done
	timeout 20 stat "$MNT" >/dev/null || fail "mount point does not answer after mounting"
}

# vv__stop_daemon SECONDS: wait for the daemon to exit, then TERM, then KILL it.
# Sets VV_DAEMON_STATUS; returns 1 if it had to be signalled.
vv__stop_daemon() {
	# stderr off: bash reports a job killed by a signal ("Killed ...") on its own.
	vv__stop_daemon_quiet "$@" 2>/dev/null
}

vv__stop_daemon_quiet() {
	local limit=$1 start=$SECONDS forced=0
	[[ -n $VV_PID ]] || return 0
	while kill -0 "$VV_PID" 2>/dev/null && ((SECONDS - start < limit)); do
		sleep 0.05
	done
	if kill -0 "$VV_PID" 2>/dev/null; then
		forced=1
		kill -TERM "$VV_PID" 2>/dev/null || true
		start=$SECONDS
		while kill -0 "$VV_PID" 2>/dev/null && ((SECONDS - start < 5)); do
			sleep 0.05
		done
		kill -KILL "$VV_PID" 2>/dev/null || true
	fi
	VV_DAEMON_STATUS=0
	wait "$VV_PID" 2>/dev/null || VV_DAEMON_STATUS=$?
	VV_PID=
	rm -f "$VV_TMP/daemon.pid"
	return $((forced))
}

# vv__unmount DIR: fusermount3 -u, retried while busy, then lazily. 1 if lazy was needed.
vv__unmount() {
	local dir=$1 i
	vv_is_mounted "$dir" || return 0
	for ((i = 0; i < 50; i++)); do
		fusermount3 -u "$dir" 2>/dev/null && return 0
		vv_is_mounted "$dir" || return 0
		sleep 0.1
	done
	fusermount3 -uz "$dir" 2>/dev/null || umount -l "$dir" 2>/dev/null || true
	return 1
}

# vv_umount: unmount cleanly; fail unless the daemon then exits by itself with status 0.
vv_umount() {
	[[ -n $VV_PID ]] || fail "vv_umount: no daemon running"
	vv__unmount "$MNT" || fail "unmount needed a lazy unmount (mount busy)"
	vv__stop_daemon "${VV_UMOUNT_TIMEOUT:-60}" ||
		fail "daemon did not exit within ${VV_UMOUNT_TIMEOUT:-60}s of the unmount"
	((VV_DAEMON_STATUS == 0)) || fail "daemon exited with status $VV_DAEMON_STATUS"
}

# vv_kill_daemon [SIGNAL]: kill the daemon (default -9) and clean the dead mount up.
vv_kill_daemon() {
	[[ -n $VV_PID ]] || fail "vv_kill_daemon: no daemon running"
	{
		kill "-${1:-KILL}" "$VV_PID" || true
		vv__stop_daemon_quiet 10 || true
	} 2>/dev/null
	fusermount3 -uz "$MNT" 2>/dev/null || true
	vv_wait_for 10 eval '! vv_is_mounted' || fail "dead mount did not go away"
}

# ---- helpers for tests ---------------------------------------------------------------

# "$VENVCTL" --store "$STORE" ARGS...
vv_ctl() {
	"$VENVCTL" --store "$STORE" "$@"
}

# vv_commit NAME...: ask the daemon to commit envs (fsync of the env directory).
vv_commit() {
	local n
	for n in "$@"; do
		sync "$MNT/$n" || fail "sync of env '$n' failed"
	done
}

vv_sha256() {
	local h
	h=$(sha256sum <"$1") || fail "cannot hash $1"
	printf '%s' "${h%% *}"
}

# Path of the store object with id HEX.
vv_obj_path() {
	printf '%s/objects/%s/%s' "$STORE" "${1:0:2}" "${1:2}"
}

# Apparent size of all object files (bytes) and their count.
vv_objects_bytes() {
	find "$STORE/objects" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%d", s }'
}
vv_objects_count() {
	find "$STORE/objects" -type f | wc -l | tr -d ' '
}

# vv_json FILE EXPR: evaluate a Python expression over the JSON document j.
vv_json() {
	python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))
v = eval(sys.argv[2], {"j": j})
print(v if not isinstance(v, bool) else str(v).lower())' "$1" "$2"
}

# vv_mkwheels DIR: the demo wheel set used by several tests:
#   demolib 1.0 and 2.0 (console script demolib-version), demoapp 1.0 (needs demolib,
#   console script demo, data script demo-data).
vv_mkwheels() {
	local out=$1 w=$VV_LIB_DIR/mkwheel.py
	python3 "$w" "$out" demolib 1.0 --script demolib-version=demolib:main --modules 3 \
		>/dev/null
	python3 "$w" "$out" demolib 2.0 --script demolib-version=demolib:main --modules 4 \
		>/dev/null
	python3 "$w" "$out" demoapp 1.0 --dep 'demolib>=1.0' --script demo=demoapp:main \
		--data-script demo-data --module-content 'import demolib


def main():
    print("demoapp", __version__, "demolib", demolib.__version__)
    return 0' >/dev/null
}

# vv_python_with DIST...: the resolved path of the first interpreter (python3, pyenv's
# versions, /usr/bin/python3) that has every DIST installed from a wheel (its RECORD
# lists the files tests/wheelcorpus.py repacks; a distro's egg-info has none), or
# nothing.
vv_python_with() {
	local cand probe
	probe='import importlib.metadata as m, sys
for d in sys.argv[1:]:
    assert m.distribution(d).read_text("RECORD") is not None'
	for cand in python3 "$HOME"/.pyenv/versions/*/bin/python3 /usr/bin/python3; do
		if command -v "$cand" >/dev/null && "$cand" -c "$probe" "$@" 2>/dev/null; then
			"$cand" -c 'import os, sys; print(os.path.realpath(sys.executable))'
			return
		fi
	done
}

# ---- setup and cleanup ---------------------------------------------------------------

vv__cleanup() {
	local rc=$? m pid
	trap - ERR EXIT INT TERM
	set +e
	if [[ -n $VV_WATCHDOG ]]; then
		kill "$VV_WATCHDOG" 2>/dev/null
		wait "$VV_WATCHDOG" 2>/dev/null
	fi
	{
		for pid in ${VV_BG_PIDS[@]+"${VV_BG_PIDS[@]}"}; do
			kill -KILL "$pid"
			wait "$pid"
		done
	} 2>/dev/null
	if [[ -n $VV_TMP && -d $VV_TMP ]]; then
		if [[ -n $VV_PID ]]; then
			vv__unmount "$MNT"
			vv__stop_daemon 20 || vv_note "daemon had to be killed during cleanup"
		fi
		# Anything else a test mounted under the temp dir (errors.sh), deepest first.
		while read -r m; do
			vv__unmount "$m" || true
		done < <(awk -v p="$(vv__mount_escape "$VV_TMP")/" \
			'index($2, p) == 1 { print $2 }' /proc/self/mounts | sort -r |
			sed 's/\\040/ /g; s/\\011/\t/g; s/\\134/\\/g')
		if [[ ${VV_KEEP_TMP:-0} == 1 ]]; then
			vv_note "kept $VV_TMP"
		elif vv_is_mounted "$MNT"; then
			vv_note "$MNT is still mounted; leaving $VV_TMP behind"
		else
			chmod -R u+rwX "$VV_TMP" 2>/dev/null
			rm -rf --one-file-system "$VV_TMP"
		fi
	fi
	exit "$rc"
}

vv__timeout() {
	trap - TERM
	fail "timed out after ${VV_TEST_TIMEOUT}s"
}

vv__setup() {
	if [[ ! -e /dev/fuse ]]; then
		[[ ${CI:-} == true ]] && fail "/dev/fuse is missing (CI=true: not skipping)"
		skip "/dev/fuse is missing"
	fi
	VENVFS=${VENVFS:-$(command -v venvfs || true)}
	VENVCTL=${VENVCTL:-$(command -v venvctl || true)}
	[[ -n $VENVFS && -x $VENVFS ]] || fail "VENVFS is not set to the venvfs binary"
	[[ -n $VENVCTL && -x $VENVCTL ]] || fail "VENVCTL is not set to the venvctl binary"
	local tool
	for tool in fusermount3 python3 sha256sum timeout awk find; do
		command -v "$tool" >/dev/null || fail "required tool '$tool' not found"
	done

	VV_TMP=$(mktemp -d "${TMPDIR:-/tmp}/venvfs-$VV_TEST_NAME.XXXXXX")
	# Resolve symlinks in TMPDIR so paths compare equal to what Python reports.
	VV_TMP=$(cd "$VV_TMP" && pwd -P)
	trap vv__cleanup EXIT
	trap 'exit 130' INT
	trap vv__timeout TERM
	trap 'vv__on_err $? $LINENO "$BASH_COMMAND"' ERR
	STORE=$VV_TMP/store
	MNT=$VV_TMP/mnt
	VV_LOG=$VV_TMP/daemon.log
	mkdir -p "$STORE" "$MNT"
	: >"$VV_LOG"

	# Keep the user's config, store, pip cache and network out of the tests. $HOME
	# stays: version-manager shims find their interpreters through it.
	export XDG_CONFIG_HOME=$VV_TMP/xdg-config XDG_DATA_HOME=$VV_TMP/xdg-data
	export XDG_CACHE_HOME=$VV_TMP/xdg-cache
	export PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
	export PIP_CACHE_DIR=$VV_TMP/pip-cache PIP_NO_WARN_SCRIPT_LOCATION=1
	export PIP_ROOT_USER_ACTION=ignore
	unset PIP_REQUIRE_VIRTUALENV PIP_USER PIP_TARGET PIP_PREFIX PYTHONPATH PYTHONHOME
	# Python writes __pycache__ through the mount, as it does for users
	unset PYTHONDONTWRITEBYTECODE
	unset VIRTUAL_ENV PYTHONSTARTUP PYTHONNOUSERSITE

	# The interpreter the daemon picks by default: the first python3 on PATH.
	# shellcheck disable=SC2034 # used by the tests that source this file
	VV_PYTHON=$(command -v python3)
	# shellcheck disable=SC2034
	VV_PYREAL=$(python3 -c 'import os, sys; print(os.path.realpath(sys.executable))')
	VV_PYVER=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
	# shellcheck disable=SC2034
	VV_SITE="lib/python$VV_PYVER/site-packages"

	# Watchdog: after the limit, kill the daemon (any syscall stuck on the mount then
	# fails with ENOTCONN) and make the test fail through its TERM trap.
	local limit=${VV_TEST_TIMEOUT:-170} self=$$ tmp=$VV_TMP
	VV_TEST_TIMEOUT=$limit
	(
		trap - ERR EXIT INT
		set +e
		sleep "$limit" &
		sp=$!
		trap 'kill $sp 2>/dev/null; exit 0' TERM
		wait $sp || exit 0
		echo "watchdog: $VV_TEST_NAME timed out after ${limit}s" >>"$tmp/daemon.log"
		kill -TERM "$self" 2>/dev/null
		sleep 2
		[[ -s $tmp/daemon.pid ]] && kill -KILL "$(cat "$tmp/daemon.pid")" 2>/dev/null
		exit 0
	) </dev/null >/dev/null 2>&1 &
	VV_WATCHDOG=$!
}

vv__setup

# vv_needs_packages DIST...: VV_PY, an interpreter with every DIST installed from wheels
# (fails under CI=true where there is none, else skips); VV_WHEELS, the dists and their
# dependencies repacked into wheels (tests/wheelcorpus.py, offline); and a venvfs.ini
# naming VV_PY with history off, so the store holds only what the envs hold now.
vv_needs_packages() {
	VV_PY=$(vv_python_with "$@")
	if [[ -z $VV_PY ]]; then
		if [[ ${CI:-} == true ]]; then
			fail "no interpreter with $* installed from wheels to repack"
		fi
		skip "no interpreter with $* installed from wheels to repack"
	fi
	VV_WHEELS=$VV_TMP/corpus
	check "$VV_PY" "$VV_LIB_DIR/../wheelcorpus.py" "$VV_WHEELS" "$@" >/dev/null
	mkdir -p "$XDG_CONFIG_HOME/venvfs"
	printf '[venvfs]\npython = %s\nhistory-keep = 0\n' "$VV_PY" \
		>"$XDG_CONFIG_HOME/venvfs/venvfs.ini"
}
