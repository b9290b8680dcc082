#!/bin/bash
# matrix.sh - every CPython 3.8-3.13 found on the machine (one per minor version): create
# an env for it with `venvctl create --python X.Y` while the store is mounted (the mount
# shows it at once), activate it in bash, pip install a wheel with a console script, run
# the script, rename the env and run it again.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

W=$VV_TMP/wheels
vv_mkwheels "$W"
vv_mount

vv_ctl python list --json >"$VV_TMP/py.json" || fail "venvctl python list failed"
mapfile -t versions < <(python3 - "$VV_TMP/py.json" <<'PY'
import json, sys
seen = set()
for p in json.load(open(sys.argv[1]))["pythons"]:
    v = (p["major"], p["minor"])
    if v not in seen and (3, 8) <= v <= (3, 13):
        seen.add(v)
        print("%d.%d" % v)
PY
)
((${#versions[@]} > 0)) || fail "no CPython 3.8-3.13 found"
vv_note "interpreters: ${versions[*]}"

for v in "${versions[@]}"; do
	name=m$v
	check vv_ctl create --python "$v" "$name"
	E=$MNT/$name
	vv_wait_for 10 test -x "$E/bin/python" || fail "env $name made by venvctl not shown"
	out=$("$E/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2], sys.prefix)')
	assert_eq "$out" "$v $E" "interpreter and prefix of $name"
	# shellcheck disable=SC2016
	out=$(env -i PATH="$PATH" HOME="$HOME" PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
		E="$E" W="$W" bash --norc -c '
		PS1="$ "; . "$E/bin/activate" || exit 1
		[ "$(command -v python)" = "$E/bin/python" ] || { echo "python is $(command -v python)"; exit 1; }
		pip install -q --find-links "$W" demoapp >&2 || exit 1
		demo || exit 1
		echo "$PS1"
		deactivate
		[ -z "${VIRTUAL_ENV:-}" ] || exit 1') || fail "activate + pip install + demo in $name: $out"
	assert_contains "$out" "demoapp 1.0 demolib 2.0" "demo in $name"
	assert_contains "$out" "($name) \$ " "prompt in $name"
	check mv "$E" "$MNT/$name-renamed"
	out=$("$MNT/$name-renamed/bin/demo") || fail "demo after renaming $name"
	assert_eq "$out" "demoapp 1.0 demolib 2.0" "demo after renaming $name"
	assert_eq "$(head -n 1 "$MNT/$name-renamed/bin/demo")" "#!$MNT/$name-renamed/bin/python" \
		"shebang after renaming $name"
done
vv_umount
check "$VENVCTL" --store "$STORE" fsck >/dev/null
