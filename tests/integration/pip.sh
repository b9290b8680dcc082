#!/bin/bash
# pip.sh - pip works inside a mounted env: install with dependencies and console
# scripts, upgrade, freeze, compileall, uninstall; Debian's setuptools/wheel wheels when
# present; `requests` from $VV_CORPUS (a directory of wheels) when set.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

W=$VV_TMP/wheels
vv_mkwheels "$W"

vv_mount
check mkdir "$MNT/web"
E=$MNT/web
SP=$E/$VV_SITE
pip() { "$E/bin/pip" "$@"; }
py() { "$E/bin/python" "$@"; }

# ---- install with a dependency and console scripts ------------------------------------
check pip install -q --find-links "$W" demoapp 'demolib==1.0'
out=$(py -c 'import demoapp, demolib; print(demoapp.__version__, demolib.__version__)')
assert_eq "$out" "1.0 1.0" "versions after install"
assert_dir "$SP/demoapp"
assert_dir "$SP/demoapp-1.0.dist-info"
assert_dir "$SP/demolib-1.0.dist-info"
for s in demo demo-data demolib-version; do
	assert_file "$E/bin/$s"
	[[ -x $E/bin/$s ]] || fail "bin/$s is not executable"
done
assert_eq "$(head -n 1 "$E/bin/demo")" "#!$E/bin/python" "console script shebang"
assert_eq "$(head -n 1 "$E/bin/demo-data")" "#!$E/bin/python" "data script shebang"
assert_eq "$("$E/bin/demo")" "demoapp 1.0 demolib 1.0" "bin/demo output"
assert_eq "$("$E/bin/demo-data")" "demo-data 1.0" "bin/demo-data output"
assert_eq "$("$E/bin/demolib-version")" "demolib 1.0" "bin/demolib-version output"
out=$(pip show demoapp)
assert_contains "$out" "Location: $SP" "pip show location"
check pip check

# ---- upgrade ---------------------------------------------------------------------------
check pip install -q --find-links "$W" --upgrade demolib
assert_eq "$(py -c 'import demolib; print(demolib.__version__)')" "2.0" "demolib after upgrade"
assert_missing "$SP/demolib-1.0.dist-info"
assert_dir "$SP/demolib-2.0.dist-info"
assert_file "$SP/demolib/mod_3.py" # only in 2.0
assert_eq "$("$E/bin/demo")" "demoapp 1.0 demolib 2.0" "bin/demo after upgrade"
# and back down
check pip install -q --find-links "$W" 'demolib==1.0'
assert_missing "$SP/demolib/mod_3.py"
assert_eq "$("$E/bin/demolib-version")" "demolib 1.0" "after downgrade"

freeze=$(pip freeze)
grep -qx 'demoapp==1.0' <<<"$freeze" || fail "pip freeze lacks demoapp==1.0: $freeze"
grep -qx 'demolib==1.0' <<<"$freeze" || fail "pip freeze lacks demolib==1.0: $freeze"
list=$(pip list --format=freeze)
grep -q '^pip==' <<<"$list" || fail "pip list lacks pip: $list"

# ---- bytecode ------------------------------------------------------------------------
check py -m compileall -q "$SP/demoapp" "$SP/demolib"
compgen -G "$SP/demolib/__pycache__/__init__.cpython-*.pyc" >/dev/null ||
	fail "compileall wrote no .pyc for demolib"
check py -c 'import demolib.mod_0, demolib.mod_1'
check py -m compileall -q "$SP" # all of it, pip included

# ---- reinstall keeps working -----------------------------------------------------------
check pip install -q --find-links "$W" --force-reinstall --no-deps demoapp
assert_eq "$("$E/bin/demo")" "demoapp 1.0 demolib 1.0" "bin/demo after reinstall"

# ---- uninstall ---------------------------------------------------------------------------
check pip uninstall -q -y demoapp demolib
for p in demoapp demolib demoapp-1.0.dist-info demolib-1.0.dist-info; do
	assert_missing "$SP/$p"
done
for s in demo demo-data demolib-version; do
	assert_missing "$E/bin/$s"
done
check_fail py -c 'import demolib' 2>/dev/null
check_fail py -c 'import demoapp' 2>/dev/null
assert_eq "$(pip freeze)" "" "pip freeze after uninstall"
# leftovers such as pip's temporary ~ directories
left=$(compgen -G "$SP/~*" || true)
assert_eq "$left" "" "leftover temporary dirs in site-packages"

# ---- real-world wheels, when the system has them ---------------------------------------------
debs=()
for name in setuptools wheel; do
	for w in /usr/share/python-wheels/"$name"-*-py3-none-any.whl; do
		[[ -f $w ]] && debs+=("$w")
	done
done
if ((${#debs[@]})); then
	check pip install -q --no-deps "${debs[@]}"
	for w in "${debs[@]}"; do
		mod=$(basename "$w")
		mod=${mod%%-*}
		check py -c "import $mod"
	done
else
	vv_note "no wheels in /usr/share/python-wheels; skipping that part"
fi

if [[ -n ${VV_CORPUS:-} ]]; then
	[[ -d $VV_CORPUS ]] || fail "VV_CORPUS=$VV_CORPUS is not a directory"
	check pip install -q --find-links "$VV_CORPUS" requests
	check py -c 'import requests; print(requests.__version__)'
	check pip check
fi

vv_umount
