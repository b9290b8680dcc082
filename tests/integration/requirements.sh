#!/bin/bash
# requirements.sh - `venvctl create NAME -r FILE --find-links DIR` and `venvctl add NAME
# -r FILE`: a set of pinned wheels with dependencies between them, a console script and
# a data script becomes an env where everything imports, the scripts run and `pip
# check` is clean; a second env from the same file is made from the package records
# alone (the wheel directory is gone by then); unpinned or missing lines are all listed
# with their line numbers and no env is left behind; a progress bar only on a terminal.
# Environment markers: a file in the shape `poetry export` writes (markers, `--hash`
# continuation lines, "# via" comments) installs the lines whose marker holds for the
# env's interpreter and prints the others as skipped; a malformed marker is an error
# naming the file and the line, and nothing is created or changed.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

W=$VV_TMP/wheels
MK=$VV_LIB_DIR/mkwheel.py
mk() { python3 "$MK" "$W" "$@" >/dev/null || fail "mkwheel $*"; }
mk reqbase 1.0 --script reqbase-hello=reqbase:main --modules 2
mk requtil 2.1 --dep 'reqbase>=1.0' --modules 3
mk reqcore 0.3 --dep 'requtil==2.1' --dep reqbase
mk Req.Mixed_Name 1.2.3 --dep 'reqcore>=0.3'
mk reqdata 0.1 --data-script reqdata-tool --file reqdata/table.txt=rows
mk reqextra 4.0 --dep 'reqbase; extra == "full"'
mk reqapp 1.0 --dep reqcore --dep 'requtil>=2' --dep req-mixed-name --script reqapp=reqapp:main \
	--module-content 'import reqcore, requtil


def main():
    print("reqapp", __version__, "requtil", requtil.__version__)
    return 0'
mk reqbase 0.9 # an older version next to the pinned one: never picked
HASH=$(vv_sha256 "$W/requtil-2.1-py3-none-any.whl")

R=$VV_TMP/reqs.txt
cat >"$R" <<EOF
# the app and everything it needs, pinned
reqapp==1.0
reqbase==1.0   # comment after a pin
requtil == 2.1 \\
    --hash=sha256:$HASH
reqcore==0.3
req.mixed-name==1.2.3
reqdata==0.1

reqextra[full]==4.0
EOF
MODS="reqapp reqbase requtil reqcore req_mixed_name reqdata reqextra"

# ---- first env: wheels ingested from find-links, quietly (no terminal) -----------------------
check vv_ctl create x -r "$R" --find-links "$W" >"$VV_TMP/out" 2>"$VV_TMP/err"
assert_contains "$(cat "$VV_TMP/out")" "created env 'x'" "create -r output"
assert_contains "$(cat "$VV_TMP/out")" "7 packages from $R" "create -r output"
assert_eq "$(cat "$VV_TMP/err")" "" "stderr without a terminal"
assert_eq "$(find "$STORE/packages" -name '*@*' | wc -l)" 7 "package records"

# ---- second env: the wheels are gone, the records are enough --------------------------------
mv "$W" "$VV_TMP/wheels-gone"
check vv_ctl create y -r "$R" >"$VV_TMP/out" 2>"$VV_TMP/err"
assert_contains "$(cat "$VV_TMP/out")" "7 packages from $R" "second create -r"
assert_eq "$(cat "$VV_TMP/err")" "" "stderr of the second create"
assert_eq "$(find "$STORE/packages" -name '*@*' | wc -l)" 7 "no new records"
# the same files: both envs share every package tree
for m in reqapp requtil req_mixed_name; do
	a=$(python3 - "$STORE" x y "$VV_SITE/$m" <<'EOF'
import sys, os
store, e1, e2, path = sys.argv[1:]
def root(e):
    for l in open(os.path.join(store, "envs", e)):
        if l.startswith("root"):
            return l.split("=")[1].strip()
def obj(i):
    return os.path.join(store, "objects", i[:2], i[2:])
def find(tid, parts):
    for l in open(obj(tid)).read().splitlines()[1:]:
        f = l.split(" ", 5)
        name = f[5].split(":", 1)[1]
        if name == parts[0]:
            return f[4] if len(parts) == 1 else find(f[4], parts[1:])
a, b = find(root(e1), path.split("/")), find(root(e2), path.split("/"))
print(a is not None and a == b)
EOF
)
	assert_eq "$a" True "$m is one tree in both envs"
done
mv "$VV_TMP/wheels-gone" "$W"

# ---- unmet lines: all listed, nothing created -------------------------------------------
U=$VV_TMP/unmet.txt
printf '%s\n' 'reqbase==1.0' 'requtil>=2.0' 'reqcore' 'nothere==1.0' 'reqapp==9.9' \
	'reqdata==0.1 ; python_version > 3' >"$U"
