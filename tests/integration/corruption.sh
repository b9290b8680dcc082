#!/bin/bash
# corruption.sh - damage the store behind venvfs's back and check that fsck finds every
# damaged object and that --repair puts back what an intact source has and makes the
# rest fail with EIO through the mount instead of returning wrong bytes.
#
# Damage: single-bit flips and truncations in random objects that came from wheels,
# in random trees and in files written through the mount, one such file deleted, and a
# bit flip in the tree of a directory written through the mount. Then: plain fsck lists
# every damaged id (exit 1); --repair with the wheels and copies of the random trees as
# --source restores those (every installed file matches its
# RECORD hash again), lists the others in STORE/damaged (exit 1) and reading them
# through the mount fails with EIO, logged once per object; --repair with copies of the
# lost bytes restores the rest (exit 3) and fsck is clean (exit 0).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
VV_TEST_TIMEOUT=${VV_TEST_TIMEOUT:-400}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

W=$VV_TMP/wheels
pkgs=()
for i in 1 2 3 4 5; do
	python3 "$VV_LIB_DIR/mkwheel.py" "$W" "corrpkg$i" 1.0 --modules 12 \
		--payload-size $((i * 30000)) >/dev/null
	pkgs+=("corrpkg$i")
done

# flip_bit FILE: invert one random bit of FILE in place.
flip_bit() {
	python3 - "$1" <<'EOF'
import os, random, sys
p = sys.argv[1]
size = os.path.getsize(p)
i = random.randrange(size)
with open(p, "r+b") as f:
    f.seek(i)
    b = f.read(1)[0]
    f.seek(i)
    f.write(bytes([b ^ (1 << random.randrange(8))]))
EOF
}

# every installed file's bytes match the sha256 its RECORD lists (reads via the mount)
record_ok() { # ENV
	"$MNT/$1/bin/python" - "$MNT/$1/$VV_SITE" <<'EOF'
import base64, csv, glob, hashlib, os, sys
site = sys.argv[1]
bad = checked = 0
for rec in glob.glob(os.path.join(site, "corrpkg*.dist-info", "RECORD")):
    for row in csv.reader(open(rec)):
        if len(row) < 2 or not row[1].startswith("sha256="):
            continue
        data = open(os.path.join(site, row[0]), "rb").read()
        got = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        checked += 1
        if got != row[1][7:]:
            print("mismatch:", row[0])
            bad += 1
print("checked", checked)
sys.exit(1 if bad or not checked else 0)
EOF
}

# ---- a populated store ----------------------------------------------------------------
vv_mount
check mkdir "$MNT/e"
check "$MNT/e/bin/pip" install -q --no-index --find-links "$W" "${pkgs[@]}"
mkdir -p "$MNT/e/keep" "$MNT/e/lost" "$VV_TMP/orig"
for f in f1 f2 f3 f4; do
	head -c $((3000 + RANDOM)) /dev/urandom >"$VV_TMP/orig/$f"
	cp "$VV_TMP/orig/$f" "$MNT/e/keep/$f"
done
head -c 5000 /dev/urandom >"$VV_TMP/orig/inlost"
cp "$VV_TMP/orig/inlost" "$MNT/e/lost/inlost"
vv_commit e
vv_umount

out=$(vv_ctl fsck --repair) || fail "fsck --repair of a clean store: exit $?: $out"
assert_contains "$out" ": 0 problems" "fsck --repair on a clean store"
[[ ! -e $STORE/damaged && ! -e $STORE/quarantine ]] || fail "a clean repair changed the store"

