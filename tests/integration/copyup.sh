#!/bin/bash
# copyup.sh - writing to a file two envs share (one store object) changes only the env
# written to: the other env and the object stay as they were. Also the other POSIX
# operations pip and editors use: truncate, chmod, utimens (atime too), rename of files
# and whole directories, unlink, rmdir, symlinks, O_EXCL, mmap writes, statfs, fallocate,
# names over 255 bytes (ENAMETOOLONG).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

W=$VV_TMP/wheels
vv_mkwheels "$W"

vv_mount
check mkdir "$MNT/a"
check mkdir "$MNT/b"
for e in a b; do
	check "$MNT/$e/bin/pip" install -q --find-links "$W" 'demolib==1.0'
done
vv_commit a b
A=$MNT/a/$VV_SITE
B=$MNT/b/$VV_SITE

# Snapshot of everything in b (content and metadata) to compare at the end.
snapshot() { # DIR
	(cd "$1" && find . -printf '%p %y %m %s %T@ %l\n' | sort &&
		find . -type f -print0 | sort -z | xargs -0 sha256sum)
}
snap_b=$(snapshot "$MNT/b")

f=demolib/__init__.py
h=$(vv_sha256 "$A/$f")
assert_eq "$(vv_sha256 "$B/$f")" "$h" "both envs start with the same content"
obj=$(vv_obj_path "$h")
[[ -f $obj ]] || fail "the shared file's object $obj is not in the store"
obj_check() { # the object is unchanged: still there, content still hashes to its name
	[[ -f $obj ]] || fail "object $obj vanished"
	assert_eq "$(vv_sha256 "$obj")" "$h" "object $obj content"
}

# ---- append ----------------------------------------------------------------------------------
echo '# appended in a' >>"$A/$f"
assert_eq "$(tail -n 1 "$A/$f")" "# appended in a" "a sees its append"
assert_eq "$(vv_sha256 "$B/$f")" "$h" "b's copy after a's append"
obj_check
check "$MNT/a/bin/python" -c 'import demolib'
vv_commit a
obj_check
h_new=$(vv_sha256 "$A/$f")
[[ -f $(vv_obj_path "$h_new") ]] || fail "a's new content was not stored as an object after commit"

# ---- write in the middle, mmap write ---------------------------------------------------------
g=demolib/mod_0.py
hg=$(vv_sha256 "$B/$g")
printf 'XY' | dd of="$A/$g" bs=1 seek=2 conv=notrunc status=none
assert_eq "$(head -c 4 "$A/$g")" "# XY" "a after an in-place write"
assert_eq "$(vv_sha256 "$B/$g")" "$hg" "b after a's in-place write"
check "$MNT/a/bin/python" - "$A/demolib/mod_1.py" <<'PY'
import mmap, sys
with open(sys.argv[1], "r+b") as f, mmap.mmap(f.fileno(), 0) as m:
    m[0:1] = b"!"
    m.flush()
PY
assert_eq "$(head -c 1 "$A/demolib/mod_1.py")" "!" "a after an mmap write"
assert_eq "$(head -c 1 "$B/demolib/mod_1.py")" "#" "b after a's mmap write"

# ---- truncate -----------------------------------------------------------------------------
t=demolib-1.0.dist-info/METADATA
check truncate -s 5 "$A/$t"
assert_eq "$(stat -c %s "$A/$t")" 5 "size after truncate"
assert_eq "$(cat "$A/$t")" "Metad" "content after truncate"
check truncate -s 100000 "$A/$t"
assert_eq "$(stat -c %s "$A/$t")" 100000 "size after extending"
assert_eq "$(tail -c +6 "$A/$t" | tr -d '\0' | wc -c)" 0 "extension reads as zeros"
[[ $(stat -c %s "$B/$t") -gt 5 && $(stat -c %s "$B/$t") -lt 1000 ]] || fail "b's METADATA changed size"
: >"$A/$t" # O_TRUNC
assert_eq "$(stat -c %s "$A/$t")" 0 "size after O_TRUNC"

# ---- chmod, utimens --------------------------------------------------------------------------
m=demolib/mod_2.py
mode_b=$(stat -c %a "$B/$m")
check chmod 600 "$A/$m"
assert_eq "$(stat -c %a "$A/$m")" 600 "mode after chmod"
assert_eq "$(stat -c %a "$B/$m")" "$mode_b" "b's mode after a's chmod"
check chmod 755 "$A/demolib"
assert_eq "$(stat -c %a "$A/demolib")" 755 "directory mode after chmod"
mtime_b=$(stat -c %Y "$B/$m")
check touch -d '2001-02-03 04:05:06 UTC' "$A/$m"
assert_eq "$(stat -c %Y "$A/$m")" 981173106 "mtime after touch -d"
assert_eq "$(stat -c %Y "$B/$m")" "$mtime_b" "b's mtime after a's touch"
check touch -d '@1000000000.123456789' "$A/$m"
assert_contains "$(stat -c %y "$A/$m")" ".123456789" "nanosecond mtime"
check touch -d '2002-01-01 00:00:00 UTC' "$A/demolib"
assert_eq "$(stat -c %Y "$A/demolib")" 1009843200 "directory mtime after touch -d"

