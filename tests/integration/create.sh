#!/bin/bash
# create.sh - `venvctl create` with venv's flags, on an unmounted store, and what the mount
# then shows: envs for two Python versions (when two are installed, found through
# `venvctl python list --json`), --without-pip, --system-site-packages, --prompt (also
# "."), --clear dropping an installed package, --upgrade-deps giving the newest pip wheel
# on offer while keeping packages, --upgrade to a newer patch release of the same X.Y
# (when two are installed), and one-line errors for bad names, flags and versions.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# expect_error RC WANT CMD...: CMD exits with RC and prints one line on stderr holding WANT.
expect_error() {
	local want_rc=$1 want=$2 rc=0 err lines
	shift 2
	"$@" >"$VV_TMP/out" 2>"$VV_TMP/err" </dev/null || rc=$?
	err=$(cat "$VV_TMP/err")
	assert_eq "$rc" "$want_rc" "exit status of $(vv_quote "$@") (stderr: $err)"
	lines=$(grep -c . "$VV_TMP/err" || true)
	((lines == 1)) || fail "expected one line on stderr, got $lines: $(vv_quote "$@"):
$err"
	assert_contains "$err" "$want" "error message of $(vv_quote "$@")"
}

cfg_val() { sed -n "s/^$2 = //p" "$1"; }

W=$VV_TMP/wheels
vv_mkwheels "$W"

# ---- the interpreters on offer ---------------------------------------------------------
check vv_ctl python list --json >"$VV_TMP/py.json"
check vv_ctl python list >"$VV_TMP/py.txt"
assert_eq "$(vv_json "$VV_TMP/py.json" 'j["default"]')" "$VV_PYREAL" "default interpreter"
grep -q "^\* .* $VV_PYREAL " "$VV_TMP/py.txt" ||
	fail "python list does not mark $VV_PYREAL as the default: $(cat "$VV_TMP/py.txt")"

# One line per X.Y (the newest of each, as --python X.Y picks it): X.Y VERSION EXE HOME;
# the default's X.Y first. Then the patch pair for --upgrade, if any: OLD NEW EXE.
python3 - "$VV_TMP/py.json" "$VV_PYVER" >"$VV_TMP/minors" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
seen = {}
for p in j["pythons"]:
    seen.setdefault("%d.%d" % (p["major"], p["minor"]), p)
order = [sys.argv[2]] + [k for k in seen if k != sys.argv[2]]
for k in order:
    if k in seen:
        p = seen[k]
        print(k, p["version"], p["executable"], p["home"])
