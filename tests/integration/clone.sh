#!/bin/bash
# clone.sh - `venvctl clone FROM TO`: the copy has FROM's root and settings (one new env
# file, no new object), its prompt is its own name unless FROM's was set explicitly; it
# shows at once in a running mount; changing the copy through the mount leaves FROM
# unchanged; a FROM with uncommitted changes, an existing TO, a missing FROM and usage
# errors are refused and change nothing.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

W=$VV_TMP/wheels
vv_mkwheels "$W"
check vv_ctl create orig >/dev/null
check vv_ctl create --prompt 'my prompt' prompted >/dev/null
check vv_ctl add orig "$W/demolib-1.0-py3-none-any.whl" "$W/demoapp-1.0-py3-none-any.whl" \
	>/dev/null

# ---- unmounted: one env file, same root, no new objects ----------------------------------
objs=$(vv_objects_count)
check vv_ctl clone orig copy1 >"$VV_TMP/out"
assert_eq "$(cat "$VV_TMP/out")" "cloned env 'orig' as 'copy1'" "clone output"
assert_eq "$(grep '^root' "$STORE/envs/copy1")" "$(grep '^root' "$STORE/envs/orig")" "root"
assert_eq "$(grep '^python' "$STORE/envs/copy1")" "$(grep '^python' "$STORE/envs/orig")" \
	"python"
assert_eq "$(vv_objects_count)" "$objs" "objects after a clone"
grep -q '^prompt' "$STORE/envs/copy1" && fail "a default prompt was copied"
check vv_ctl clone prompted prompted2 >/dev/null
assert_eq "$(grep '^prompt' "$STORE/envs/prompted2")" "prompt = my prompt" "explicit prompt"
cp "$STORE/envs/orig" "$VV_TMP/orig-env"

# vv_commit plus waiting until the journal holds no change
committed() {
	check vv_commit "$1"
	vv_wait_for 10 bash -c '[[ $(grep -a -c -v -E "^(venvfs-journal|b) " "$1" 2>/dev/null) -eq 0 ]]' _ \
		"$STORE/journal/$1" || fail "journal of '$1' not committed"
}

# ---- mounted ---------------------------------------------------------------------------------
vv_mount
C=$MNT/copy1 O=$MNT/orig
assert_eq "$("$C/bin/demo")" "demoapp 1.0 demolib 1.0" "console script of the copy"
prompt=$(bash -c '. "$1/bin/activate" && printf "%s" "$PS1"' _ "$C")
assert_contains "$prompt" "copy1" "prompt of the copy"
assert_not_contains "$prompt" "orig" "prompt of the copy"
assert_contains "$(bash -c '. "$1/bin/activate" && printf "%s" "$PS1"' _ "$MNT/prompted2")" \
	"my prompt" "prompt of a copy of an env with an explicit prompt"

# change the copy; the original keeps its files
check "$C/bin/pip" uninstall -q -y demoapp
echo note >"$C/note.txt"
check "$C/bin/pip" install -q --find-links "$W" 'demolib==2.0'
assert_eq "$("$C/bin/python" -c 'import demolib; print(demolib.__version__)')" 2.0 "copy upgraded"
committed copy1
# (no bytecode written, so orig stays as committed)
assert_eq "$(PYTHONDONTWRITEBYTECODE=1 "$O/bin/demo")" "demoapp 1.0 demolib 1.0" \
	"original after changing the copy"
assert_missing "$O/note.txt"
check cmp -s "$STORE/envs/orig" "$VV_TMP/orig-env"

# a clone shows at once in the running mount
check vv_ctl clone orig live >/dev/null
vv_wait_for 5 test -x "$MNT/live/bin/demo" || fail "a clone did not show in the mount"
assert_eq "$("$MNT/live/bin/demo")" "demoapp 1.0 demolib 1.0" "console script of live"

# a FROM with changes the mount has not committed yet: the mount commits them first
echo pending >"$O/pending.txt"
check vv_ctl clone orig later >/dev/null
vv_wait_for 5 test -f "$MNT/later/pending.txt" || fail "the change just made was not cloned"
vv_umount
# with no mount to ask, changes a journal still holds are refused
vv_mount
echo pending2 >"$O/pending2.txt"
vv_kill_daemon
rc=0
vv_ctl clone orig early 2>"$VV_TMP/err" || rc=$?
assert_eq "$rc" 1 "exit status for a clone of an env with pending changes"
assert_contains "$(cat "$VV_TMP/err")" \
	"env 'orig' has changes not committed yet (journal/orig): commit them first (\`sync MOUNT/orig\`" \
	"message for pending changes"
assert_missing "$STORE/envs/early"
vv_mount # replays and commits what the killed daemon left
vv_commit orig
vv_umount

# ---- refused ------------------------------------------------------------------------------------
cp "$STORE/envs/copy1" "$VV_TMP/copy1-env"
rc=0
vv_ctl clone orig copy1 2>"$VV_TMP/err" || rc=$?
assert_eq "$rc" 1 "exit status for an existing TO"
assert_contains "$(cat "$VV_TMP/err")" "env 'copy1' exists" "message for an existing TO"
check cmp -s "$STORE/envs/copy1" "$VV_TMP/copy1-env"
rc=0
vv_ctl clone nosuch x 2>"$VV_TMP/err" || rc=$?
assert_eq "$rc" 1 "exit status for a missing FROM"
assert_contains "$(cat "$VV_TMP/err")" "no env named 'nosuch'" "message for a missing FROM"
assert_missing "$STORE/envs/x"
for args in "orig" "orig bad/name" "orig a b"; do
	rc=0
	# shellcheck disable=SC2086 # split on purpose
	vv_ctl clone $args 2>/dev/null || rc=$?
	assert_eq "$rc" 2 "exit status of clone $args"
done
check vv_ctl fsck -q