rc=0
vv_ctl create z -r "$U" --find-links "$W" >"$VV_TMP/out" 2>"$VV_TMP/err" || rc=$?
assert_eq "$rc" 1 "exit status for unmet requirements"
E=$(cat "$VV_TMP/err")
assert_contains "$E" "$U: 5 of 6 requirements cannot be met" "summary"
assert_contains "$E" "$U:2: requtil>=2.0: not pinned" "unpinned line"
assert_contains "$E" "$U:3: reqcore: not pinned" "bare name"
assert_contains "$E" "$U:4: nothere==1.0: no wheel of nothere 1.0" "missing package"
assert_contains "$E" "$U:5: reqapp==9.9: no wheel of reqapp 9.9" "missing version"
assert_contains "$E" "$U:6: reqdata==0.1 ; python_version > 3: bad environment marker: expected a marker variable or a quoted string (a version needs quotes) at '3'" "malformed marker"
assert_not_contains "$E" "$U:1:" "a met line is not listed"
assert_missing "$STORE/envs/z"
assert_missing "$STORE/journal/z"
rc=0
vv_ctl create z -r "$VV_TMP/nosuch.txt" 2>"$VV_TMP/err" || rc=$?
assert_eq "$rc" 1 "exit status for a missing requirements file"
assert_contains "$(cat "$VV_TMP/err")" "requirements file '$VV_TMP/nosuch.txt'" "missing file"
assert_missing "$STORE/envs/z"
rc=0
vv_ctl create z --find-links "$W" 2>/dev/null || rc=$?
assert_eq "$rc" 2 "--find-links without -r"

# ---- add -r: into an existing env; unmet lines change nothing --------------------------------
check vv_ctl create w >/dev/null
cp "$STORE/envs/w" "$VV_TMP/w-before"
rc=0
vv_ctl add w -r "$U" --find-links "$W" >/dev/null 2>"$VV_TMP/err" || rc=$?
assert_eq "$rc" 1 "add -r with unmet lines"
assert_contains "$(cat "$VV_TMP/err")" "env 'w' is unchanged" "add -r message"
check cmp -s "$STORE/envs/w" "$VV_TMP/w-before"
check vv_ctl add w -r "$R" >"$VV_TMP/out"
assert_contains "$(cat "$VV_TMP/out")" "env 'w': installed reqapp 1.0" "add -r output"
assert_eq "$(wc -l <"$VV_TMP/out")" 7 "add -r: one line per package"
rc=0
vv_ctl add w -r "$R" "$W/reqbase-1.0-py3-none-any.whl" 2>/dev/null || rc=$?
assert_eq "$rc" 2 "add with both wheels and -r"

# ---- environment markers: a poetry-export-style file ------------------------------------------
HB=$(vv_sha256 "$W/reqbase-1.0-py3-none-any.whl")
Z64=0000000000000000000000000000000000000000000000000000000000000000
M=$VV_TMP/poetry.txt
cat >"$M" <<EOF
reqbase==1.0 ; python_version >= "3.6" and python_version < "4.0" \\
    --hash=sha256:$HB
reqbase==0.9 ; python_version < "3" \\
    --hash=sha256:$Z64
requtil==2.1 ; python_full_version >= "3.6.0" \\
    --hash=sha256:$Z64 \\
    --hash=sha256:$HASH
    # via reqcore
reqcore==0.3 ; sys_platform == "linux" and os_name == "posix" and extra != "dev"
req.mixed-name==1.2.3 ; (platform_machine == "$(uname -m)" or platform_machine == "x") and implementation_name == "cpython"
reqdata==0.1 ; python_version < "3.6" or platform_system == "Windows"
reqextra==4.0 ; platform_system == "Windows" \\
    --hash=sha256:$Z64
nothere==9.9 ; sys_platform == 'win32'
EOF
check vv_ctl create m -r "$M" --find-links "$W" >"$VV_TMP/out" 2>"$VV_TMP/err"
O=$(cat "$VV_TMP/out")
assert_contains "$O" "created env 'm'" "create -r with markers"
assert_contains "$O" "4 packages from $M" "the lines whose marker holds"
assert_contains "$O" "env 'm': $M:3: skipped reqbase==0.9 (marker python_version < \"3\" is false)" "skipped line"
assert_contains "$O" "env 'm': $M:11: skipped reqdata==0.1 (marker python_version < \"3.6\" or platform_system == \"Windows\" is false)" \
	"skipped line"
assert_contains "$O" "env 'm': $M:12: skipped reqextra==4.0 (marker platform_system == \"Windows\" is false)" "skipped line with a hash"
assert_contains "$O" "env 'm': $M:14: skipped nothere==9.9 (marker sys_platform == 'win32' is false)" "skipped line without a wheel"
assert_eq "$(grep -c skipped <<<"$O")" 4 "four skipped lines"
assert_eq "$(cat "$VV_TMP/err")" "" "stderr of create -r with markers"
F=$(vv_ctl freeze m)
for p in reqbase==1.0 requtil==2.1 reqcore==0.3 Req.Mixed_Name==1.2.3; do
	assert_contains "$F" "$p" "freeze of m"
