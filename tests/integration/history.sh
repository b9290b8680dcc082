#!/bin/bash
# history.sh - env history, rollback and snapshots on a real mount with real pip:
# `pip install` through the mount is one history entry (+name version), also when it
# spans several commits; `venvctl rollback` makes the package's files vanish from the
# mount at once (kernel caches included) and restores the exact file set (paths,
# types, modes, link targets, sha256 of every file, __pycache__ included) of the env
# before the install; 10 more switches back and forth, each visible as soon as venvctl
# returns; the same after `pip uninstall`; snapshot + more changes +
# rollback to the tag; rollback is refused while the mount holds uncommitted changes;
# the history follows a rename and goes with the env; gc keeps every state the
# history references and frees it once the history no longer does.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

W=$VV_TMP/wheels
vv_mkwheels "$W"
python3 "$VV_LIB_DIR/mkwheel.py" "$W" histpkg 1.0 --modules 5 --script histcmd=histpkg:main \
	--payload-size 300000 >/dev/null

pipi() { # ENV PKG...
	local e=$1
	shift
	check "$MNT/$e/bin/pip" install -q --no-index --find-links "$W" "$@"
}

# listing ENV [SUBDIR]: every entry of the env (or of SUBDIR in it) seen through the
# mount, sorted: type, mode, path, and the sha256 of a file or the target of a link.
# One process for the whole tree (a process per file took minutes on a slow machine).
listing() {
	python3 - "$MNT/$1/${2:-.}" "$MNT/$1" <<'PYEOF' || fail "cannot list env $1 through the mount"
import hashlib, os, re, stat, sys
top, env = sys.argv[1], sys.argv[2].encode()
def line(path, rel):
    st = os.lstat(path)
    mode = format(stat.S_IMODE(st.st_mode), "o")
    if stat.S_ISLNK(st.st_mode):
        return f"l {mode} {rel} -> {os.readlink(path)}"
    if stat.S_ISREG(st.st_mode):
        with open(path, "rb") as f:
            data = f.read()
        if path.endswith(".pyc"):  # bytecode names the env's current path (same length here)
            data = data.replace(env, b"ENV")
        if path.endswith(".dist-info/RECORD"):  # it hashes the scripts, which name it too
            data = re.sub(rb"(\.\./\.\./\.\./bin/[^,\n]*),sha256=[^,\n]*,[0-9]+", rb"\1,,", data)
        return f"f {mode} {rel} {hashlib.sha256(data).hexdigest()}"
    return f"{'d' if stat.S_ISDIR(st.st_mode) else 'o'} {mode} {rel}"
out = [line(top, ".")]
for root, dirs, files in os.walk(top):
    for name in dirs + files:
        path = os.path.join(root, name)
        out.append(line(path, "./" + os.path.relpath(path, top)))
print("\n".join(sorted(out)))
PYEOF
}

# same_listing FILE ENV WHAT [SUBDIR]: the listing now equals the one saved in FILE
same_listing() {
	listing "$2" "${4:-.}" >"$VV_TMP/now.lst"
	if ! cmp -s "$1" "$VV_TMP/now.lst"; then
		{ diff "$1" "$VV_TMP/now.lst" || true; } | head -20 >&2
		fail "$3: the env's file set differs (diff above)"
	fi
}

entries() { # ENV: number of history entries
	vv_ctl history --json "$1" >"$VV_TMP/h.json" || fail "history --json $1 failed"
	vv_json "$VV_TMP/h.json" "len(j['entries'])"
}

vv_mount
E=$MNT/e
S=$E/$VV_SITE
check mkdir "$E"
out=$(vv_ctl history e) || fail "history of a new env failed: $out"
assert_contains "$out" "no history" "history of a new env"
listing e >"$VV_TMP/before-install.lst"
# after the env is renamed, path-dependent files (activate, script shebangs) differ:
# what is compared then is site-packages
listing e "$VV_SITE" >"$VV_TMP/before-install-site.lst"

# ---- pip install through the mount: one entry, rollback restores the file set ----------
pipi e histpkg
vv_commit e
assert_eq "$(entries e)" 1 "entries after one pip install"
out=$(vv_ctl history e) || fail "history failed: $out"
vv_note "history after pip install: $out"
assert_contains "$out" "+histpkg 1.0" "history entry of the install"
assert_contains "$out" "mount" "source of the install"
assert_eq "$(vv_json "$VV_TMP/h.json" "j['entries'][0]['changes']")" \
	"[{'change': 'added', 'name': 'histpkg', 'new_version': '1.0'}]" "changes in --json"
listing e >"$VV_TMP/installed.lst"
# prime the kernel's caches: entries, attributes, directory listings, content, script
check ls -lR "$S/histpkg" >/dev/null
check cat "$S/histpkg/__init__.py" >/dev/null
check test -x "$E/bin/histcmd"
assert_eq "$("$E/bin/histcmd")" "histpkg 1.0" "console script before rollback"
obj=$(vv_sha256 "$S/histpkg/payload.bin")

