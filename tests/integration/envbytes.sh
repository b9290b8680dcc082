#!/bin/bash
# envbytes.sh - a pip-installed env costs about its root tree: mtimes live in the env
# root's times section (store/times.h), so every tree below it is shared with an env
# that installed the same packages at another time, and a .dist-info/RECORD that hashes
# the env's console scripts is stored as a template (pkg/rectpl.h), shared too. Checked
# with real pip and real packages (flask, requests: console scripts flask and
# normalizer): after gc the second env adds its root tree and its env file only; each
# env shows its own mtimes (also after a remount), and pycs are used as they are; every
# RECORD line of a script carries the sha256 and size of that script as the env shows
# it, before and after the env is renamed; pip show -f and pip uninstall read it; the
# stored RECORD is one template object for both envs; a corrupt template reads as EIO
# and fsck names it. Under CI=true a missing interpreter with the packages is a
# failure, else a skip.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

unset PYTHONDONTWRITEBYTECODE # real use writes bytecode
SET="flask requests"
# shellcheck disable=SC2086 # the set is a list
vv_needs_packages $SET
W=$VV_WHEELS

# RECORD lines of bin/ scripts that pip wrote in ENV against the scripts as ENV shows
# them: "ok N" or why not
record_check() {
	"$MNT/$1/bin/python" - "$MNT/$1" <<'EOF'
import base64, csv, glob, hashlib, os, sys
env = sys.argv[1]
n = 0
for rec in glob.glob(env + "/lib/python3.*/site-packages/*.dist-info/RECORD"):
    if os.path.basename(os.path.dirname(rec)).startswith("pip-"):
        continue  # seeded by venvfs, not written by pip in this env
    site = os.path.dirname(os.path.dirname(rec))
    for path, h, size in csv.reader(open(rec, newline="")):
        full = os.path.normpath(os.path.join(site, path))
        if not full.startswith(env + "/bin/") or not h:
            continue
        data = open(full, "rb").read()
        want = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        if (h, int(size)) != (want, len(data)):
            sys.exit(f"{rec}: {path}: RECORD says {h},{size}, the script is {want},{len(data)}")
        n += 1
print("ok", n)
EOF
}
templates() { # the stored RECORD templates (object paths)
	grep -rl -m1 '^VVREC1$' "$STORE/objects" 2>/dev/null | sort || true
}
times_of() { # ENV: mtimes of every file below site-packages
	(cd "$MNT/$1"/lib/python3.*/site-packages && find . -printf '%p %T@\n' | sort)
}
gc_bytes() { # store object bytes once garbage (earlier roots of the commits) is gone
	check vv_ctl gc --grace 0 >/dev/null
	vv_objects_bytes
}

vv_mount
check mkdir "$MNT/a"
check "$MNT/a/bin/pip" --version >/dev/null
vv_commit a
s0=$(gc_bytes)
# shellcheck disable=SC2086
check "$MNT/a/bin/pip" install -q --no-index --find-links "$W" $SET
check "$MNT/a/bin/python" -c 'import flask, requests'
vv_commit a
s1=$(gc_bytes)
t1=$(templates)
[[ -n $t1 ]] || fail "no RECORD was stored as a template"
check mkdir "$MNT/b"
check "$MNT/b/bin/pip" --version >/dev/null
sleep 1.1 # the second env's files get other mtimes
# shellcheck disable=SC2086
check "$MNT/b/bin/pip" install -q --no-index --find-links "$W" $SET
check "$MNT/b/bin/python" -c 'import flask, requests'
vv_commit b
s2=$(gc_bytes)
first=$((s1 - s0)) second=$((s2 - s1))
vv_note "store growth: first env $first bytes, second env $second bytes"
# the second env: its root tree (about 4 bytes a file for its mtimes) and nothing else
files=$(times_of b | wc -l)
((second <= 8 * files + 16384)) ||
	fail "the second env grew the store by $second bytes for $files files"
assert_eq "$(templates)" "$t1" "RECORD templates after the second env (shared)"
[[ $(times_of a) != "$(times_of b)" ]] || fail "both envs show the same mtimes"
ta=$(times_of a) tb=$(times_of b)

# ---- each env keeps its own mtimes across a remount, and its pycs stay valid ------------------
vv_umount
vv_mount
assert_eq "$(times_of a)" "$ta" "mtimes of env a after a remount"
assert_eq "$(times_of b)" "$tb" "mtimes of env b after a remount"
out=$("$MNT/b/bin/python" -v -c 'import flask, requests' 2>&1)
assert_not_contains "$out" "bytecode is stale" "imports in env b after a remount"

# ---- RECORD agrees with the scripts, also after a rename; pip reads it ------------------------
assert_contains "$(record_check a)" "ok " "RECORD of env a"
check mv "$MNT/b" "$MNT/b2"
r=$(record_check b2)
assert_eq "$r" "$(record_check a)" "RECORD lines of scripts in the renamed env"
assert_contains "$(check "$MNT/b2/bin/pip" show -f flask)" "../../../bin/flask" "pip show -f"
check "$MNT/b2/bin/pip" uninstall -q -y flask
assert_missing "$MNT/b2/bin/flask"
check "$MNT/a/bin/flask" --version >/dev/null

# ---- a corrupt template is EIO, and fsck names it -----------------------------------------------
vv_umount
obj=$(printf '%s\n' "$t1" | head -1)
chmod u+w "$obj"
printf 'X' | dd of="$obj" bs=1 seek=12 conv=notrunc status=none
vv_mount
bad=0
for f in "$MNT"/a/lib/python3.*/site-packages/*.dist-info/RECORD; do
	if ! cat "$f" >/dev/null 2>"$VV_TMP/err"; then
		bad=$((bad + 1))
		assert_contains "$(cat "$VV_TMP/err")" "Input/output error" "reading $f"
	fi
done
((bad >= 1)) || fail "a corrupt RECORD template was read without an error"
vv_umount
out=$(vv_ctl fsck 2>&1 || true)
assert_contains "$out" "corrupt object" "fsck after corrupting a RECORD template"
vv_note "RECORD lines of scripts: $r; templates: $(printf '%s\n' "$t1" | wc -l)"
