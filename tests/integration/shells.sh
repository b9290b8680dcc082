#!/bin/bash
# shells.sh - the activators the mount generates work in every shell they are for:
# bash, zsh, dash and ksh source bin/activate, fish bin/activate.fish, tcsh
# bin/activate.csh. Each shell runs non-interactively, activates an env (also one whose
# name has a space), checks VIRTUAL_ENV, PATH, the prompt, that `python` is the env's
# (sys.prefix) and that a console script pip installed runs by its bare name, then
# deactivates and checks that everything is back. A missing shell is skipped with a
# note, or fails under CI=true (CI installs them all). activate_this.py is run by the
# base interpreter.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

W=$VV_TMP/wheels
check python3 "$VV_LIB_DIR/mkwheel.py" "$W" shelltool 1.0 \
	--script shelltool=shelltool:main >/dev/null

vv_mount
for name in e "my env"; do
	check mkdir "$MNT/$name"
	check "$MNT/$name/bin/pip" install -q --find-links "$W" shelltool
done

# VIRTUAL_ENV_PROMPT: the bare name from 3.13 on, "(name) " before.
minor=${VV_PYVER#*.}

# Each probe prints KEY=VALUE lines; want_probe is what they must print.
want_probe() { # ENVPATH NAME
	local vep="($2) "
	((minor < 13)) || vep=$2
	printf '%s\n' \
		"VE=$1" \
		"FIRST=$1/bin" \
		"PS1=($2) base> " \
		"VEP=$vep" \
		"PY=$1/bin/python" \
		"TOOL=$1/bin/shelltool" \
		"PREFIX=$1" \
		"RUN=shelltool 1.0" \
		"PATH_RESTORED" \
		"PS1=base> " \
		"VE=unset" \
		"VEP=unset" \
		"TOOL_AFTER=none"
}

# bash, zsh, dash, ksh (under set -eu). ksh quotes what `command -v` prints when the
# path needs it: such output is eval'd back.
# shellcheck disable=SC2016 # expanded by the inner shell
posix_probe='set -eu
PS1="base> "
orig_path=$PATH
which_() {
	w=$(command -v "$1" || :)
	case $w in "'"'"'"*|"\$'"'"'"*) eval "w=$w" ;; esac
	printf "%s\n" "$w"
}
. "$E/bin/activate"
printf "VE=%s\n" "$VIRTUAL_ENV"
printf "FIRST=%s\n" "${PATH%%:*}"
printf "PS1=%s\n" "$PS1"
printf "VEP=%s\n" "$VIRTUAL_ENV_PROMPT"
printf "PY=%s\n" "$(which_ python)"
printf "TOOL=%s\n" "$(which_ shelltool)"
printf "PREFIX=%s\n" "$(python -c "import sys; print(sys.prefix)")"
printf "RUN=%s\n" "$(shelltool)"
deactivate
if [ "$PATH" = "$orig_path" ]; then echo PATH_RESTORED; fi
printf "PS1=%s\n" "$PS1"
printf "VE=%s\n" "${VIRTUAL_ENV-unset}"
printf "VEP=%s\n" "${VIRTUAL_ENV_PROMPT-unset}"
case $(type deactivate 2>/dev/null || :) in *function*) echo STILL_DEFINED ;; esac
w=$(command -v shelltool || :)
printf "TOOL_AFTER=%s\n" "${w:-none}"
'

# fish: the prompt is what fish_prompt prints, colours stripped.
# shellcheck disable=SC2016
fish_probe='function fish_prompt; printf "base> "; end
set -g esc "\e[\[(][0-9;]*[A-Za-z]?"
set -g orig_path (string join : $PATH)
source "$E/bin/activate.fish"; or exit 9
printf "VE=%s\n" "$VIRTUAL_ENV"
printf "FIRST=%s\n" $PATH[1]
printf "PS1=%s\n" (fish_prompt | string replace -ra $esc "")
printf "VEP=%s\n" "$VIRTUAL_ENV_PROMPT"
printf "PY=%s\n" (command -s python)
printf "TOOL=%s\n" (command -s shelltool)
printf "PREFIX=%s\n" (python -c "import sys; print(sys.prefix)")
printf "RUN=%s\n" (shelltool)
deactivate
if test (string join : $PATH) = "$orig_path"; echo PATH_RESTORED; end
printf "PS1=%s\n" (fish_prompt | string replace -ra $esc "")
if set -q VIRTUAL_ENV; echo VE=set; else; echo VE=unset; end
if set -q VIRTUAL_ENV_PROMPT; echo VEP=set; else; echo VEP=unset; end
if functions -q deactivate; echo STILL_DEFINED; end
if command -sq shelltool; echo TOOL_AFTER=found; else; echo TOOL_AFTER=none; end
'

