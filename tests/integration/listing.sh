#!/bin/bash
# listing.sh - directories too big for one READDIRPLUS reply list completely, with
# real inode numbers: the mount root with hundreds of envs, and a clean (never
# materialized) package directory with 1,200 modules. The kernel asks for the first
# chunk with READDIRPLUS and the rest with plain READDIR; an entry with d_ino 0 in
# those is silently dropped by readdir(3), so every entry must carry its inode.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NENVS=300
NMOD=1200
check vv_ctl create --without-pip $(seq -f 'e%g' 1 "$NENVS") >/dev/null
check python3 "$VV_LIB_DIR/mkwheel.py" "$VV_TMP" big 1.0 --modules "$NMOD" >/dev/null
check vv_ctl add e1 "$VV_TMP"/big-1.0-py3-none-any.whl >/dev/null

vv_mount
assert_eq "$(ls "$MNT" | wc -l)" "$NENVS" "envs listed by ls"
assert_eq "$(python3 -c 'import os, sys; print(len(os.listdir(sys.argv[1])))' "$MNT")" \
	"$NENVS" "envs listed by os.listdir"
SP=$(echo "$MNT"/e1/lib/python3*/site-packages)
PKG=$SP/big
[[ -d $PKG ]] || fail "package directory big missing in $SP"
# the wheel's members, plus the __pycache__ its package record carries
want=$(($(unzip -Z1 "$VV_TMP"/big-1.0-py3-none-any.whl | grep -c '^big/') + 1))
[[ -d $PKG/__pycache__ ]] || fail "the package record brought no bytecode"
assert_eq "$(ls "$PKG" | wc -l)" "$want" "entries of a clean package directory"
# d_ino from the listing is the inode stat reports, for every entry
python3 - "$PKG" "$MNT" <<'PY' || fail "d_ino and st_ino disagree"
import os, sys
bad = 0
for d in sys.argv[1:]:
    for e in os.scandir(d):
        if e.inode() == 0 or e.inode() != os.stat(e.path, follow_symlinks=False).st_ino:
            bad += 1
            print("mismatch:", e.path, e.inode(), file=sys.stderr)
sys.exit(1 if bad else 0)
PY
# the same listing again, now from the kernel's caches, and after the mount's own change
assert_eq "$(ls "$PKG" | wc -l)" "$want" "entries of the package directory, cached"
check mkdir "$MNT/zz-new"
assert_eq "$(ls "$MNT" | wc -l)" "$((NENVS + 1))" "envs listed after a mkdir"
vv_umount
