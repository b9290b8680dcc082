#!/bin/bash
# errors.sh - bad command lines fail fast and clearly: the daemon with a mountpoint
# whose parent is missing, a mountpoint that is a file or a dangling symlink, an unusable
# store (a mountpoint it made for the run is taken back), a bad config line and an
# interpreter that does not exist; venvctl with unknown commands and options, and bad
# global options before or after the command. Each exits non-zero with one line on
# stderr naming the offending input.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# expect_error WANT_IN_MESSAGE CMD...: CMD must exit non-zero (within 20 s, without
# mounting anything) and print exactly one line on stderr, which contains WANT.
expect_error() {
	local want=$1 rc=0 err lines
	shift
	timeout 20 "$@" >"$VV_TMP/out" 2>"$VV_TMP/err" </dev/null || rc=$?
	err=$(cat "$VV_TMP/err")
	((rc != 0)) || fail "succeeded but should have failed: $(vv_quote "$@")"
	((rc != 124)) || fail "did not exit within 20 s: $(vv_quote "$@")"
	lines=$(grep -c . "$VV_TMP/err" || true)
	((lines == 1)) || fail "expected one line on stderr, got $lines: $(vv_quote "$@"):
$err"
	assert_contains "$err" "$want" "error message of $(vv_quote "$@")"
	if awk -v p="$VV_TMP/" 'index($2, p) == 1 { f = 1 } END { exit !f }' /proc/self/mounts; then
		fail "something got mounted by: $(vv_quote "$@")"
	fi
	LAST_RC=$rc
}

touch "$VV_TMP/afile"
mkdir -p "$VV_TMP/mp"

# ---- the daemon ------------------------------------------------------------------------------
expect_error "parent directory '$VV_TMP/no-such-dir' does not exist" \
	"$VENVFS" -f --store "$STORE" "$VV_TMP/no-such-dir/mp"
assert_missing "$VV_TMP/no-such-dir"
expect_error "$VV_TMP/afile" "$VENVFS" -f --store "$STORE" "$VV_TMP/afile"
ln -s "$VV_TMP/gone" "$VV_TMP/dangling"
expect_error "'$VV_TMP/dangling': a symbolic link to a missing path" \
	"$VENVFS" -f --store "$STORE" "$VV_TMP/dangling"
assert_missing "$VV_TMP/gone"
# the store cannot be opened: the mountpoint made for this run is removed again
expect_error "$VV_TMP/afile/store" "$VENVFS" -f --store "$VV_TMP/afile/store" "$VV_TMP/new-mp"
assert_missing "$VV_TMP/new-mp"
# the store path is a regular file
expect_error "$VV_TMP/afile" "$VENVFS" -f --store "$VV_TMP/afile" "$VV_TMP/mp"
# the store would have to be created under a regular file (fails even for root)
expect_error "$VV_TMP/afile/store" "$VENVFS" -f --store "$VV_TMP/afile/store" "$VV_TMP/mp"
if ((EUID != 0)); then
	mkdir -p "$VV_TMP/ro"
	chmod 555 "$VV_TMP/ro"
	expect_error "$VV_TMP/ro/store" "$VENVFS" -f --store "$VV_TMP/ro/store" "$VV_TMP/mp"
fi

printf '[venvfs]\nwithout-pip = false\nthis is not a key value line\n' >"$VV_TMP/bad.ini"
expect_error "$VV_TMP/bad.ini:3" "$VENVFS" -f --config "$VV_TMP/bad.ini" --store "$STORE" "$VV_TMP/mp"
printf '[venvfs]\nwithout-pip = maybe\n' >"$VV_TMP/bad2.ini"
expect_error "$VV_TMP/bad2.ini:2" "$VENVFS" -f --config "$VV_TMP/bad2.ini" --store "$STORE" "$VV_TMP/mp"
expect_error "$VV_TMP/missing.ini" "$VENVFS" -f --config "$VV_TMP/missing.ini" --store "$STORE" "$VV_TMP/mp"

printf '[venvfs]\npython = /nonexistent/python3\n' >"$VV_TMP/nopy.ini"
expect_error "/nonexistent/python3" "$VENVFS" -f --config "$VV_TMP/nopy.ini" --store "$STORE" "$VV_TMP/mp"

# After all that, a good command line still mounts the same store.
vv_mount
check mkdir "$MNT/ok"
vv_umount

# ---- venvctl -------------------------------------------------------------------------------
expect_error "frobnicate" "$VENVCTL" --store "$STORE" frobnicate
assert_eq "$LAST_RC" 2 "venvctl exit status for an unknown command"
expect_error "--frob" "$VENVCTL" --frob stats
assert_eq "$LAST_RC" 2 "venvctl exit status for an unknown option"
expect_error "--frob" "$VENVCTL" --store "$STORE" stats --frob
assert_eq "$LAST_RC" 2 "venvctl exit status for an unknown command option"
expect_error "--store" "$VENVCTL" --store
assert_eq "$LAST_RC" 2 "venvctl exit status for --store without a value"
expect_error "$VV_TMP/no-store" "$VENVCTL" --store "$VV_TMP/no-store" stats
assert_eq "$LAST_RC" 2 "venvctl exit status for a missing store"
expect_error "$VV_TMP/bad.ini:3" "$VENVCTL" --config "$VV_TMP/bad.ini" stats
assert_eq "$LAST_RC" 2 "venvctl exit status for a bad config"
expect_error "command" "$VENVCTL" --store "$STORE"
# the global options after the command: the same errors, named with the command
expect_error "venvctl du: option '--store' needs a directory" "$VENVCTL" du --store
assert_eq "$LAST_RC" 2 "venvctl exit status for a command's --store without a value"
expect_error "venvctl gc: option '--store' needs a directory" "$VENVCTL" gc --store=
expect_error "venvctl stats: option '--config' needs a file" "$VENVCTL" stats --json --config
expect_error "$VV_TMP/no-store" "$VENVCTL" stats --store "$VV_TMP/no-store"
expect_error "$VV_TMP/bad.ini:3" "$VENVCTL" stats --config "$VV_TMP/bad.ini"
# given twice, the last one counts
expect_error "$VV_TMP/no-store" "$VENVCTL" --store "$STORE" stats --store "$VV_TMP/no-store"
check "$VENVCTL" --store "$VV_TMP/no-store" stats --store "$STORE" >/dev/null

out=$("$VENVCTL" --help) || fail "venvctl --help failed"
for w in stats fsck --store --config; do
	assert_contains "$out" "$w" "venvctl --help"
done
check "$VENVCTL" help fsck >/dev/null
check "$VENVCTL" stats --help >/dev/null
out=$("$VENVCTL" --version) || fail "venvctl --version failed"
assert_contains "$out" "venvctl" "venvctl --version"
check "$VENVCTL" --store "$STORE" fsck >/dev/null
check "$VENVCTL" --store "$STORE" stats >/dev/null