t0=$(date +%s%N)
out=$(vv_ctl rollback e) || fail "rollback failed: $out"
# no waiting: the next look through the mount must already see the old state
if [[ -e $S/histpkg || -e $E/bin/histcmd ]] || ls "$S" | grep -q histpkg; then
	vv_wait_for 5 test ! -e "$S/histpkg" ||
		fail "rolled-back package still visible through the mount after 5 s"
	fail "rolled-back package was still visible through the mount right after rollback" \
		"(it went away after $((($(date +%s%N) - t0) / 1000000)) ms)"
fi
vv_note "rollback took $((($(date +%s%N) - t0) / 1000000)) ms including the first look"
vv_note "rollback: $out; gone from the mount at once"
assert_missing "$S/histpkg"
assert_missing "$E/bin/histcmd"
check_fail "$E/bin/python" -c 'import histpkg'
same_listing "$VV_TMP/before-install.lst" e "rollback of a pip install"
assert_eq "$(entries e)" 2 "the rollback is an entry of its own"
assert_contains "$(vv_ctl history e)" "-histpkg 1.0" "history of the rollback"

# ---- undo the rollback: the installed state, files and all ---------------------------
out=$(vv_ctl rollback e) || fail "undoing the rollback failed: $out"
[[ -e $S/histpkg/__init__.py ]] || fail "undone rollback did not show right away"
# back and forth, caches primed each time: every switch shows as soon as venvctl returns
for ((i = 0; i < 10; i++)); do
	ls -lR "$S/histpkg" >/dev/null
	check vv_ctl rollback e >/dev/null
	[[ ! -e $S/histpkg/__init__.py ]] || fail "switch $i: package still visible after rollback"
	check vv_ctl rollback e >/dev/null
	[[ -e $S/histpkg/__init__.py ]] || fail "switch $i: package not back after undo"
done
same_listing "$VV_TMP/installed.lst" e "undo of a rollback"
assert_eq "$("$E/bin/histcmd")" "histpkg 1.0" "console script after undo"

# ---- pip uninstall, rolled back -------------------------------------------------------
check "$E/bin/pip" uninstall -q -y histpkg
vv_commit e
assert_missing "$S/histpkg"
assert_contains "$(vv_ctl history e)" "-histpkg 1.0" "history of the uninstall"
n=$(entries e)
last=$(vv_json "$VV_TMP/h.json" "j['entries'][0]['id']")
assert_eq "$(vv_json "$VV_TMP/h.json" "j['entries'][0]['source']")" mount "uninstall source"
check vv_ctl rollback e "$last" >/dev/null
[[ -e $S/histpkg/__init__.py ]] || fail "rollback of the uninstall did not show right away"
same_listing "$VV_TMP/installed.lst" e "rollback of a pip uninstall"
assert_eq "$(entries e)" $((n + 1)) "entries after rolling back the uninstall"
assert_eq "$("$E/bin/python" -c 'import histpkg; print(histpkg.__version__)')" 1.0 \
	"import after the rollback"

# ---- one command is one entry, even across commits; sync ends it -------------------------
n=$(entries e)
pipi e demolib==1.0
sleep 2 # the mount commits after a quiet second: the next install is a second commit
pipi e demoapp
vv_commit e
assert_eq "$(entries e)" $((n + 2)) "two installs (two commands) are two entries"
out=$(vv_ctl history e)
assert_contains "$out" "+demoapp 1.0" "the second install's entry"
assert_contains "$out" "+demolib 1.0" "the first install's entry"
# one process that changes files, pauses past the mount's commit, and changes more
check "$E/bin/python" -c '
import time
open("'"$E"'/slow1.txt", "w").write("1")
time.sleep(2)
open("'"$E"'/slow2.txt", "w").write("2")'
vv_commit e
assert_eq "$(entries e)" $((n + 3)) "one command across two commits is one entry"
assert_eq "$(vv_json "$VV_TMP/h.json" "j['entries'][0]['start_time'] < j['entries'][0]['time']")" \
	true "the entry spans several commits"
check rm "$E/slow1.txt" "$E/slow2.txt"
vv_commit e
pipi e demolib==2.0
vv_commit e
assert_eq "$(entries e)" $((n + 5)) "after sync, the next change is a new entry"
assert_contains "$(vv_ctl history e)" "demolib 1.0 -> 2.0" "upgrade shown as OLD -> NEW"
# a sync that finds everything committed already (by the mount's timer) ends the batch
echo marker >"$E/marker.txt"
sleep 2
vv_commit e
check rm "$E/marker.txt"
vv_commit e
assert_eq "$(entries e)" $((n + 7)) "a sync with nothing left to commit ends the batch"
assert_contains "$(vv_ctl history e)" "files changed, no package changes" "a change without packages"

