#!/bin/bash
# gc.sh - venvctl gc frees what removed envs and uninstalled packages left behind and
# nothing else: after `rm -rf` of one env and `pip uninstall` in another, gc --grace 0
# on the unmounted store shrinks objects/, fsck stays clean and the remaining env still
# imports, runs pip and lists its packages. Then gc with the default grace period runs
# while the store is mounted and pip installs into another env: nothing written is
# lost. Also du's per-env numbers and gc --dry-run, and --store after the command
# (du, gc, stats, python list) giving what it gives before it.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PAYLOAD=2000000
W=$VV_TMP/wheels
vv_mkwheels "$W"
python3 "$VV_LIB_DIR/mkwheel.py" "$W" bigpkg 1.0 --payload-size "$PAYLOAD" --modules 5 \
	>/dev/null
python3 "$VV_LIB_DIR/mkwheel.py" "$W" otherpkg 1.0 --payload-size "$PAYLOAD" --modules 5 \
	>/dev/null
python3 "$VV_LIB_DIR/mkwheel.py" "$W" latepkg 1.0 --payload-size "$PAYLOAD" --modules 30 \
	--script late=latepkg:main >/dev/null

# This test is about what removed envs and uninstalled packages leave. Env history would
# keep the states before the uninstalls below as the envs' own (history.sh covers that;
# since one entry per command, `pip install` then `pip uninstall` are two entries): off.
mkdir -p "$XDG_CONFIG_HOME/venvfs"
printf '[venvfs]\nhistory-keep = 0\n' >"$XDG_CONFIG_HOME/venvfs/venvfs.ini"

du_sb() { du -sb "$STORE/objects" | cut -f1; }
pipi() { # ENV PKG...
	local e=$1
	shift
	check "$MNT/$e/bin/pip" install -q --no-index --find-links "$W" "$@"
}

# ---- two envs, one removed, one package uninstalled -------------------------------------
vv_mount
check mkdir "$MNT/keep" "$MNT/gone"
pipi keep bigpkg demoapp
pipi gone bigpkg otherpkg demoapp
check "$MNT/keep/bin/pip" uninstall -q -y bigpkg
vv_commit keep gone

vv_ctl du --json >"$VV_TMP/du.json" || fail "du --json failed: $(cat "$VV_TMP/du.json")"
python3 -m json.tool "$VV_TMP/du.json" >/dev/null || fail "du --json is not JSON"
gone_unique=$(vv_json "$VV_TMP/du.json" "[e for e in j['envs'] if e['name'] == 'gone'][0]['unique_bytes']")
gone_shared=$(vv_json "$VV_TMP/du.json" "[e for e in j['envs'] if e['name'] == 'gone'][0]['shared_bytes']")
vv_note "du: gone holds $gone_unique unique bytes, shares $gone_shared"
((gone_unique >= 2 * PAYLOAD)) || fail "du: env gone should hold both payloads alone"
((gone_shared > 0)) || fail "du: env gone shares demoapp/pip with keep"
out=$(vv_ctl du keep) || fail "du keep failed"
assert_contains "$out" "keep" "du keep"
assert_not_contains "$out" "gone " "du keep lists only keep"
check_fail vv_ctl du nosuchenv

check rm -rf "$MNT/gone"
vv_umount

# ---- the global options after the command, as before it ----------------------------------------
# (vv_ctl puts --store first; a --store ignored would leave the default store, which
# does not exist)
nosecs() { python3 -c 'import json, sys; j = json.load(sys.stdin); j.pop("seconds"); print(j)'; }
want=$(vv_ctl du --json)
assert_eq "$("$VENVCTL" du --store "$STORE" --json)" "$want" "du --store DIR --json"
assert_eq "$("$VENVCTL" du --json --store="$STORE")" "$want" "du --json --store=DIR"
assert_eq "$("$VENVCTL" du keep --store "$STORE")" "$(vv_ctl du keep)" "du NAME --store DIR"
want=$(vv_ctl gc --dry-run --grace 0 --json | nosecs)
assert_eq "$("$VENVCTL" gc --dry-run --store "$STORE" --grace 0 --json | nosecs)" "$want" \
	"gc --dry-run --store DIR"
assert_eq "$("$VENVCTL" --store "$VV_TMP/other" gc --dry-run --grace 0 --json --store "$STORE" |
	nosecs)" "$want" "gc --dry-run: the last --store counts"
assert_eq "$("$VENVCTL" stats --json --store "$STORE")" "$(vv_ctl stats --json)" "stats --store DIR"
assert_eq "$("$VENVCTL" python list --store "$STORE" --json)" "$(vv_ctl python list --json)" \
	"python list --store DIR"
