#!/bin/bash
# bytecode.sh - .pyc files are stored once for all envs (python/pyc.h): three envs that
# pip-install and import the same real packages (flask, requests, pydantic, networkx,
# repacked offline by tests/wheelcorpus.py) grow the store by at most 2% of the first
# after the first; a renamed env imports its bytecode as it is (no rewrite, no stale
# header) and its code objects and tracebacks name the env's new path; a source edited
# in one env is recompiled there only; optimized and hash-based pycs (compileall -o 1
# -o 2, checked-hash, unchecked-hash) are shared too; every CPython 3.8+ on the machine
# shares them; a corrupt stored form reads as EIO, never as wrong bytes, and fsck names
# it. Under CI=true a missing interpreter with the packages is a failure, else a skip.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

unset PYTHONDONTWRITEBYTECODE # this test is about real bytecode
missing() {
	if [[ ${CI:-} == true ]]; then fail "$*"; else skip "$*"; fi
}

SET="flask requests pydantic networkx"
# shellcheck disable=SC2086 # the set is a list
vv_needs_packages $SET
py=$VV_PY W=$VV_WHEELS

IMPORT='import flask, requests, pydantic, networkx'
pycs() { # ENV: every pyc of the env with its mtime, relative to the env
	(cd "$MNT/$1" && find . -name '*.pyc' -printf '%p %T@\n' | sort)
}
stale() { # ENV: lines of python -v that say bytecode was not used as it is
	"$MNT/$1/bin/python" -v -c "$IMPORT" 2>&1 |
		grep -E "bytecode is stale|^# wrote |could not|code object from .*\.py'$" || true
}

vv_mount
grow=()
for e in a b c; do
	check mkdir "$MNT/$e"
	check "$MNT/$e/bin/pip" --version >/dev/null
	vv_commit "$e"
	s0=$(vv_objects_bytes)
	# shellcheck disable=SC2086
	check "$MNT/$e/bin/pip" install -q --no-index --find-links "$W" $SET
	check "$MNT/$e/bin/python" -c "$IMPORT"
	vv_commit "$e"
	grow+=($(($(vv_objects_bytes) - s0)))
done
n=$(pycs a | wc -l)
vv_note "pycs per env: $n; store growth per env: ${grow[*]} bytes"
((n > 500)) || fail "only $n pycs in env a"
((grow[0] > 10000000)) || fail "the first env grew the store by only ${grow[0]} bytes"
for i in 1 2; do
	((grow[i] * 50 <= grow[0])) ||
		fail "env $i grew the store by ${grow[i]} bytes: more than 2% of ${grow[0]}"
done
[[ -z $(stale a) ]] || fail "env a recompiles after its own install: $(stale a | head -3)"