EOF
mapfile -t MINORS <"$VV_TMP/minors"
((${#MINORS[@]} >= 1)) || fail "python list --json found nothing"
read -r XY1 VER1 EXE1 HOME1 <<<"${MINORS[0]}"
assert_eq "$XY1" "$VV_PYVER" "first X.Y"
if ((${#MINORS[@]} >= 2)); then
	# The oldest other X.Y: the furthest from the default.
	read -r XY2 VER2 EXE2 HOME2 <<<"${MINORS[${#MINORS[@]} - 1]}"
else
	XY2=
	vv_note "only one Python X.Y installed: second-version checks skipped"
fi
PAIR=$(python3 - "$VV_TMP/py.json" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
by = {}
for p in j["pythons"]:
    by.setdefault((p["major"], p["minor"]), []).append(p)
for k in sorted(by, reverse=True):
    v = by[k]
    if len(v) >= 2 and v[0]["version"] != v[-1]["version"]:
        print(v[-1]["version"], v[0]["version"], v[0]["executable"], "%d.%d" % k)
        break
EOF
)

# The newest pip wheel on offer that runs on the default Python (Requires-Python >=X.Y).
NEWPIP=$(python3 - "$VV_TMP/py.json" <<'EOF'
import glob, json, re, sys, zipfile
j = json.load(open(sys.argv[1]))
wheels = {p["pip_wheel"] for p in j["pythons"] if p["pip_wheel"]}
wheels |= set(glob.glob("/usr/share/python-wheels/pip-*.whl"))
def ver(w):
    return tuple(int(x) for x in re.match(r"pip-([0-9.]+)-", w.rsplit("/", 1)[1]).group(1).split(".") if x)
def ok(w):
    z = zipfile.ZipFile(w)
    meta = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")][0]
    for line in z.read(meta).decode().splitlines():
        if line.startswith("Requires-Python:"):
            for c in line.split(":", 1)[1].split(","):
                m = re.fullmatch(r"\s*>=\s*(\d+)\.(\d+)\s*", c)
                if m and sys.version_info[:2] < (int(m.group(1)), int(m.group(2))):
                    return False
        if not line:
            break
    return True
print(".".join(map(str, max((ver(w) for w in wheels if ok(w)), default=()))))
EOF
)
[[ -n $NEWPIP ]] || fail "no pip wheel found for the default Python"

# ---- create without a mount ---------------------------------------------------------------
check vv_ctl create --python "$XY1" e1 >"$VV_TMP/out"
assert_contains "$(cat "$VV_TMP/out")" "created env 'e1'" "create output"
[[ -z $XY2 ]] || check vv_ctl create --python "python$XY2" e2 >/dev/null
check vv_ctl create --without-pip np >/dev/null
check vv_ctl create --system-site-packages ss >/dev/null
check vv_ctl create --prompt "my env" pr >/dev/null
mkdir -p "$VV_TMP/promptdir"
(cd "$VV_TMP/promptdir" && "$VENVCTL" --store "$STORE" create --prompt . dot) >/dev/null ||
	fail "create --prompt . failed"
check vv_ctl create cl ud >/dev/null
if [[ -n $PAIR ]]; then
	read -r OLDV NEWV NEWEXE PAIRXY <<<"$PAIR"
	check vv_ctl create --python "$OLDV" up >/dev/null
else
	vv_note "no two patch releases of one Python X.Y installed: --upgrade checks skipped"
fi
check vv_ctl fsck -q

# ---- errors: one line each, nothing changed ---------------------------------------------
before=$(cat "$STORE/envs/e1")
expect_error 1 "'e1' exists; use --clear or --upgrade" "$VENVCTL" --store "$STORE" create e1
expect_error 2 "'.venvfs-x'" "$VENVCTL" --store "$STORE" create .venvfs-x
expect_error 2 "'a/b'" "$VENVCTL" --store "$STORE" create a/b
expect_error 2 "--frobnicate" "$VENVCTL" --store "$STORE" create --frobnicate x1
expect_error 2 "--python" "$VENVCTL" --store "$STORE" create x1 --python
expect_error 2 "no env name" "$VENVCTL" --store "$STORE" create --clear
expect_error 2 "--clear and --upgrade" "$VENVCTL" --store "$STORE" create --clear --upgrade e1
expect_error 2 "--without-pip and --upgrade-deps" \
	"$VENVCTL" --store "$STORE" create --without-pip --upgrade-deps x1
expect_error 1 "'3.99'" "$VENVCTL" --store "$STORE" create --python 3.99 x1
expect_error 1 "no-such-python-cmd" "$VENVCTL" --store "$STORE" create --python no-such-python-cmd x1
expect_error 1 "$VV_TMP/nope/python3" "$VENVCTL" --store "$STORE" create --python "$VV_TMP/nope/python3" x1
if [[ -n $XY2 ]]; then
	expect_error 1 "--upgrade keeps the env's Python $XY1" \
		"$VENVCTL" --store "$STORE" create --upgrade --python "$XY2" e1
fi
assert_missing "$STORE/envs/x1"
assert_eq "$(cat "$STORE/envs/e1")" "$before" "envs/e1 after failed commands"
out=$("$VENVCTL" create --help) || fail "venvctl create --help failed"
for w in --python --system-site-packages --without-pip --prompt --clear --upgrade \
	--upgrade-deps NAME; do
	assert_contains "$out" "$w" "venvctl create --help"
done

# ---- what the mount shows ------------------------------------------------------------------
vv_mount

# check_env NAME X.Y VERSION EXE HOME: interpreter, pyvenv.cfg, site-packages, pip
check_env() {
	local n=$1 xy=$2 ver=$3 exe=$4 home=$5 E=$MNT/$1
	assert_eq "$("$E/bin/python" --version 2>&1)" "Python $ver" "$n: bin/python --version"
	assert_eq "$(cfg_val "$E/pyvenv.cfg" version)" "$ver" "$n: pyvenv.cfg version"
	assert_eq "$(cfg_val "$E/pyvenv.cfg" home)" "$home" "$n: pyvenv.cfg home"
	assert_eq "$(readlink -f "$E/bin/python$xy")" "$exe" "$n: bin/python$xy target"
	assert_dir "$E/lib/python$xy/site-packages"
	assert_eq "$(ls "$E/lib")" "python$xy" "$n: lib/"
	assert_eq "$("$E/bin/python" -c 'import sys; print(sys.prefix)')" "$E" "$n: sys.prefix"
}
check_env e1 "$XY1" "$VER1" "$EXE1" "$HOME1"
out=$("$MNT/e1/bin/pip" --version) || fail "e1: bin/pip --version failed"
assert_contains "$out" "(python $XY1)" "e1: pip --version"
if [[ -n $XY2 ]]; then
	check_env e2 "$XY2" "$VER2" "$EXE2" "$HOME2"
	out=$("$MNT/e2/bin/python" -m pip --version) || fail "e2: python -m pip failed"
	assert_contains "$out" "(python $XY2)" "e2: pip --version"
fi

# --without-pip
assert_missing "$MNT/np/bin/pip"
assert_missing "$MNT/np/$VV_SITE/pip"
check_fail "$MNT/np/bin/python" -c 'import pip' 2>/dev/null
assert_contains "$(cfg_val "$MNT/np/pyvenv.cfg" command)" "--without-pip" "np: pyvenv.cfg command"

# --system-site-packages
assert_eq "$(cfg_val "$MNT/ss/pyvenv.cfg" include-system-site-packages)" true \
	"ss: include-system-site-packages"
base_purelib=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
paths=$("$MNT/ss/bin/python" -c 'import sys; print("\n".join(sys.path))')
grep -qxF "$base_purelib" <<<"$paths" || fail "ss: $base_purelib not on sys.path: $paths"
paths=$("$MNT/e1/bin/python" -c 'import sys; print("\n".join(sys.path))')
if grep -qxF "$base_purelib" <<<"$paths"; then
	fail "e1: $base_purelib on sys.path without --system-site-packages"
fi

# --prompt "my env" and --prompt .
ps1() { env -i HOME="$HOME" PATH="$PATH" bash --norc -c 'PS1="base> "; . "$1/bin/activate"; printf "%s" "$PS1"' _ "$1"; }
if [[ ${VV_PYVER#3.} -ge 8 ]]; then
	assert_eq "$(cfg_val "$MNT/pr/pyvenv.cfg" prompt)" "'my env'" "pr: pyvenv.cfg prompt"
	assert_eq "$(cfg_val "$MNT/dot/pyvenv.cfg" prompt)" "'promptdir'" "dot: pyvenv.cfg prompt"
fi
assert_eq "$(ps1 "$MNT/pr")" "(my env) base> " "pr: activate's PS1"
assert_eq "$(ps1 "$MNT/dot")" "(promptdir) base> " "dot: activate's PS1"
assert_eq "$(ps1 "$MNT/e1")" "(e1) base> " "e1: activate's PS1"

# Packages to be dropped by --clear and kept by --upgrade-deps / --upgrade.
check "$MNT/cl/bin/pip" install -q --find-links "$W" 'demolib==1.0'
check "$MNT/ud/bin/pip" install -q --find-links "$W" 'demolib==1.0'
assert_dir "$MNT/cl/$VV_SITE/demolib"
oldpip=$("$MNT/ud/bin/pip" --version) || fail "ud: pip --version failed"
if [[ -n $PAIR ]]; then
	assert_eq "$("$MNT/up/bin/python" --version 2>&1)" "Python $OLDV" "up: before --upgrade"
	check "$MNT/up/bin/python" -m pip install -q --find-links "$W" 'demolib==1.0'
fi
vv_umount

# ---- --clear, --upgrade-deps, --upgrade on the unmounted store --------------------------
check vv_ctl create --clear cl >/dev/null
out=$(vv_ctl create --upgrade-deps ud) || fail "create --upgrade-deps failed"
assert_contains "$out" "pip $NEWPIP" "create --upgrade-deps output"
if [[ -n $PAIR ]]; then
	out=$(vv_ctl create --upgrade up) || fail "create --upgrade failed"
	assert_contains "$out" "to $NEWV" "create --upgrade output"
	out=$(vv_ctl create --upgrade up) || fail "second create --upgrade failed"
	assert_contains "$out" "already uses Python $NEWV" "second create --upgrade output"
fi
check vv_ctl fsck -q

vv_mount
assert_missing "$MNT/cl/$VV_SITE/demolib"
assert_dir "$MNT/cl/$VV_SITE/pip"
check_fail "$MNT/cl/bin/python" -c 'import demolib' 2>/dev/null
check "$MNT/cl/bin/pip" --version >/dev/null

out=$("$MNT/ud/bin/pip" --version) || fail "ud: pip --version failed after --upgrade-deps"
[[ $out == "pip $NEWPIP from $MNT/ud/$VV_SITE/pip "* ]] ||
	fail "ud: pip --version after --upgrade-deps: '$out' (before: '$oldpip'), want pip $NEWPIP"
assert_eq "$("$MNT/ud/bin/python" -c 'import demolib; print(demolib.__version__)')" "1.0" \
	"ud: demolib kept by --upgrade-deps"
for f in pip pip3 "pip$VV_PYVER"; do
	[[ -x $MNT/ud/bin/$f ]] || fail "ud: bin/$f missing after --upgrade-deps"
done
n=$(find "$MNT/ud/$VV_SITE" -maxdepth 1 -name 'pip-*.dist-info' | wc -l)
assert_eq "$n" 1 "ud: pip dist-info directories"
check "$MNT/ud/bin/pip" check >/dev/null

if [[ -n $PAIR ]]; then
	assert_eq "$("$MNT/up/bin/python" --version 2>&1)" "Python $NEWV" "up: after --upgrade"
	assert_eq "$(readlink -f "$MNT/up/bin/python$PAIRXY")" "$NEWEXE" "up: interpreter"
	assert_eq "$(cfg_val "$MNT/up/pyvenv.cfg" version)" "$NEWV" "up: pyvenv.cfg version"
	assert_eq "$("$MNT/up/bin/python" -c 'import demolib; print(demolib.__version__)')" "1.0" \
		"up: demolib kept by --upgrade"
fi
vv_umount

# ---- the default python3 through a pyenv shim: read from pyenv's files, not run ----------
# A pyenv shim is a bash script (`pyenv exec`), and so is every pyenv command. With a
# `bash` first on PATH that leaves a mark, `create` through the shim (the default python3,
# and --python X.Y) must leave none and get the interpreter running the shim gives; the
# shim itself, run with the same PATH, leaves the mark, so the check can fail. Skipped
# only where pyenv is not installed.
PYENV=$(command -v pyenv || true)
if [[ -z $PYENV && -x ${PYENV_ROOT:-$HOME/.pyenv}/bin/pyenv ]]; then
	PYENV=${PYENV_ROOT:-$HOME/.pyenv}/bin/pyenv
fi
if [[ -z $PYENV ]]; then
	vv_note "pyenv is not installed: the pyenv shim check is skipped"
else
	PROOT=$("$PYENV" root)
	SHIM=$PROOT/shims/python3
	[[ -x $SHIM ]] || fail "pyenv ($PYENV) has no python3 shim: $SHIM"
	WRAP=$VV_TMP/wrapbin RAN=$VV_TMP/bash-ran
	mkdir "$WRAP"
	printf '#!/bin/sh\necho "$*" >>"%s"\nexec "%s" "$@"\n' "$RAN" "$(command -v bash)" \
		>"$WRAP/bash"
	chmod +x "$WRAP/bash"
	# A shell where pyenv is set up, without what `pyenv exec` leaves in the environment.
	shim_env() (
		unset PYENV_VERSION PYENV_DIR PYENV_HOOK_PATH BASH_ENV "${!_PYENV_SHIM_PATH@}"
		cd "$VV_TMP"
		PATH="$WRAP:$PROOT/shims:/usr/bin:/bin" "$@"
	)
	read -r want wantxy < <(shim_env "$SHIM" -c \
		'import os, sys; print(os.path.realpath(sys.executable), "%d.%d" % sys.version_info[:2])')
	[[ -n $want && -s $RAN ]] || fail "running $SHIM did not run the bash on PATH"
	rm "$RAN"
	out=$(shim_env "$VENVCTL" --store "$STORE" create shimenv) ||
		fail "create through the pyenv shim failed: $out"
	assert_contains "$out" "($want)" "create through the pyenv shim: the interpreter"
	[[ ! -e $RAN ]] || fail "create through the pyenv shim ran bash: $(cat "$RAN")"
	out=$(shim_env "$VENVCTL" --store "$STORE" create --python "$wantxy" shimxy) ||
		fail "create --python $wantxy with pyenv's shims on PATH failed: $out"
	assert_contains "$out" "Python $wantxy." "create --python $wantxy: the interpreter"
	[[ ! -e $RAN ]] || fail "create --python $wantxy ran bash: $(cat "$RAN")"
	assert_eq "$(cfg_val "$STORE/envs/shimenv" python)" "$want" "envs/shimenv interpreter"
fi
