#!/bin/bash
# requests.sh - the kernel's caches do their job, counted in FUSE requests: a warm run
# of the same import sends no LOOKUP, GETATTR, READDIR or READ at all (only what every
# open costs), a cold one no READ for the stored files it opens, closing a written file
# sends no FLUSH, and a change made behind the mount's back (venvctl add) is seen at
# once despite those caches. On a read-only mount a warm import sends no OPEN, FLUSH or
# RELEASE at all. Counts come from the daemon's VENVFS_COUNT_FILE (SIGUSR1).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

COUNTS=$VV_TMP/counts.json
export VENVFS_COUNT_FILE=$COUNTS

# counts: the daemon's counters now, as "kind=n" lines.
counts() {
	local i
	rm -f "$COUNTS"
	kill -USR1 "$VV_PID" || fail "cannot signal the daemon"
	for ((i = 0; i < 200; i++)); do
		[[ -s $COUNTS ]] && break
		sleep 0.02
	done
	[[ -s $COUNTS ]] || fail "the daemon did not write its request counts"
	python3 -c 'import json, sys
for k, v in json.load(open(sys.argv[1])).items(): print(f"{k}={v}")' "$COUNTS"
}

# delta BEFORE AFTER KIND: how many KIND requests between two counts.
delta() {
	local a b
	a=$(grep "^$3=" <<<"$1" | cut -d= -f2)
	b=$(grep "^$3=" <<<"$2" | cut -d= -f2)
	echo $((b - a))
}

W=$VV_TMP/wheels
vv_mkwheels "$W"
vv_mount
check mkdir "$MNT/e"
PY=$MNT/e/bin/python
work() { "$PY" -c 'import pip._internal.cli.main' || fail "import of pip failed"; }

c0=$(counts)
work
c1=$(counts)
work
c2=$(counts)
work
c3=$(counts)
for k in lookup getattr readdir readdirplus read open ioctl; do
	vv_note "$k: cold $(delta "$c0" "$c1" $k), second $(delta "$c1" "$c2" $k), warm $(delta "$c2" "$c3" $k)"
done

(($(delta "$c0" "$c1" lookup) > 100)) || fail "the cold run sent almost no LOOKUP: counting is broken"
# A stored file's first open hands its bytes to the kernel: the cold run reads only
# generated files (pyvenv.cfg) with READ requests, not the modules it opens.
(($(delta "$c0" "$c1" read) * 20 < $(delta "$c0" "$c1" open))) ||
	fail "the cold run sent $(delta "$c0" "$c1" read) READ for $(delta "$c0" "$c1" open) opens"
# A warm run sends none of these. Work the kernel left from earlier runs can land in the
# next one (an atime marked stale a moment late costs a GETATTR, a page pushed at first
# open may arrive after the file was read): that happens on the old code as on the new,
# about one run in ten on a busy machine, so a warm run is retried up to twice; every
# run is printed, and all three sending requests fails.
warm_clean() {
	local k
	for k in lookup getattr readdir readdirplus read readlink; do
		(($(delta "$1" "$2" $k) == 0)) || return 1
	done
}
w0=$c2 w1=$c3
for try in 1 2; do
	warm_clean "$w0" "$w1" && break
	vv_note "warm run $try sent requests: $(for k in lookup getattr read; do
		printf '%s %s ' $k "$(delta "$w0" "$w1" $k)"; done)- once more"
	w0=$w1
	work
	w1=$(counts)
done
for k in lookup getattr readdir readdirplus read readlink; do
	assert_eq "$(delta "$w0" "$w1" $k)" 0 "$k requests of a warm import of pip"
done
assert_eq "$(delta "$w0" "$w1" release)" "$(delta "$w0" "$w1" open)" "releases vs opens"
# After the first run a file read once has its atime marked stale in the kernel,
# which costs one GETATTR on the next stat; never more than one per file opened.
(($(delta "$c1" "$c2" getattr) <= $(delta "$c0" "$c1" open))) ||
	fail "the second run sent more GETATTR than files were opened"

# The threads that serve requests ask for the shortest scheduler slice (EEVDF's latency
# hint, Linux 6.12+), so that a request is not queued behind a busy CPU's task.
if IFS=. read -r kmaj kmin _ < /proc/sys/kernel/osrelease &&
	((kmaj > 6 || (kmaj == 6 && kmin >= 12))) && [[ -r /proc/$VV_PID/sched ]]; then
	short=$(cat /proc/"$VV_PID"/task/*/sched 2>/dev/null | awk '$1 == "se.slice" && $3 == 100000' | wc -l)
	((short >= 1)) || fail "no daemon thread runs with the short scheduler slice"
fi

# Closing a written file sends no FLUSH (writes go straight through; the file is
# stored on RELEASE); editing a generated file does, since the edit is applied at close.
c4=$(counts)
for i in 1 2 3 4 5; do
	echo "data $i" >"$MNT/e/written$i"
done
# (one close: a shell redirection closes twice)
python3 -c 'import sys; open(sys.argv[1], "a").write("# a comment\n")' "$MNT/e/pyvenv.cfg"
c5=$(counts)
assert_eq "$(delta "$c4" "$c5" create)" 5 "CREATE requests for five new files"
assert_eq "$(delta "$c4" "$c5" flush)" 1 "FLUSH requests for five new files and one pyvenv.cfg edit"
vv_commit e
for i in 1 2 3 4 5; do
	assert_eq "$(cat "$MNT/e/written$i")" "data $i" "written$i read back"
done

# A change behind the mount's back: every cached lookup of the env must be invalidated.
vv_commit e
if "$PY" -c 'import demolib' 2>/dev/null; then fail "demolib importable before it was added"; fi
check vv_ctl add e "$W"/demolib-2.0-*.whl
for ((i = 0; i < 100; i++)); do
	"$PY" -c 'import demolib' 2>/dev/null && break
	sleep 0.05
done
assert_eq "$("$PY" -c 'import demolib; print(demolib.__version__)')" 2.0 \
	"demolib added by venvctl, seen through the mount"
[[ -x $MNT/e/bin/demolib-version ]] || fail "bin/demolib-version of the added wheel missing"

sums() { (cd "$MNT/e" && find lib -type f -print0 | sort -z | xargs -0 sha256sum); }
sums >"$VV_TMP/sums.rw"
vv_umount
[[ -s $COUNTS ]] || fail "no counts written at exit"
check vv_ctl fsck -q

# A read-only mount opens files without a message (the first OPEN is answered ENOSYS):
# a warm import sends no OPEN, FLUSH or RELEASE, only Python's isatty (IOCTL) per
# module file, and every file reads the same through READs without a handle.
vv_mount -o ro
work
work
c6=$(counts)
work
c7=$(counts)
for k in open flush release; do
	assert_eq "$(delta "$c6" "$c7" $k)" 0 "$k requests of a warm import on a read-only mount"
done
(($(delta "$c6" "$c7" ioctl) > 100)) || fail "the warm import on a read-only mount sent $(delta "$c6" "$c7" ioctl) IOCTL: did it open its modules?"
sums >"$VV_TMP/sums.ro"
cmp -s "$VV_TMP/sums.rw" "$VV_TMP/sums.ro" ||
	fail "files read on the read-only mount differ: $(diff "$VV_TMP/sums.rw" "$VV_TMP/sums.ro" | head -5)"
vv_umount