# ---- rename ---------------------------------------------------------------------------------
check mv "$A/$f" "$A/demolib/init.bak"
assert_missing "$A/$f"
assert_eq "$(vv_sha256 "$A/demolib/init.bak")" "$h_new" "content after rename"
check mv "$A/demolib/init.bak" "$A/$f"
assert_eq "$(vv_sha256 "$A/$f")" "$h_new" "content after renaming back"
echo one >"$A/r1"
echo two >"$A/r2"
check mv "$A/r1" "$A/r2" # replaces r2
assert_missing "$A/r1"
assert_eq "$(cat "$A/r2")" one "rename over an existing file"
check mkdir "$A/sub"
check mv "$A/r2" "$A/sub/r2" # across directories
assert_eq "$(cat "$A/sub/r2")" one "rename across directories"
# a whole directory, the way pip's uninstall stashes packages
check mv "$A/demolib" "$A/~emolib"
assert_missing "$A/demolib"
assert_file "$A/~emolib/mod_0.py"
check_fail "$MNT/a/bin/python" -c 'import demolib' 2>/dev/null
check "$MNT/b/bin/python" -B -c 'import demolib'
check mv "$A/~emolib" "$A/demolib"
check "$MNT/a/bin/python" -c 'import demolib.mod_0'
assert_eq "$(head -c 4 "$A/$g")" "# XY" "content inside a renamed directory"
# rename of a directory over an empty directory replaces it; over a non-empty one fails
check mkdir "$A/empty"
check mkdir "$A/moved"
check python3 -c 'import os, sys; os.rename(sys.argv[1], sys.argv[2])' "$A/moved" "$A/empty"
assert_missing "$A/moved"
check_fail python3 -c 'import os, sys; os.rename(sys.argv[1], sys.argv[2])' "$A/empty" "$A/demolib" 2>/dev/null
assert_file "$A/demolib/mod_0.py"
check rmdir "$A/empty"

# ---- unlink, rmdir ----------------------------------------------------------------------------
check rm "$A/$f"
assert_missing "$A/$f"
assert_file "$B/$f"
obj_check
check_fail rmdir "$A/demolib" 2>/dev/null # not empty
check rm -r "$A/sub"
assert_missing "$A/sub"
check mkdir "$A/d1"
check rmdir "$A/d1"
assert_missing "$A/d1"

# ---- symlinks -------------------------------------------------------------------------------
check ln -s ../some/target "$A/link"
[[ -L $A/link ]] || fail "symlink not created"
assert_eq "$(readlink "$A/link")" ../some/target "readlink"
check ln -s demolib "$A/dlink"
assert_file "$A/dlink/mod_0.py"
check rm "$A/link" "$A/dlink"
assert_missing "$A/link"
assert_dir "$A/demolib"

# ---- O_EXCL ------------------------------------------------------------------------------
x=$A/excl.txt
check python3 -c 'import sys; open(sys.argv[1], "x").write("first")' "$x"
err=$(python3 -c 'import sys; open(sys.argv[1], "x")' "$x" 2>&1) &&
	fail "second O_EXCL create succeeded"
assert_contains "$err" "FileExistsError" "second O_EXCL create"
assert_eq "$(cat "$x")" first "file after a failed O_EXCL create"
check_fail python3 -c 'import sys; open(sys.argv[1], "x")' "$B/$f" 2>/dev/null

# ---- a bigger file round-trips ----------------------------------------------------------
head -c 3000000 /dev/urandom >"$VV_TMP/big"
check cp "$VV_TMP/big" "$A/big"
assert_eq "$(vv_sha256 "$A/big")" "$(vv_sha256 "$VV_TMP/big")" "3 MB copy"

# ---- statfs ------------------------------------------------------------------------------
check df "$MNT" >/dev/null
check df "$MNT/a" >/dev/null
out=$(python3 -c 'import os, sys; s = os.statvfs(sys.argv[1]); print(s.f_bsize > 0, s.f_namemax >= 255)' "$MNT/a")
assert_eq "$out" "True True" "statvfs of the mount"

# ---- names over 255 bytes, atime, fallocate -----------------------------------------------
long=$(printf 'n%.0s' {1..300})
err=$(python3 -c 'import os, sys; os.stat(sys.argv[1])' "$A/$long" 2>&1) &&
	fail "stat of a 300-byte name succeeded"
assert_contains "$err" "File name too long" "stat of a 300-byte name"
t=$A/times.txt
echo times >"$t"
mtime=$(stat -c %Y "$t")
check touch -a -d @1000000000 "$t" # atime only (utimensat with UTIME_OMIT for mtime)
assert_eq "$(stat -c %X "$t")" 1000000000 "atime after an atime-only utimensat"
assert_eq "$(stat -c %Y "$t")" "$mtime" "mtime after an atime-only utimensat"
check fallocate -l 1048576 "$A/falloc.bin" # mode 0: reserve and extend
assert_eq "$(stat -c %s "$A/falloc.bin")" 1048576 "size after fallocate"
assert_eq "$(tr -d '\0' <"$A/falloc.bin" | wc -c)" 0 "fallocated bytes read as zeros"
check_fail fallocate -p -o 0 -l 4096 "$A/falloc.bin" 2>/dev/null # punching holes: not offered
vv_commit a
assert_eq "$(stat -c %s "$A/falloc.bin")" 1048576 "size of the fallocated file after a commit"

# ---- b is exactly as it was; the store is consistent ----------------------------------------
assert_eq "$(snapshot "$MNT/b")" "$snap_b" "env b after everything done in a"
vv_commit a b
obj_check
check vv_ctl fsck
vv_umount
check vv_ctl fsck
