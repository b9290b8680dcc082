#!/bin/bash
# dedup.sh - identical installs in two envs are stored once: the second install barely
# grows the store, and `venvctl stats` agrees with what is on disk and reports the
# sharing per env.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PAYLOAD=4000000 # incompressible bytes in bigpkg
W=$VV_TMP/wheels
vv_mkwheels "$W"
python3 "$VV_LIB_DIR/mkwheel.py" "$W" bigpkg 1.0 --payload-size "$PAYLOAD" --modules 20 \
	--script big=bigpkg:main >/dev/null

# This test is about what the envs' current files share. Env history would keep the
# states before the uninstalls below as the envs' own (history.sh covers that): off.
mkdir -p "$XDG_CONFIG_HOME/venvfs"
printf '[venvfs]\nhistory-keep = 0\n' >"$XDG_CONFIG_HOME/venvfs/venvfs.ini"

# Bytecode (from pip and from imports) is left out of this measurement: bytecode.sh
# measures its sharing.
install() { # ENV
	check "$MNT/$1/bin/pip" install -q --no-compile --find-links "$W" bigpkg demoapp
	PYTHONDONTWRITEBYTECODE=1 check "$MNT/$1/bin/big" >/dev/null
	vv_commit "$1"
}

du_sb() { du -sb "$STORE/objects" | cut -f1; }

stats() { # FILE: stats --json into FILE, checked to be valid JSON
	vv_ctl stats --json >"$1" || fail "venvctl stats --json failed: $(cat "$1")"
	python3 -m json.tool "$1" >/dev/null || fail "stats --json is not valid JSON: $(cat "$1")"
}

env_field() { # FILE ENV FIELD
	vv_json "$1" "[e for e in j['envs'] if e['name'] == '$2'][0]['$3']"
}

vv_mount
check mkdir "$MNT/a"
check mkdir "$MNT/b"
# pip's first run in an env writes pip's own bytecode there: do it before measuring
check "$MNT/a/bin/pip" --version >/dev/null
check "$MNT/b/bin/pip" --version >/dev/null
vv_commit a b

s0=$(du_sb)
install a
s1=$(du_sb)
install b
s2=$(du_sb)
grow1=$((s1 - s0))
grow2=$((s2 - s1))
vv_note "store growth: first install $grow1 bytes, second $grow2 bytes"
((grow1 >= PAYLOAD)) || fail "first install grew the store by only $grow1 bytes"
((grow2 * 4 < grow1)) || fail "second install grew the store by $grow2 bytes (first: $grow1)"
((grow2 < PAYLOAD / 2)) || fail "second install stored the payload again ($grow2 bytes)"

# ---- stats agrees with the files under objects/ -----------------------------------------------
stats "$VV_TMP/s.json"
cat "$VV_TMP/s.json"
assert_eq "$(vv_json "$VV_TMP/s.json" "j['objects']")" "$(vv_objects_count)" "stats objects"
assert_eq "$(vv_json "$VV_TMP/s.json" "j['stored_bytes']")" "$(vv_objects_bytes)" \
	"stats stored_bytes vs the sum of object file sizes"
stored=$(vv_json "$VV_TMP/s.json" "j['stored_bytes']")
sb=$(du_sb) # includes the fan-out directories themselves
((stored <= sb)) || fail "stored_bytes $stored exceeds du -sb $sb"
ndirs=$(find "$STORE/objects" -type d | wc -l)
((sb - stored <= ndirs * 65536)) || fail "stored_bytes $stored too far below du -sb $sb"
disk=$(vv_json "$VV_TMP/s.json" "j['disk_bytes']")
du_disk=$(du -s --block-size=1 "$STORE/objects" | cut -f1)
((disk <= du_disk)) || fail "disk_bytes $disk exceeds du -s $du_disk"

# ---- sharing -------------------------------------------------------------------------------
for e in a b; do
	logical=$(env_field "$VV_TMP/s.json" "$e" logical_bytes)
	unique=$(env_field "$VV_TMP/s.json" "$e" unique_bytes)
	files=$(env_field "$VV_TMP/s.json" "$e" files)
	((logical >= PAYLOAD)) || fail "env $e: logical_bytes $logical < payload"
	((unique < PAYLOAD / 4)) || fail "env $e: unique_bytes $unique, but everything big is shared"
	((files > 100)) || fail "env $e: only $files files (pip alone has hundreds)"
done
ratio=$(vv_json "$VV_TMP/s.json" "j['dedup_ratio']")
python3 -c "import sys; sys.exit(not float(sys.argv[1]) > 1.6)" "$ratio" ||
	fail "dedup ratio $ratio, expected close to 2 for two near-identical envs"
total=$(vv_json "$VV_TMP/s.json" "j['logical_bytes']")
sum=$(vv_json "$VV_TMP/s.json" "sum(e['logical_bytes'] for e in j['envs'])")
assert_eq "$total" "$sum" "logical_bytes is the sum over envs"

# A third env installing the same: again almost free.
check mkdir "$MNT/c"
s3=$(du_sb)
install c
grow3=$(($(du_sb) - s3))
((grow3 * 4 < grow1)) || fail "third install grew the store by $grow3 bytes (first: $grow1)"

# After a and c drop bigpkg, b is the only env that has the payload.
check "$MNT/a/bin/pip" uninstall -q -y bigpkg
check "$MNT/c/bin/pip" uninstall -q -y bigpkg
vv_commit a c
stats "$VV_TMP/s2.json"
unique_b=$(env_field "$VV_TMP/s2.json" b unique_bytes)
((unique_b >= PAYLOAD)) || fail "env b: unique_bytes $unique_b after the others uninstalled"
unique_a=$(env_field "$VV_TMP/s2.json" a unique_bytes)
((unique_a < PAYLOAD / 4)) || fail "env a: unique_bytes $unique_a after uninstalling bigpkg"
check "$MNT/b/bin/big" >/dev/null

# Human output: a table naming every env; fsck is clean.
out=$(vv_ctl stats) || fail "venvctl stats failed: $out"
for e in a b c; do
	grep -q "^$e " <<<"$out" || fail "venvctl stats table lacks env $e: $out"
done
check vv_ctl fsck

vv_umount
check vv_ctl fsck
