#!/bin/bash
# requests.sh - the kernel's caches do their job, counted in FUSE requests: a warm run
# of the same import sends no LOOKUP, GETATTR, READDIR or READ at all (only what every
# open costs), and a change made behind the mount's back (venvctl add) is seen at once
# despite those caches. Counts come from the daemon's VENVFS_COUNT_FILE (SIGUSR1).
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
for k in lookup getattr readdir readdirplus read readlink; do
	assert_eq "$(delta "$c2" "$c3" $k)" 0 "$k requests of a warm import of pip"
done
assert_eq "$(delta "$c2" "$c3" release)" "$(delta "$c2" "$c3" open)" "releases vs opens"
# After the first run a file read once has its atime marked stale in the kernel,
# which costs one GETATTR on the next stat; never more than one per file opened.
(($(delta "$c1" "$c2" getattr) <= $(delta "$c0" "$c1" open))) ||
	fail "the second run sent more GETATTR than files were opened"

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

vv_umount
[[ -s $COUNTS ]] || fail "no counts written at exit"
check vv_ctl fsck -q