# tcsh: a non-interactive shell has no prompt, so the probe sets one first.
# shellcheck disable=SC2016
csh_probe='set prompt="base> "
set orig_path="$PATH:q"
source "$E:q/bin/activate.csh"
printf "VE=%s\n" "$VIRTUAL_ENV:q"
printf "FIRST=%s\n" "$path[1]:q"
printf "PS1=%s\n" "$prompt:q"
printf "VEP=%s\n" "$VIRTUAL_ENV_PROMPT:q"
printf "PY=%s\n" "`which python`"
printf "TOOL=%s\n" "`which shelltool`"
printf "PREFIX=%s\n" "`python -c '"'"'import sys; print(sys.prefix)'"'"'`"
printf "RUN=%s\n" "`shelltool`"
deactivate
if ( "$PATH:q" == "$orig_path:q" ) echo PATH_RESTORED
printf "PS1=%s\n" "$prompt:q"
if ( $?VIRTUAL_ENV ) then
	echo VE=set
else
	echo VE=unset
endif
if ( $?VIRTUAL_ENV_PROMPT ) then
	echo VEP=set
else
	echo VEP=unset
endif
set a="`alias deactivate`"
if ( "$a:q" != "" ) echo STILL_DEFINED
set w="`which shelltool`"
if ( $status == 0 ) then
	echo TOOL_AFTER=found
else
	echo TOOL_AFTER=none
endif
'
printf '%s' "$csh_probe" >"$VV_TMP/probe.csh"

# run_shell SHELL ENVPATH: the probe's output in that shell, in a clean environment.
run_shell() {
	local cmd
	case $1 in
	bash) cmd=(bash --norc --noprofile -c "$posix_probe") ;;
	zsh) cmd=(zsh -f -c "$posix_probe") ;;
	dash | ksh) cmd=("$1" -c "$posix_probe") ;;
	fish) cmd=(fish --no-config -c "$fish_probe") ;;
	tcsh) cmd=(tcsh -f "$VV_TMP/probe.csh") ;;
	esac
	mkdir -p "$VV_TMP/home"
	env -i HOME="$VV_TMP/home" XDG_CONFIG_HOME="$VV_TMP/home" XDG_DATA_HOME="$VV_TMP/home" \
		PATH="$PATH" TERM=dumb LC_ALL=C E="$2" "${cmd[@]}" 2>"$VV_TMP/shell.err"
}

ran=0
for sh in bash zsh dash ksh fish tcsh; do
	if ! command -v "$sh" >/dev/null; then
		[[ ${CI:-} != true ]] || fail "$sh is not installed (CI=true: not skipping)"
		vv_note "$sh is not installed: skipping it"
		continue
	fi
	for name in e "my env"; do
		E=$MNT/$name
		out=$(run_shell "$sh" "$E") ||
			fail "$sh probe failed for '$name': $out $(cat "$VV_TMP/shell.err")"
		assert_eq "$out" "$(want_probe "$E" "$name")" "$sh activation of '$name'"
	done
	ran=$((ran + 1))
done
((ran > 0)) || skip "none of the shells is installed"

# activate_this.py, run by the base interpreter: the env's packages import and
# sys.prefix is the env.
for name in e "my env"; do
	E=$MNT/$name
	out=$(E=$E python3 -c 'import os, sys
p = os.path.join(os.environ["E"], "bin", "activate_this.py")
exec(open(p).read(), {"__file__": p})
import shelltool
print(sys.prefix)
print(os.path.dirname(os.path.dirname(shelltool.__file__)))
print(os.environ["VIRTUAL_ENV"])')
	assert_eq "$out" "$E"$'\n'"$E/$VV_SITE"$'\n'"$E" "activate_this.py of '$name'"
done

vv_umount
