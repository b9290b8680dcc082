#!/bin/bash
# enospc.sh - a store on a small filesystem (tmpfs with a size limit) filled until
# ENOSPC: pip installing a wheel too big for it through the mount fails with a clear
# "No space left on device", and so does a plain write; the env keeps what it had and
# nothing half-installed is published; after the space is freed the mount keeps
# working. `venvctl add` of the big wheel fails the same way and leaves the env file
# untouched. fsck is clean after each step, and tmp/ holds no leftovers.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
VV_TEST_TIMEOUT=${VV_TEST_TIMEOUT:-300}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# A size-limited tmpfs needs root; under CI=true not having it is a failure, not a skip.
no_tmpfs() { if [[ ${CI:-} == true ]]; then fail "$1 (CI=true)"; else skip "$1"; fi; }
[[ $(id -u) == 0 ]] || no_tmpfs "mounting a tmpfs needs root"
SMALL=$VV_TMP/small
mkdir -p "$SMALL"
mount -t tmpfs -o size=48M tmpfs "$SMALL" || no_tmpfs "cannot mount a tmpfs here"
STORE=$SMALL/store
mkdir "$STORE"

W=$VV_TMP/wheels
python3 "$VV_LIB_DIR/mkwheel.py" "$W" smallpkg 1.0 --modules 5 >/dev/null
python3 "$VV_LIB_DIR/mkwheel.py" "$W" laterpkg 1.0 --modules 5 --script later=laterpkg:main \
	>/dev/null

free_kb() { df -k --output=avail "$SMALL" | tail -n 1 | tr -d ' '; }
tmp_left() { find "$STORE/tmp" -mindepth 1 | wc -l; }
fsck_clean() { # WHEN
	local out
	out=$(vv_ctl fsck 2>&1) || fail "fsck $1: $out"
}

vv_mount
check mkdir "$MNT/e"
check "$MNT/e/bin/pip" install -q --no-index --find-links "$W" smallpkg
vv_commit e
listing() { (cd "$MNT/e" && find . -path ./lib64 -prune -o -print | sort); }
before=$(listing)

# A wheel whose payload is bigger than what is left (incompressible bytes).
avail=$(free_kb)
vv_note "store filesystem: ${avail} KiB free before the big install"
python3 "$VV_LIB_DIR/mkwheel.py" "$W" bigpkg 1.0 --payload-size $(((avail + 8192) * 1024)) \
	>/dev/null

rc=0
out=$(timeout 240 "$MNT/e/bin/pip" install --no-index --find-links "$W" bigpkg 2>&1) || rc=$?
((rc != 0)) || fail "pip install of a wheel bigger than the store succeeded"
assert_contains "$out" "No space left on device" "pip's error"
# pip leaves a failed fresh install's files behind (as on any disk), but the file whose
# write failed is never published: no object holds its partial bytes.
big=$(find "$STORE/objects" -type f -size +1M | wc -l)
assert_eq "$big" 0 "objects bigger than 1 MiB after the failed install"
# the user removes the leftovers; their space comes back at once
check rm -rf "$MNT/e/$VV_SITE/bigpkg" "$MNT/e/$VV_SITE"/bigpkg-1.0.dist-info
vv_commit e
assert_eq "$(listing)" "$before" "env listing after removing the failed install"
check "$MNT/e/bin/python" -c 'import smallpkg'
(($(free_kb) > avail / 2 )) || fail "space not given back: $(free_kb) KiB free"
fsck_clean "after a failed install (mounted)"

# A plain write that does not fit: write(2) reports ENOSPC, nothing is half-published.
rc=0
err=$(dd if=/dev/urandom of="$MNT/e/huge.bin" bs=1M count=$((avail / 1024 + 16)) 2>&1) || rc=$?
((rc != 0)) || fail "writing more than the store holds succeeded"
assert_contains "$err" "No space left on device" "dd's error"
check rm -f "$MNT/e/huge.bin"
vv_commit e
assert_eq "$(listing)" "$before" "env listing after the failed write"

# A writer that gets ENOSPC, frees space and writes the failed part again: its file is
# stored complete after all.
head -c $(( ($(free_kb) - 3072) * 1024 )) /dev/zero >"$SMALL/filler" 2>/dev/null || true
out=$(python3 - "$MNT/e/retry.bin" "$SMALL/filler" "$VV_TMP/retry.expected" <<'EOF'
import errno, os, sys
path, filler, expected = sys.argv[1:]
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
data, pos, failed = bytearray(), 0, False
while pos < 64 << 20:
    chunk = os.urandom(1 << 20)
    try:
        n = os.pwrite(fd, chunk, pos)
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
        failed = True
        break
    data += chunk[:n]
    pos += n
    if n < len(chunk):
        # a short write: the next one fails with ENOSPC
        continue
if not failed:
    sys.exit("no ENOSPC after %d bytes" % pos)
os.remove(filler)                      # space comes back
rest = os.urandom(1 << 20)
assert os.pwrite(fd, rest, pos) == len(rest)
os.fsync(fd)
os.close(fd)
open(expected, "wb").write(bytes(data) + rest)
print("ENOSPC after %d bytes, retried" % pos)
EOF
) || fail "retrying after ENOSPC: $out"
vv_note "$out"
vv_commit e

# Space is back: the mount keeps working.
check "$MNT/e/bin/pip" install -q --no-index --find-links "$W" laterpkg
assert_eq "$("$MNT/e/bin/later")" "laterpkg 1.0" "a package installed after ENOSPC"
check mkdir "$MNT/f"
check "$MNT/f/bin/python" -c 'import sys'
vv_commit e f
fsck_clean "after freeing space (mounted)"
vv_umount
fsck_clean "after unmounting"
vv_mount
check cmp "$VV_TMP/retry.expected" "$MNT/e/retry.bin"
check rm "$MNT/e/retry.bin"
vv_commit e
vv_umount
assert_eq "$(tmp_left)" 0 "entries left in tmp/ after unmounting"

# venvctl add of the big wheel: a clear error, the env file untouched.
envfile=$(cat "$STORE/envs/e")
rc=0
out=$(vv_ctl add e "$W"/bigpkg-1.0-*.whl 2>&1) || rc=$?
((rc != 0)) || fail "venvctl add of a wheel bigger than the store succeeded"
assert_contains "$out" "No space left on device" "venvctl add's error"
assert_eq "$(cat "$STORE/envs/e")" "$envfile" "envs/e after the failed add"
fsck_clean "after a failed add"
assert_eq "$(tmp_left)" 0 "entries left in tmp/ after the failed add"
check vv_ctl gc --grace 0 >/dev/null
fsck_clean "after gc"
vv_mount
check "$MNT/e/bin/python" -c 'import smallpkg, laterpkg'
vv_umount
umount "$SMALL" || true