# ---- rename: the same bytecode, used as it is, names the new path -------------------------
before=$(pycs b)
check mv "$MNT/b" "$MNT/b2"
[[ -z $(stale b2) ]] || fail "renamed env recompiles: $(stale b2 | head -3)"
assert_eq "$(pycs b2)" "$before" "pycs of the renamed env (names, mtimes)"
site=$("$MNT/b2/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
pyc=$(ls "$site"/requests/__pycache__/models.*.pyc)
fname=$("$MNT/b2/bin/python" -c 'import marshal, sys
f = open(sys.argv[1], "rb"); f.read(16); print(marshal.load(f).co_filename)' "$pyc")
assert_eq "$fname" "$site/requests/models.py" "co_filename read from the pyc"
tb=$("$MNT/b2/bin/python" -c 'import requests
requests.get("nothing://here")' 2>&1 || true)
assert_contains "$tb" "File \"$site/requests/" "traceback in the renamed env"

# ---- an edit recompiles that env only ---------------------------------------------------------
src=$("$MNT/c/bin/python" -c 'import requests.models as m; print(m.__file__)')
echo "EDITED = 1" >>"$src"
touch -d '+10 seconds' "$src"
out=$("$MNT/c/bin/python" -v -c 'import requests.models as m; print(m.EDITED)' 2>&1)
assert_contains "$out" "bytecode is stale for 'requests.models'" "edited source in env c"
check "$MNT/c/bin/python" -c 'import requests.models as m; assert m.EDITED == 1'
[[ -z $(stale a) ]] || fail "env a recompiles after an edit in env c: $(stale a | head -3)"
assert_not_contains "$(stale c)" "requests" "env c after its recompile"

# ---- optimized and hash-based pycs --------------------------------------------------------------
for mode in checked-hash unchecked-hash; do
	g=()
	for e in a c; do
		d=$("$MNT/$e/bin/python" -c 'import flask, os; print(os.path.dirname(flask.__file__))')
		s0=$(vv_objects_bytes)
		check "$MNT/$e/bin/python" -m compileall -q -f -o 0 -o 1 -o 2 \
			--invalidation-mode "$mode" "$d"
		vv_commit "$e"
		g+=($(($(vv_objects_bytes) - s0)))
	done
	vv_note "compileall $mode of flask, -o 0 -o 1 -o 2: growth ${g[*]} bytes"
	((g[0] > 50000)) || fail "$mode: the first env grew the store by only ${g[0]} bytes"
	((g[1] * 20 <= g[0])) || fail "$mode: the second env grew the store by ${g[1]} bytes"
	check "$MNT/a/bin/python" -O -c 'import flask'
	[[ -z $(stale a) ]] || fail "$mode pycs recompiled: $(stale a | head -3)"
done

# ---- records carry bytecode: an env made by create -r imports with no compiling --------------
check "$MNT/a/bin/pip" freeze >"$VV_TMP/req.txt"
check vv_ctl create -r "$VV_TMP/req.txt" --find-links "$W" d >/dev/null
s0=$(vv_objects_bytes)
[[ -z $(stale d) ]] || fail "env d (create -r) compiles at first import: $(stale d | head -3)"
vv_commit d
g=$(($(vv_objects_bytes) - s0))
vv_note "env made by create -r: first import grew the store by $g bytes"
((g <= 65536)) || fail "first import in a create -r env grew the store by $g bytes"

# ---- every CPython 3.8+ on the machine shares its bytecode ---------------------------------------
W2=$VV_TMP/demo
vv_mkwheels "$W2"
objs() { (cd "$STORE/objects" && find . -type f | sort); }
new_templates() { # BEFORE: objects added since, in the stored form of bytecode
	objs | comm -13 "$1" - | (cd "$STORE/objects" && xargs -r head -c 8 -q -- |
		grep -o -a -F 'VVPYC1' | wc -l) || true
}
nv=0
for v in 3.8 3.9 3.10 3.11 3.12 3.13; do
	# an interpreter of that version, if the machine has one
	vv_ctl create --python "$v" "v${v/./}-1" >/dev/null 2>&1 || continue
	t=()
	for i in 1 2; do
		e=v${v/./}-$i
		((i == 1)) || check vv_ctl create --python "$v" "$e" >/dev/null
		objs >"$VV_TMP/before"
		check "$MNT/$e/bin/pip" install -q --no-index --find-links "$W2" demoapp
		check "$MNT/$e/bin/python" -c 'import demoapp, demolib'
		vv_commit "$e"
		t+=($(new_templates "$VV_TMP/before"))
		out=$("$MNT/$e/bin/python" -v -c 'import demoapp, demolib' 2>&1)
		assert_not_contains "$out" "bytecode is stale" "python $v import in $e"
		assert_contains "$out" "code object from '$MNT/$e/lib/python$v/site-packages/demolib/__pycache__/" \
			"python $v loads demolib's bytecode in $e"
	done
	vv_note "python $v: stored bytecode objects added by two envs' install + import: ${t[*]}"
	((t[0] >= 6)) || fail "python $v: the first env stored only ${t[0]} bytecode objects"
	((t[1] == 0)) || fail "python $v: the second env stored ${t[1]} bytecode objects of its own"
	nv=$((nv + 1))
done
((nv > 0)) || missing "no CPython 3.8+ to check besides $py"

# ---- a corrupt stored form is EIO, and fsck names it ----------------------------------------------
pyc=$(ls "$MNT"/a/lib/python3*/site-packages/flask/__pycache__/app.*.opt-1.pyc)
rel=${pyc#"$MNT/a/"}
oid=$(python3 - "$STORE" a "$rel" <<'EOF'
import sys, re
store, env, rel = sys.argv[1:]
root = re.search(r"^root\s*=\s*([0-9a-f]{64})", open(f"{store}/envs/{env}").read(), re.M).group(1)
def tree(oid):
    return open(f"{store}/objects/{oid[:2]}/{oid[2:]}", "rb").read().split(b"\n")[1:]
oid = root
for part in rel.split("/"):
    for line in tree(oid):
        if line and line.endswith(b":" + part.encode()):
            kind, ref = line.split(b" ")[0], line.split(b" ")[4]
            oid = ref[:64].decode()
            break
    else:
        sys.exit(f"{part} not found")
print(kind.decode(), oid)
EOF
) || fail "cannot find the object of $rel"
assert_eq "${oid%% *}" c "kind of $rel in its tree"
oid=${oid#* }
obj=$(vv_obj_path "$oid")
vv_umount
chmod u+w "$obj"
python3 -c 'import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[len(b) // 2] ^= 0x55
open(p, "wb").write(b)' "$obj"
vv_mount
check_fail cat "$pyc" >/dev/null 2>"$VV_TMP/err"
assert_contains "$(cat "$VV_TMP/err")" "Input/output error" "reading a corrupt stored pyc"
out=$(vv_ctl fsck 2>&1 || true)
assert_contains "$out" "$oid" "fsck names the corrupt object"
vv_umount
