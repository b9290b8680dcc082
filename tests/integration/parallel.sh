#!/bin/bash
# parallel.sh - four pip installs into four envs through one mount at the same time,
# while `venvctl gc` (default grace period) runs in a loop on the same store: every gc
# round succeeds, every install succeeds, and nothing is lost: after a remount every
# package imports, every installed file matches the sha256 its RECORD lists (so each
# env's file list is complete and its bytes are right) and fsck is clean. The envs
# share some packages, so the installs publish the same objects concurrently.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
VV_TEST_TIMEOUT=${VV_TEST_TIMEOUT:-600}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

W=$VV_TMP/wheels
for i in 1 2 3; do
	python3 "$VV_LIB_DIR/mkwheel.py" "$W" "sharedpkg$i" 1.0 --modules 20 \
		--payload-size $((i * 50000)) --script "shared$i=sharedpkg$i:main" >/dev/null
done
envs=(p1 p2 p3 p4)
for e in "${envs[@]}"; do
	for j in 1 2; do
		python3 "$VV_LIB_DIR/mkwheel.py" "$W" "own${e}pkg$j" 1.0 --modules 30 \
			--payload-size 200000 --script "own$e$j=own${e}pkg$j:main" >/dev/null
	done
done
pkgs_of() { echo "sharedpkg1 sharedpkg2 sharedpkg3 own${1}pkg1 own${1}pkg2"; }

# every file of every installed distribution matches its RECORD hash; prints the count
record_check() { # ENV
	"$MNT/$1/bin/python" - "$MNT/$1/$VV_SITE" <<'EOF'
import base64, csv, glob, hashlib, os, sys
site = sys.argv[1]
bad = checked = dists = 0
for rec in glob.glob(os.path.join(site, "*pkg*.dist-info", "RECORD")):
    dists += 1
    for row in csv.reader(open(rec)):
        if len(row) < 2 or not row[1].startswith("sha256="):
            continue
        p = os.path.normpath(os.path.join(site, row[0]))
        try:
            data = open(p, "rb").read()
        except OSError as e:
            print("cannot read %s: %s" % (row[0], e))
            bad += 1
            continue
        got = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        checked += 1
        if got != row[1][7:]:
            print("content differs: %s" % row[0])
            bad += 1
print(dists, checked)
sys.exit(1 if bad or dists != 5 else 0)
EOF
}

vv_mount
for e in "${envs[@]}"; do check mkdir "$MNT/$e"; done

# gc in a loop until told to stop; each round's exit status is logged
stopfile=$VV_TMP/stop-gc
gclog=$VV_TMP/gc.log
# shellcheck disable=SC2016 # expanded by the inner shell
vv_bg bash -c '
	while [[ ! -e $1 ]]; do
		"$2" --store "$3" gc >/dev/null 2>>"$4.err"
		echo "$?" >>"$4"
	done' gcloop "$stopfile" "$VENVCTL" "$STORE" "$gclog"
gc_pid=$VV_BG_PID

pids=()
for e in "${envs[@]}"; do
	# shellcheck disable=SC2046 # one word per package
	vv_bg timeout 400 "$MNT/$e/bin/pip" install -q --no-index --find-links "$W" \
		$(pkgs_of "$e") >"$VV_TMP/pip-$e.log" 2>&1
	pids+=("$VV_BG_PID")
done
for i in "${!envs[@]}"; do
	wait "${pids[$i]}" || fail "pip install in ${envs[$i]} failed: $(cat "$VV_TMP/pip-${envs[$i]}.log")"
done
# a few more gc rounds after the installs, before their commits
sleep 2
touch "$stopfile"
wait "$gc_pid" || true
rounds=$(wc -l <"$gclog")
((rounds >= 2)) || fail "gc ran only $rounds times during the installs"
failed=$(grep -vc '^0$' "$gclog" || true)
assert_eq "$failed" 0 "gc rounds that failed ($(cat "$gclog.err" 2>/dev/null))"
vv_note "gc ran $rounds times while 4 pip installs ran"

for e in "${envs[@]}"; do vv_commit "$e"; done
check vv_ctl gc >/dev/null
vv_umount
out=$(vv_ctl fsck 2>&1) || fail "fsck after parallel installs with gc: $out"

vv_mount
for e in "${envs[@]}"; do
	out=$(record_check "$e") || fail "env $e after remount: $out"
	vv_note "env $e: $out (dists, files checked against RECORD)"
	check "$MNT/$e/bin/python" -c "import $(pkgs_of "$e" | tr ' ' ',')"
	assert_eq "$("$MNT/$e/bin/own${e}1")" "own${e}pkg1 1.0" "console script in $e"
	assert_eq "$("$MNT/$e/bin/shared3")" "sharedpkg3 1.0" "shared console script in $e"
done
vv_umount
check vv_ctl fsck -q