assert_eq "$("$VENVCTL" python --store "$STORE" list --json)" "$(vv_ctl python list --json)" \
	"python --store DIR list"

before=$(du_sb)
nobj=$(vv_objects_count)
out=$(vv_ctl gc --dry-run --grace 0) || fail "gc --dry-run failed: $out"
vv_note "gc --dry-run: $out"
assert_contains "$out" "would free:" "dry run report"
assert_eq "$(du_sb)" "$before" "objects/ after a dry run"
assert_eq "$(vv_objects_count)" "$nobj" "object count after a dry run"

# with the default grace period, just-written objects are all kept
out=$(vv_ctl gc) || fail "gc failed: $out"
assert_contains "$out" "freed:     0 objects" "gc within the grace period"
assert_eq "$(du_sb)" "$before" "objects/ after gc within the grace period"

out=$(vv_ctl gc --grace 0) || fail "gc --grace 0 failed: $out"
vv_note "gc --grace 0: $out"
after=$(du_sb)
vv_note "objects/: $before -> $after bytes"
((before - after >= 2 * PAYLOAD)) ||
	fail "gc freed only $((before - after)) bytes (bigpkg and otherpkg, stored once each)"
check vv_ctl fsck
out=$(vv_ctl gc --grace 0 --json) || fail "second gc failed: $out"
assert_eq "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["freed_objects"])' <<<"$out")" \
	0 "objects freed by a second gc"

vv_mount
check "$MNT/keep/bin/python" -c 'import demoapp, demolib; print(demoapp.__version__)' \
	>/dev/null
check_fail "$MNT/keep/bin/python" -c 'import bigpkg' 2>/dev/null
check "$MNT/keep/bin/pip" --version >/dev/null
list=$("$MNT/keep/bin/pip" list --format=freeze) || fail "pip list failed"
assert_contains "$list" "demoapp==1.0" "pip list after gc"
assert_not_contains "$list" "bigpkg" "pip list after gc"
out=$("$MNT/keep/bin/demo") || fail "demo script failed after gc"
assert_contains "$out" "demoapp 1.0 demolib" "demo script output"
# a new env from the (kept) skeleton
check mkdir "$MNT/fresh"
check "$MNT/fresh/bin/pip" --version >/dev/null

# ---- gc while mounted and pip installs elsewhere -----------------------------------------
check mkdir "$MNT/busy"
pipi keep otherpkg # something to delete once uninstalled
check "$MNT/keep/bin/pip" uninstall -q -y otherpkg
vv_commit keep
vv_bg "$MNT/busy/bin/pip" install -q --no-index --find-links "$W" latepkg bigpkg demoapp
pip_pid=$VV_BG_PID
runs=0
while kill -0 "$pip_pid" 2>/dev/null || ((runs == 0)); do
	out=$(vv_ctl gc) || fail "gc during pip install failed: $out"
	runs=$((runs + 1))
done
rc=0
wait "$pip_pid" || rc=$?
((rc == 0)) || fail "pip install during gc failed (exit $rc)"
vv_note "gc ran $runs times during the install; last: $out"
vv_commit busy keep
check vv_ctl fsck
check "$MNT/busy/bin/python" -c 'import latepkg, bigpkg, demoapp'
assert_eq "$("$MNT/busy/bin/late")" "latepkg 1.0" "console script installed during gc"
check "$MNT/busy/bin/pip" --version >/dev/null
list=$("$MNT/busy/bin/pip" list --format=freeze) || fail "pip list failed"
assert_contains "$list" "latepkg==1.0" "pip list after gc during install"
vv_umount
check vv_ctl fsck

# and once more after a remount: every file of the install reads back intact
vv_mount
check "$MNT/busy/bin/python" -c '
import hashlib, importlib.metadata as md, base64, sys
bad = []
for dist in ("latepkg", "bigpkg", "demoapp"):
    d = md.distribution(dist)
    for f in d.files:
        if f.hash is None:
            continue
        data = f.read_binary()
        h = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        if h != f.hash.value:
            bad.append(str(f))
sys.exit("bad files: %s" % bad if bad else 0)'
check "$MNT/keep/bin/python" -c 'import demoapp'
vv_umount

# ---- a damaged env stops gc before it deletes anything ---------------------------------------
printf '[env]\ngarbage\n' >"$STORE/envs/broken"
n=$(vv_objects_count)
rc=0
out=$(vv_ctl gc --grace 0 2>&1) || rc=$?
assert_eq "$rc" 1 "gc exit status with a damaged env"
assert_contains "$out" "nothing deleted" "gc message with a damaged env"
assert_eq "$(vv_objects_count)" "$n" "object count after a refused gc"
rm -f "$STORE/envs/broken"

vv_note "ok"
