#!/bin/bash
# freeze.sh - `venvctl freeze [--all] NAME` prints exactly what `pip freeze` prints in the
# mounted env: several packages with mixed-case and dotted names, one installed from a
# wheel file (PEP 610 `name @ file://...#sha256=`), wheel and setuptools (left out
# below Python 3.12 and by pips before 23.1, listed by --all), for every interpreter
# generation present (pip before and after 23.1, Python before and from 3.12); also
# unmounted, and errors.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
VV_TEST_TIMEOUT=${VV_TEST_TIMEOUT:-400}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

W=$VV_TMP/wheels
M=$VV_LIB_DIR/mkwheel.py
python3 "$M" "$W" MixedCase-Pkg 1.0 >/dev/null
python3 "$M" "$W" zeta_lib 2.1 >/dev/null
python3 "$M" "$W" Alpha.Beta 0.5 >/dev/null
python3 "$M" "$W" aardvark 3.0 >/dev/null
SYSW=/usr/share/python-wheels
wheel_whl=$(ls "$SYSW"/wheel-*.whl 2>/dev/null | head -n 1 || true)
st_whl=$(ls "$SYSW"/setuptools-*.whl 2>/dev/null | head -n 1 || true)

# one env per interpreter generation found: the default, 3.10 (pip 23.0), 3.12
envs=(fz)
check vv_ctl create fz >/dev/null
for v in 3.10 3.12; do
	if vv_ctl create --python "$v" "fz$v" >/dev/null 2>&1; then
		envs+=("fz$v")
	else
		vv_note "no Python $v: not tested"
	fi
done

vv_mount
for e in "${envs[@]}"; do
	E=$MNT/$e
	check "$E/bin/pip" install -q --find-links "$W" MixedCase-Pkg zeta_lib Alpha.Beta
	check "$E/bin/pip" install -q "$W/aardvark-3.0-py3-none-any.whl"
	for w in "$wheel_whl" "$st_whl"; do
		[[ -z $w ]] || check "$E/bin/pip" install -q "$w"
	done
	check vv_commit "$e"
done
for e in "${envs[@]}"; do
	vv_wait_for 10 bash -c '[[ $(grep -a -c -v -E "^(venvfs-journal|b) " "$1" 2>/dev/null) -eq 0 ]]' _ \
		"$STORE/journal/$e" || fail "journal of '$e' not committed"
	E=$MNT/$e
	want=$("$E/bin/pip" freeze)
	assert_contains "$want" "MixedCase-Pkg==1.0" "pip freeze in $e"
	assert_contains "$want" "aardvark @ file://" "pip freeze in $e"
	assert_eq "$(vv_ctl freeze "$e")" "$want" "venvctl freeze $e"
	wantall=$("$E/bin/pip" freeze --all)
	[[ $wantall != "$want" ]] || fail "pip freeze --all in $e lists nothing more"
	assert_eq "$(vv_ctl freeze --all "$e")" "$wantall" "venvctl freeze --all $e"
	echo "$want" >"$VV_TMP/$e.freeze"
done
vv_umount
for e in "${envs[@]}"; do
	assert_eq "$(vv_ctl freeze "$e")" "$(cat "$VV_TMP/$e.freeze")" "venvctl freeze $e unmounted"
done

# an env without packages prints nothing; errors
check vv_ctl create --without-pip empty >/dev/null
assert_eq "$(vv_ctl freeze --all empty)" "" "freeze of an empty env"
rc=0
vv_ctl freeze nosuch 2>"$VV_TMP/err" || rc=$?
assert_eq "$rc" 1 "exit status for a missing env"
assert_contains "$(cat "$VV_TMP/err")" "no env named 'nosuch'" "message for a missing env"
for args in "" "--bogus fz" "fz fz"; do
	rc=0
	# shellcheck disable=SC2086 # split on purpose
	vv_ctl freeze $args 2>/dev/null || rc=$?
	assert_eq "$rc" 2 "exit status of freeze $args"
done