# ---- snapshot, more changes, rollback to the tag ----------------------------------------
check vv_ctl snapshot e good >/dev/null
listing e >"$VV_TMP/good.lst"
listing e "$VV_SITE" >"$VV_TMP/good-site.lst"
check_fail vv_ctl snapshot e good
out=$(vv_ctl snapshot e 9lives 2>&1) && fail "a tag starting with a digit was accepted"
assert_contains "$out" "9lives" "bad tag message names the tag"
check "$E/bin/pip" uninstall -q -y histpkg demoapp
pipi e demolib==1.0
vv_commit e
assert_missing "$S/histpkg"
out=$(vv_ctl snapshot --list) || fail "snapshot --list failed"
assert_contains "$out" "e	good	" "snapshot --list"
check vv_ctl rollback e good >/dev/null
[[ -e $S/demoapp/__init__.py ]] || fail "rollback to a snapshot did not show right away"
same_listing "$VV_TMP/good.lst" e "rollback to snapshot 'good'"

# ---- the mount commits on request; refused only while a file is open for writing ------
echo x >"$E/scratch.txt"
check vv_ctl snapshot e pending >/dev/null # the mount commits scratch.txt first
assert_contains "$(vv_ctl snapshot --list)" "e	pending	" "snapshot right after a change"
check vv_ctl snapshot --delete e pending >/dev/null
exec 7>"$E/held.txt"
out=$(vv_ctl rollback e 2>&1) && fail "rollback with a file open for writing succeeded"
assert_contains "$out" "'held.txt' is open for writing by process $BASHPID" \
	"rollback refused while a file is open for writing"
exec 7>&-
check rm "$E/scratch.txt" "$E/held.txt"
vv_commit e

# ---- the history follows a rename, and errors name their input -------------------------
nbefore=$(entries e)
check mv "$E" "$MNT/f"
assert_eq "$(entries f)" "$nbefore" "history after renaming the env"
out=$(vv_ctl history e 2>&1) && fail "history of a renamed-away env succeeded"
assert_contains "$out" "'e'" "message names the env"
out=$(vv_ctl rollback f 999 2>&1) && fail "rollback to a missing entry succeeded"
assert_contains "$out" "999" "message names the entry"
vv_umount

# ---- gc keeps every state the history holds --------------------------------------------
# f's install of histpkg is in its history (and in snapshot 'good'); roll f back to
# before that install, so only the history holds histpkg's payload, then collect.
vv_ctl history --json f >"$VV_TMP/h.json" || fail "history --json f"
first=$(vv_json "$VV_TMP/h.json" "j['entries'][-1]['id']")
check vv_ctl rollback f "$first" >/dev/null
# stats counts the states the history holds as the env's own: histpkg's payload is
# only in f's history now, and it is f's unique bytes (what removing f would free)
vv_ctl stats --json >"$VV_TMP/s.json" || fail "stats --json failed"
uniq=$(vv_json "$VV_TMP/s.json" "[e for e in j['envs'] if e['name'] == 'f'][0]['unique_bytes']")
((uniq >= 300000)) || fail "stats: f's unique bytes $uniq leave out what its history holds"
check vv_ctl gc --grace 0 >/dev/null
check test -f "$(vv_obj_path "$obj")"
check vv_ctl fsck -q
vv_mount
same_listing "$VV_TMP/before-install-site.lst" f "rollback of an unmounted env, seen mounted" \
	"$VV_SITE"
out=$(vv_ctl rollback f) || fail "undo after gc failed: $out" # back to 'good'
[[ -e $MNT/f/$VV_SITE/histpkg/payload.bin ]] || fail "undo after gc did not show right away"
assert_eq "$(vv_sha256 "$MNT/f/$VV_SITE/histpkg/payload.bin")" "$obj" "payload after gc"
same_listing "$VV_TMP/good-site.lst" f "state kept by history through gc" "$VV_SITE"
vv_umount

# ---- once nothing references it, gc frees it ---------------------------------------------
check vv_ctl rollback f "$first" >/dev/null # histpkg out of the env again
check vv_ctl snapshot --delete f good >/dev/null
printf '[venvfs]\nhistory-keep = 1\n' >"$VV_TMP/keep1.ini"
# an env change under history-keep = 1 prunes every older entry
check "$VENVCTL" --config "$VV_TMP/keep1.ini" --store "$STORE" add f "$W/demolib-2.0-py3-none-any.whl" >/dev/null
assert_eq "$(entries f)" 1 "entries kept with history-keep = 1"
check vv_ctl gc --grace 0 >/dev/null
[[ ! -e $(vv_obj_path "$obj") ]] || fail "gc kept an object no kept history entry references"
check vv_ctl fsck -q

# ---- removing the env removes its history --------------------------------------------
vv_mount
check rm -rf "$MNT/f"
vv_umount
[[ ! -e $STORE/history/f ]] || fail "history/f survived the removal of env f"
exit 0
