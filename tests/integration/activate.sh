#!/bin/bash
# activate.sh - bin/activate behaves like CPython's: prompt prefix, PATH, VIRTUAL_ENV,
# and deactivate restores everything exactly; also for an env whose name has a space
# and under `set -u`; with zsh too when it is installed.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vv_mount
check mkdir "$MNT/web"
check mkdir "$MNT/my env"

# The script run inside a clean shell; prints one KEY=VALUE per line.
# shellcheck disable=SC2016 # expanded by the inner shell
probe='
PS1="base> "
orig_path=$PATH
orig_ps1=$PS1
. "$E/bin/activate" || { echo "activate-failed=$?"; exit 10; }
echo "PS1=$PS1"
echo "VIRTUAL_ENV=$VIRTUAL_ENV"
echo "which=$(command -v python)"
echo "pip=$(command -v pip)"
echo "prefix=$(python -c "import sys; print(sys.prefix)")"
case ":$PATH:" in ":$E/bin:"*) echo "path-first=yes" ;; *) echo "path-first=no" ;; esac
deactivate
[ "$PATH" = "$orig_path" ] && echo "path-restored=yes"
[ "$PS1" = "$orig_ps1" ] && echo "ps1-restored=yes"
[ -z "${VIRTUAL_ENV+x}" ] && echo "venv-unset=yes"
[ -z "${VIRTUAL_ENV_PROMPT+x}" ] && echo "prompt-unset=yes"
case "$(type deactivate 2>/dev/null)" in *function*) ;; *) echo "deactivate-gone=yes" ;; esac
echo "which-after=$(command -v python3 || true)"
'

run_probe() { # SHELL-COMMAND... (E is passed in the environment)
	env -i HOME="$HOME" PATH="$PATH" TERM=dumb E="$E" "$@" -c "$probe"
}

check_probe() { # NAME OUTPUT
	local name=$1 out=$2
	assert_contains "$out" "PS1=($name) base> " "prompt of $name"
	assert_contains "$out" "VIRTUAL_ENV=$E"$'\n' "VIRTUAL_ENV of $name"
	assert_contains "$out" "which=$E/bin/python"$'\n' "python on PATH in $name"
	assert_contains "$out" "pip=$E/bin/pip"$'\n' "pip on PATH in $name"
	assert_contains "$out" "prefix=$E"$'\n' "sys.prefix in $name"
	assert_contains "$out" "path-first=yes" "env bin first on PATH in $name"
	assert_contains "$out" "path-restored=yes" "PATH restored after deactivate in $name"
	assert_contains "$out" "ps1-restored=yes" "PS1 restored after deactivate in $name"
	assert_contains "$out" "venv-unset=yes" "VIRTUAL_ENV unset after deactivate in $name"
	assert_contains "$out" "prompt-unset=yes" "VIRTUAL_ENV_PROMPT unset after deactivate in $name"
	assert_contains "$out" "deactivate-gone=yes" "deactivate removed in $name"
	assert_not_contains "$out" "which-after=$E" "python after deactivate in $name"
}

for name in web "my env"; do
	E=$MNT/$name
	out=$(run_probe bash --norc --noprofile) || fail "bash probe failed for '$name': $out"
	check_probe "$name" "$out"
	# CPython's activate works under nounset; so must ours.
	out=$(run_probe bash --norc --noprofile -u) || fail "bash -u probe failed for '$name': $out"
	check_probe "$name" "$out"
	out=$(run_probe sh) || fail "sh probe failed for '$name': $out"
	check_probe "$name" "$out"
	if command -v zsh >/dev/null; then
		out=$(run_probe zsh -f) || fail "zsh probe failed for '$name': $out"
		check_probe "$name" "$out"
	fi
done

# VIRTUAL_ENV_DISABLE_PROMPT leaves PS1 alone.
E=$MNT/web
# shellcheck disable=SC2016
out=$(env -i PATH="$PATH" E="$E" VIRTUAL_ENV_DISABLE_PROMPT=1 bash --norc -c \
	'PS1="base> "; . "$E/bin/activate"; echo "PS1=$PS1"')
assert_eq "$out" "PS1=base> " "prompt with VIRTUAL_ENV_DISABLE_PROMPT"

vv_umount