done
assert_not_contains "$F" "reqdata" "a skipped line is not installed"
assert_not_contains "$F" "reqextra" "a skipped line is not installed"
# add -r: the same lines installed, the same ones skipped
check vv_ctl create n >/dev/null
check vv_ctl add n -r "$M" >"$VV_TMP/out"
O=$(cat "$VV_TMP/out")
assert_contains "$O" "env 'n': installed requtil 2.1" "add -r with markers"
assert_contains "$O" "env 'n': $M:14: skipped nothere==9.9 (marker sys_platform == 'win32' is false)" "add -r skipped line"
assert_eq "$(grep -c installed <<<"$O")" 4 "add -r: the lines whose marker holds"

# a malformed marker: an error naming the file and the line; nothing created or changed
B=$VV_TMP/badmarker.txt
cat >"$B" <<EOF
reqbase==1.0 ; python_version >= "3.6"
requtil==2.1 ; python_version >= "3.6" \\
    and platform_machine === \\
    --hash=sha256:$HASH
reqcore==0.3 ; os_name = "posix"
EOF
rc=0
vv_ctl create b -r "$B" --find-links "$W" >"$VV_TMP/out" 2>"$VV_TMP/err" || rc=$?
assert_eq "$rc" 1 "exit status for a malformed marker"
E=$(cat "$VV_TMP/err")
assert_contains "$E" "$B: 2 of 3 requirements cannot be met" "malformed markers summary"
L2="requtil==2.1 ; python_version >= \"3.6\"     and platform_machine ===     --hash=sha256:$HASH"
assert_contains "$E" "$B:2: $L2: bad environment marker: expected a marker variable or a quoted string at '--hash=sha256:" \
	"malformed marker over continuation lines"
assert_contains "$E" "$B:5: reqcore==0.3 ; os_name = \"posix\": bad environment marker: unknown operator at '= \"posix\"'" "malformed marker: its line"
assert_not_contains "$E" "$B:1:" "a good line is not listed"
assert_missing "$STORE/envs/b"
cp "$STORE/envs/n" "$VV_TMP/n-before"
rc=0
vv_ctl add n -r "$B" >/dev/null 2>"$VV_TMP/err" || rc=$?
assert_eq "$rc" 1 "add -r with a malformed marker"
assert_contains "$(cat "$VV_TMP/err")" "$B:5: reqcore==0.3" "add -r: the malformed line"
check cmp -s "$STORE/envs/n" "$VV_TMP/n-before"

# ---- a progress bar on a terminal -------------------------------------------------------------
S2=$VV_TMP/store2
script -qec "$(vv_quote "$VENVCTL") --store $(vv_quote "$S2") create t -r $(vv_quote "$R") \
	--find-links $(vv_quote "$W")" "$VV_TMP/typescript" >/dev/null </dev/null ||
	fail "create -r under a terminal failed: $(cat "$VV_TMP/typescript")"
assert_contains "$(cat "$VV_TMP/typescript")" "create ingesting [" "progress bar on a terminal"
assert_contains "$(cat "$VV_TMP/typescript")" "7/7" "progress bar total"

# ---- mounted: everything imports, scripts run, pip is content ---------------------------------
vv_mount
for e in x y w; do
	P=$MNT/$e/bin/python
	for m in $MODS; do
		check "$P" -c "import $m"
	done
	assert_eq "$("$MNT/$e/bin/pip" check)" "No broken requirements found." "pip check in $e"
	assert_eq "$("$MNT/$e/bin/reqapp")" "reqapp 1.0 requtil 2.1" "console script in $e"
	assert_eq "$("$MNT/$e/bin/reqbase-hello")" "reqbase 1.0" "reqbase-hello in $e"
	check "$MNT/$e/bin/reqdata-tool" >/dev/null
	assert_eq "$(head -n 1 "$MNT/$e/bin/reqapp")" "#!$MNT/$e/bin/python" "shebang in $e"
	list=$("$MNT/$e/bin/pip" list --format=freeze 2>/dev/null)
	for p in reqapp==1.0 reqbase==1.0 requtil==2.1 reqcore==0.3 Req.Mixed_Name==1.2.3 \
		reqdata==0.1 reqextra==4.0; do
		assert_contains "$list" "$p" "pip list in $e"
	done
	assert_eq "$(cat "$MNT/$e/$VV_SITE/reqapp-1.0.dist-info/INSTALLER")" venvctl "INSTALLER"
done
# the env of the poetry-export-style file: the lines whose marker holds, nothing else
for m in reqbase requtil reqcore req_mixed_name; do
	check "$MNT/m/bin/python" -c "import $m"
done
assert_eq "$("$MNT/m/bin/python" -c 'import reqbase; print(reqbase.__version__)')" 1.0 "reqbase in m"
check_fail "$MNT/m/bin/python" -c "import reqdata" 2>/dev/null
# pip uninstalls what -r put in, in one env only
check "$MNT/y/bin/pip" uninstall -q -y reqapp
assert_missing "$MNT/y/bin/reqapp"
assert_missing "$MNT/y/$VV_SITE/reqapp"
assert_file "$MNT/x/$VV_SITE/reqapp/__init__.py"
assert_eq "$("$MNT/x/bin/reqapp")" "reqapp 1.0 requtil 2.1" "x keeps reqapp"
vv_umount
check vv_ctl fsck -q
