#!/bin/bash
# warm.sh - the threads that keep CPUs from halting while the mount is busy (-o warm=US):
# off by default; with it, one per CPU the daemon may use, at SCHED_IDLE, pinned; they run
# while requests come and sleep within the window after the last one (an idle mount
# burns no CPU); -o warm=0 has none; a bad value is refused naming the option.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# warm_tids: the daemon's venvfs-warm threads
warm_tids() {
	local t
	for t in /proc/"$VV_PID"/task/*; do
		if [[ $(cat "$t/comm" 2>/dev/null) == venvfs-warm ]]; then echo "${t##*/}"; fi
	done
	return 0
}
# sleeps: how many times the warm threads have gone to sleep (voluntary switches)
sleeps() {
	local t n sum=0
	for t in $(warm_tids); do
		n=$(awk '/^voluntary_ctxt_switches/ { print $2 }' /proc/"$VV_PID"/task/"$t"/status)
		sum=$((sum + n))
	done
	echo "$sum"
}
# woke_after N: the warm threads ran and went back to sleep since sleeps() said N (they
# run at idle priority: on a loaded machine only once a CPU is free, so wait a while)
woke_after() {
	local i
	for ((i = 0; i < 100; i++)); do
		(($(sleeps) > $1)) && return 0
		sleep 0.1
	done
	return 1
}
# cpu_ns [warm|all]: CPU time of the daemon's warm threads, or of all its threads (ns)
cpu_ns() {
	local t sum=0 ns
	for t in /proc/"$VV_PID"/task/*; do
		if [[ $1 == warm && $(cat "$t/comm" 2>/dev/null) != venvfs-warm ]]; then
			continue
		fi
		read -r ns _ <"$t/schedstat" 2>/dev/null || continue
		sum=$((sum + ns))
	done
	echo "$sum"
}
# busy: a burst of requests through the mount (stat of names never asked before that
# miss: each one a LOOKUP the kernel cannot answer from its cache)
bursts=0
busy() {
	bursts=$((bursts + 1))
	python3 - "$MNT/e" "$bursts" <<'EOF'
import os, sys
d, b = sys.argv[1], sys.argv[2]
for i in range(3000):
    try:
        os.stat(os.path.join(d, "missing-%s-%d" % (b, i)))
    except FileNotFoundError:
        pass
EOF
}

ncpu=$(python3 -c 'import os; print(len(os.sched_getaffinity(0)))')

# ---- the default: none -----------------------------------------------------------------
vv_mount
check mkdir "$MNT/e"
assert_eq "$(warm_tids | wc -l)" 0 "warm threads by default"
vv_umount

# ---- -o warm=2000: one warm thread per CPU, idle class, pinned to its CPU ---------------
vv_mount -o warm=2000
mapfile -t tids < <(warm_tids)
assert_eq "${#tids[@]}" "$ncpu" "warm threads (one per CPU)"
declare -A seen_cpu=()
for t in "${tids[@]}"; do
	pol=$(python3 -c 'import os, sys; print(os.sched_getscheduler(int(sys.argv[1])))' "$t")
	assert_eq "$pol" "$(python3 -c 'import os; print(os.SCHED_IDLE)')" "policy of thread $t"
	aff=$(python3 -c 'import os, sys; print(*sorted(os.sched_getaffinity(int(sys.argv[1]))))' "$t")
	[[ $aff =~ ^[0-9]+$ ]] || fail "warm thread $t is not pinned to one CPU: $aff"
	[[ -z ${seen_cpu[$aff]:-} ]] || fail "two warm threads on CPU $aff"
	seen_cpu[$aff]=1
done

# ---- they run while requests come, and sleep again after the window --------------------
n0=$(sleeps)
w0=$(cpu_ns warm)
busy
woke_after "$n0" || fail "the warm threads did not run for a burst of requests"
w1=$(cpu_ns warm)
vv_note "warm threads ran $(((w1 - w0) / 1000000)) ms for 3000 lookups"

# ---- an idle mount burns (almost) no CPU ------------------------------------------------
sleep 0.2
a0=$(cpu_ns all)
sleep 3
a1=$(cpu_ns all)
idle_ms=$(((a1 - a0) / 1000000))
vv_note "daemon CPU while idle: $idle_ms ms in 3 s"
((idle_ms <= 30)) || fail "the idle daemon used $idle_ms ms of CPU in 3 s (more than 1% of a core)"
# requests after the quiet time wake them again
n1=$(sleeps)
busy
woke_after "$n1" || fail "the warm threads did not wake for requests after a quiet time"
vv_umount

# ---- -o warm=0: none -------------------------------------------------------------------
vv_mount -o warm=0
assert_eq "$(warm_tids | wc -l)" 0 "warm threads with -o warm=0"
busy
vv_umount

# ---- a bad value is refused, naming the option ---------------------------------------
out=$("$VENVFS" -f --store "$STORE" -o warm=fast "$MNT" 2>&1) && fail "-o warm=fast was accepted"
assert_contains "$out" "option 'warm=fast'" "message names the option"
vv_is_mounted && fail "a mount came up with a bad warm value"
exit 0
