#!/bin/bash
# persist.sh - everything survives an unmount and a remount: installed packages, files
# made by hand (content, modes, symlinks, empty files and dirs, odd names), mtimes that
# were set explicitly, and the list of envs. Unmounting commits without an explicit sync.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

W=$VV_TMP/wheels
vv_mkwheels "$W"

# Content, type, mode, size and link target of everything under the mount, plus the
# mtimes of the files whose times this test sets.
snapshot() {
	(cd "$MNT" && find . -printf '%p %y %m %s %l\n' | sort &&
		find . -type f -print0 | sort -z | xargs -0 sha256sum &&
		stat -c '%n %Y' web/data/stamped web/data web/notes.txt)
}

vv_mount
check mkdir "$MNT/web"
check mkdir "$MNT/api"
check mkdir "$MNT/empty env"
check "$MNT/web/bin/pip" install -q --find-links "$W" demoapp
check "$MNT/api/bin/pip" install -q --find-links "$W" 'demolib==1.0'

D=$MNT/web/data
check mkdir -p "$D/nested/deeper"
echo "notes" >"$MNT/web/notes.txt"
check chmod 640 "$MNT/web/notes.txt"
: >"$D/empty"
printf 'no newline' >"$D/with space.txt"
printf 'x' >"$D/$(printf 'tab\there')"
head -c 2500000 /dev/urandom >"$D/random.bin"
check chmod 700 "$D/nested"
check chmod 4755 "$D/random.bin" # setuid bit is a permission bit too
check ln -s ../notes.txt "$D/link"
check ln -s /nonexistent/target "$D/dangling"
echo stamped >"$D/stamped"
check touch -d '2010-05-06 07:08:09 UTC' "$D/stamped"
check touch -d '2011-01-01 00:00:00 UTC' "$MNT/web/notes.txt"
check touch -d '2012-01-01 00:00:00 UTC' "$D"
check rm "$MNT/api/$VV_SITE/demolib/mod_0.py" # a deletion must persist too

before=$(snapshot)
envs_before=$(ls "$MNT")

vv_umount # no sync first: unmount itself commits
[[ -f $STORE/envs/web && -f $STORE/envs/api && -f "$STORE/envs/empty env" ]] ||
	fail "env files missing after unmount: $(ls "$STORE/envs")"
check vv_ctl fsck

vv_mount
assert_eq "$(ls "$MNT")" "$envs_before" "env list after remount"
after=$(snapshot)
if [[ $after != "$before" ]]; then
	diff <(echo "$before") <(echo "$after") >&2 || true
	fail "the mount differs after remount (diff above)"
fi
assert_eq "$(stat -c %Y "$D/stamped")" 1273129689 "mtime after remount"
assert_missing "$MNT/api/$VV_SITE/demolib/mod_0.py"
assert_eq "$("$MNT/web/bin/demo")" "demoapp 1.0 demolib 2.0" "bin/demo after remount"
check "$MNT/web/bin/pip" --version >/dev/null
out=$("$MNT/web/bin/pip" list --format=freeze)
grep -qx 'demoapp==1.0' <<<"$out" || fail "pip list after remount lacks demoapp: $out"

# A change right before the unmount, then a second cycle.
echo "late" >"$MNT/api/late.txt"
check rm -rf "$MNT/empty env"
vv_umount
vv_mount
assert_eq "$(cat "$MNT/api/late.txt")" late "file written just before unmount"
assert_missing "$MNT/empty env"
assert_eq "$(ls "$MNT")" $'api\nweb' "env list after the second remount"
vv_umount
check vv_ctl fsck