# ---- damage -----------------------------------------------------------------------------
# objects that are wheel members (restorable from the wheels)
mapfile -t wheel_objs < <(python3 - "$W" "$STORE" <<'EOF'
import glob, hashlib, os, sys, zipfile
seen = set()
for w in glob.glob(os.path.join(sys.argv[1], "*.whl")):
    for m in zipfile.ZipFile(w).infolist():
        data = zipfile.ZipFile(w).read(m)
        h = hashlib.sha256(data).hexdigest()
        if len(data) >= 2 and h not in seen and \
                os.path.exists(os.path.join(sys.argv[2], "objects", h[:2], h[2:])):
            seen.add(h)
            print(h)
EOF
)
((${#wheel_objs[@]} >= 20)) || fail "only ${#wheel_objs[@]} wheel objects found in the store"
mapfile -t pick < <(printf '%s\n' "${wheel_objs[@]}" | shuf -n 12)
flipped=("${pick[@]:0:8}")
truncated=("${pick[@]:8:4}")

user=()
for f in f1 f2 f3 f4; do user+=("$(vv_sha256 "$VV_TMP/orig/$f")"); done
# the committed tree of lost/: the one listing inlost with its final content (an
# earlier commit may have left an older, unreachable version of the directory)
mapfile -t lt < <(grep -l -r -- " $(vv_sha256 "$VV_TMP/orig/inlost") 6:inlost" "$STORE/objects")
((${#lt[@]} == 1)) || fail "expected one tree listing lost/inlost, found ${#lt[@]}"
lost_tree=${lt[0]}
lost_tree=${lost_tree#"$STORE/objects/"}
lost_tree=${lost_tree/\//}

# three random trees besides: one bit flipped in two, one truncated. Not a tree on the
# way to keep/ or lost/ (the env root, keep/ itself): fsck cannot read below a damaged
# tree, so the deleted keep/f4 would go unreported.
mapfile -t trees < <(python3 - "$STORE/objects" "$lost_tree" "${user[@]}" <<'EOF' | shuf -n 3
import os, sys
top, skip, users = sys.argv[1], sys.argv[2], sys.argv[3:]
needles = [u.encode() for u in users] + [skip.encode(), b" 4:keep\n"]
for d in os.listdir(top):
    for f in os.listdir(os.path.join(top, d)):
        with open(os.path.join(top, d, f), "rb") as fh:
            data = fh.read()
        if data.startswith((b"venvfs-tree 1\n", b"venvfs-tree 2\n")) and d + f != skip and \
                not any(n in data for n in needles):
            print(d + f)
EOF
)
((${#trees[@]} == 3)) || fail "fewer than 3 trees in the store"

mkdir -p "$VV_TMP/saved" "$VV_TMP/savedtrees"
for h in "${user[@]}" "$lost_tree"; do cp "$(vv_obj_path "$h")" "$VV_TMP/saved/$h"; done
for h in "${trees[@]}"; do cp "$(vv_obj_path "$h")" "$VV_TMP/savedtrees/$h"; done

for h in "${flipped[@]}" "${user[0]}" "${user[1]}" "$lost_tree" "${trees[0]}" "${trees[1]}"; do
	p=$(vv_obj_path "$h")
	chmod u+w "$p"
	flip_bit "$p"
done
for h in "${truncated[@]}" "${user[2]}" "${trees[2]}"; do
	p=$(vv_obj_path "$h")
	chmod u+w "$p"
	truncate -s $(($(stat -c %s "$p") / 2)) "$p"
done
rm -f "$(vv_obj_path "${user[3]}")"
damaged_all=$(printf '%s\n' "${pick[@]}" "${user[@]}" "$lost_tree" "${trees[@]}" | sort -u)
unrestorable=$(printf '%s\n' "${user[@]}" "$lost_tree" | sort -u)
vv_note "damaged $(wc -l <<<"$damaged_all") objects: wheel files 8 flipped + 4 truncated, own files 2 flipped + 1 truncated + 1 deleted, trees 3 flipped + 1 truncated"

# ---- fsck finds every one -----------------------------------------------------------------
rc=0
out=$(vv_ctl fsck) || rc=$?
assert_eq "$rc" 1 "exit status of fsck on a damaged store"
found=$(grep -oE '^(corrupt|missing) object [0-9a-f]{64}' <<<"$out" | awk '{print $3}' | sort -u)
assert_eq "$found" "$damaged_all" "ids fsck reports as corrupt or missing"
assert_contains "$out" "missing object ${user[3]} (env e, path /keep/f4)" "fsck names env and path"

# ---- repair with the wheels and copies of the trees as sources ----------------------------
rc=0
out=$(vv_ctl fsck --repair --no-bundled --source "$W" --source "$VV_TMP/savedtrees") || rc=$?
assert_eq "$rc" 1 "exit status of fsck --repair with unrestorable objects"
for h in "${pick[@]}"; do
	assert_contains "$out" "restored object $h from $W/" "repair of wheel object $h"
done
for h in "${trees[@]}"; do
	assert_contains "$out" "restored object $h from $VV_TMP/savedtrees/$h" "repair of tree $h"
done
assert_eq "$(sort "$STORE/damaged")" "$unrestorable" "the damaged list"
assert_contains "$out" "still damaged: missing object ${user[0]} (env e, path /keep/f1)" \
	"repair output"
assert_contains "$out" "damaged envs: e"$'\n' "repair names the damaged env"
for h in "${flipped[@]}" "${truncated[@]}" "${user[0]}" "$lost_tree" "${trees[@]}"; do
	[[ -f $STORE/quarantine/$h ]] || fail "corrupt object $h not in quarantine/"
done
rc=0
vv_ctl fsck -q || rc=$?
assert_eq "$rc" 1 "fsck after a partial repair"

# ---- the mount: restored files read right, the rest is EIO -----------------------------
vv_mount
out=$(record_ok e) || fail "installed files do not match their RECORD after repair: $out"
check "$MNT/e/bin/python" -c "import $(IFS=,; echo "${pkgs[*]}")"
for f in f1 f2 f3 f4; do
	for try in 1 2; do
		err=$(cat "$MNT/e/keep/$f" 2>&1 >/dev/null) && fail "reading damaged keep/$f succeeded"
		assert_contains "$err" "Input/output error" "reading damaged keep/$f (try $try)"
	done
done
err=$(ls "$MNT/e/lost" 2>&1) && fail "listing lost/ (damaged tree) succeeded: $err"
assert_contains "$err" "Input/output error" "listing a directory whose tree is damaged"
for h in "${user[@]}" "$lost_tree"; do
	n=$(grep -c "object $h " "$VV_LOG" || true)
	assert_eq "$n" 1 "daemon log lines about object $h"
done
# the rest of the env still works
check "$MNT/e/bin/pip" --version
vv_umount

# ---- repair with copies of the lost bytes -------------------------------------------------
rc=0
out=$(vv_ctl fsck --repair --no-bundled --source "$VV_TMP/saved") || rc=$?
assert_eq "$rc" 3 "exit status of fsck --repair that restores everything: $out"
[[ ! -e $STORE/damaged ]] || fail "damaged list left after a full repair"
check vv_ctl fsck -q
vv_mount
for f in f1 f2 f3 f4; do check cmp "$VV_TMP/orig/$f" "$MNT/e/keep/$f"; done
check cmp "$VV_TMP/orig/inlost" "$MNT/e/lost/inlost"
vv_umount

# ---- bad input --------------------------------------------------------------------------
rc=0
out=$(vv_ctl fsck --repair --source "$VV_TMP/nonexistent" 2>&1) || rc=$?
assert_eq "$rc" 2 "exit status with a missing --source"
assert_contains "$out" "source '$VV_TMP/nonexistent'" "message names the bad source"
rc=0
out=$(vv_ctl fsck --source "$W" 2>&1) || rc=$?
assert_eq "$rc" 2 "--source without --repair"

# ---- progress bars: drawn on a terminal, never into a pipe ------------------------------
if command -v script >/dev/null; then
	for cmd in fsck du gc stats; do
		tty_out=$(script -qec "$(vv_quote "$VENVCTL" --store "$STORE" "$cmd")" /dev/null) ||
			fail "venvctl $cmd on a terminal failed: $tty_out"
		assert_contains "$tty_out" $'\r\033[K'"$cmd " "progress bar of venvctl $cmd on a terminal"
		piped=$(vv_ctl "$cmd" 2>&1)
		assert_not_contains "$piped" $'\033[K' "venvctl $cmd into a pipe"
	done
else
	vv_note "no script(1): progress bars not checked"
fi
