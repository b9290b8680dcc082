#!/bin/bash
# cfgkeys.sh - pyvenv.cfg keeps what a tool wrote: Debian's virtualenv run over an env
# made by mkdir leaves its own keys (virtualenv, implementation, version_info,
# base-prefix, ...) and no `-m venv` command, while home/executable/version stay the
# env's own; the keys survive a remount and a rename, the live values follow the rename;
# a custom key appended with printf survives a remount; a write beyond the bounds fails
# at close with EINVAL and loses nothing already kept.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# value of KEY in pyvenv.cfg file F (first match)
cfg_get() { sed -n "s/^$2 = //p" "$1" | head -n 1; }

# An interpreter that has virtualenv (Debian's python3-virtualenv is for /usr/bin);
# without one the test writes virtualenv's keys itself, so it never skips.
VENV_PY=
for p in python3 /usr/bin/python3; do
	if "$p" -m virtualenv --version >/dev/null 2>&1; then
		VENV_PY=$p
		break
	fi
done
vv_mount

# ---- virtualenv over an env made by mkdir ------------------------------------------------
E=$MNT/ve
check mkdir "$E"
if [[ -n $VENV_PY ]]; then
	out=$(cd "$VV_TMP" && "$VENV_PY" -m virtualenv --no-seed --no-download \
		--no-periodic-update "$E" 2>&1) || fail "virtualenv over an existing env failed: $out"
	vver=$("$VENV_PY" -c 'import virtualenv; print(virtualenv.__version__)')
else
	# no virtualenv here: rewrite pyvenv.cfg as virtualenv 20.x does (open 'w', all keys)
	vv_note "no python3 with the virtualenv module: writing its pyvenv.cfg keys instead"
	vver=20.17.1
	check python3 - "$E/pyvenv.cfg" "$vver" <<'PY'
import sys
path, ver = sys.argv[1], sys.argv[2]
home = [l.split(" = ", 1)[1] for l in open(path).read().splitlines() if l.startswith("home = ")][0]
v = sys.version_info
keys = {"home": home, "implementation": "CPython",
        "version_info": "%d.%d.%d.%s.%d" % (v.major, v.minor, v.micro, v.releaselevel, v.serial),
        "virtualenv": ver, "include-system-site-packages": "false",
        "base-prefix": sys.base_prefix, "base-exec-prefix": sys.base_exec_prefix,
        "base-executable": sys._base_executable}
with open(path, "w") as f:
    for k, val in keys.items():
        f.write("%s = %s\n" % (k, val))
PY
fi
cfg=$(cat "$E/pyvenv.cfg")
vv_note "pyvenv.cfg after virtualenv:"$'\n'"$cfg"
for k in virtualenv implementation version_info base-prefix base-exec-prefix base-executable; do
	[[ -n $(cfg_get "$E/pyvenv.cfg" "$k") ]] || fail "pyvenv.cfg lost '$k': $cfg"
done
assert_not_contains "$cfg" "-m venv" "pyvenv.cfg after virtualenv"
assert_eq "$(cfg_get "$E/pyvenv.cfg" virtualenv)" "$vver" "virtualenv = key"
home=$(cfg_get "$E/pyvenv.cfg" home)
[[ -x $home/python3 ]] || fail "home '$home' has no python3"
exe=$(cfg_get "$E/pyvenv.cfg" executable)
[[ -z $exe || -x $exe ]] || fail "executable '$exe' is not an interpreter"
out=$("$E/bin/python" -c 'import sys; print(sys.prefix)')
assert_eq "$out" "$E" "sys.prefix of the virtualenv env"
# virtualenv's own check that this is its env
out=$(cd "$VV_TMP" && "$E/bin/python" -c '
import sys, configparser
with open(sys.prefix + "/pyvenv.cfg") as f:
    text = f.read()
print(dict(l.split(" = ", 1) for l in text.splitlines())["virtualenv"])')
assert_eq "$out" "$vver" "virtualenv key read by the env's python"
vv_commit ve
before=$(cat "$E/pyvenv.cfg")

# ---- remount and rename --------------------------------------------------------------------
vv_umount
vv_mount
assert_eq "$(cat "$E/pyvenv.cfg")" "$before" "pyvenv.cfg after a remount"
check mv "$E" "$MNT/ve2"
E=$MNT/ve2
after=$(cat "$E/pyvenv.cfg")
for k in virtualenv implementation version_info base-prefix base-exec-prefix base-executable; do
	assert_eq "$(cfg_get "$E/pyvenv.cfg" "$k")" "$(sed -n "s/^$k = //p" <<<"$before" | head -n 1)" \
		"'$k' after a rename"
done
assert_eq "$(cfg_get "$E/pyvenv.cfg" home)" "$home" "home after a rename"
out=$("$E/bin/python" -c 'import sys; print(sys.prefix)')
assert_eq "$out" "$E" "sys.prefix after a rename"
assert_contains "$(cat "$E/bin/activate")" "$E" "activate after a rename"
vv_umount
vv_mount
assert_eq "$(cat "$E/pyvenv.cfg")" "$after" "pyvenv.cfg after rename and remount"

# ---- a custom key appended by hand ----------------------------------------------------------
P=$MNT/plain
check mkdir "$P"
printf 'x-tool = 1\n' >>"$P/pyvenv.cfg"
grep -qx 'x-tool = 1' "$P/pyvenv.cfg" || fail "appended key not shown: $(cat "$P/pyvenv.cfg")"
cmd=$(cfg_get "$P/pyvenv.cfg" command)
[[ -z $cmd || $cmd == *" -m venv $P" ]] || fail "generated command changed: $cmd"
vv_commit plain
vv_umount
vv_mount
grep -qx 'x-tool = 1' "$P/pyvenv.cfg" || fail "appended key lost on remount"
check mv "$P" "$MNT/plain2"
P=$MNT/plain2
grep -qx 'x-tool = 1' "$P/pyvenv.cfg" || fail "appended key lost on rename"
cmd=$(cfg_get "$P/pyvenv.cfg" command)
[[ -z $cmd || $cmd == *" -m venv $P" ]] || fail "generated command does not follow: $cmd"

# ---- bounds: a write beyond them fails at close and changes nothing -------------------------
before=$(cat "$P/pyvenv.cfg")
err=$(python3 - "$P/pyvenv.cfg" 2>&1 <<'PY'
import errno, sys
text = open(sys.argv[1]).read()
for extra in ["big = " + "x" * 2000 + "\n",
              "".join("k%d = %d\n" % (i, i) for i in range(100)),
              "ctl = a\x01b\n"]:
    try:
        with open(sys.argv[1], "w") as f:
            f.write(text + extra)
    except OSError as e:
        if e.errno != errno.EINVAL:
            sys.exit("errno %d" % e.errno)
        continue
    sys.exit("accepted: " + extra[:20])
PY
)
[[ -z $err ]] || fail "over-bound writes: $err"
assert_eq "$(cat "$P/pyvenv.cfg")" "$before" "pyvenv.cfg after refused writes"
grep -q "at most 1024\|more than 64\|control character" "$VV_LOG" ||
	fail "refusals not explained in the daemon log"
vv_umount
