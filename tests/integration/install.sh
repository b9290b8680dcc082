#!/bin/bash
# install.sh - (test 'sysinstall') `meson install --destdir`: the binaries, the man pages venvfs(1),
# venvctl(1) and venvfs.ini(5), the bash completion of venvctl and the systemd units
# land in their places. Each man page renders without a warning (man --warnings and
# groff -ww) and venvctl(1) has a section for every command `venvctl --help` lists,
# showing every option of its `venvctl help CMD`; the units pass `systemd-analyze
# verify` (where systemd is installed) with every command they run present; the
# README's fstab line passes `findmnt --verify`; the completion,
# sourced into bash, offers venvctl's commands, a command's options and the store's
# env names.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ -n ${VV_BUILD_ROOT:-} ]] || fail "VV_BUILD_ROOT is not set to the build directory"
command -v meson >/dev/null || fail "meson is not on PATH"
D=$VV_TMP/destdir
check meson install -C "$VV_BUILD_ROOT" --destdir "$D" --no-rebuild --quiet >"$VV_TMP/install.log"

# where meson put things (the configured prefix and dirs)
find "$D" -type f -o -type l | sed "s|^$D||" | sort >"$VV_TMP/files"
one() {
	local pat=$1 f
	f=$(grep -E "$pat" "$VV_TMP/files") || fail "nothing installed matching $pat:
$(cat "$VV_TMP/files")"
	[[ $(wc -l <<<"$f") == 1 ]] || fail "more than one file matches $pat: $f"
	printf '%s' "$D$f"
}
BIN_VENVFS=$(one '/bin/venvfs$')
BIN_VENVCTL=$(one '/bin/venvctl$')
MAN_VENVFS=$(one '/man1/venvfs\.1$')
MAN_VENVCTL=$(one '/man1/venvctl\.1$')
MAN_INI=$(one '/man5/venvfs\.ini\.5$')
COMPLETION=$(one '/bash-completion/completions/venvctl$')
USER_UNIT=$(one '/systemd/user/venvfs\.service$')
SYSTEM_UNIT=$(one '/systemd/system/venvfs-shared\.service$')
BINDIR=${BIN_VENVFS%/venvfs}
for b in "$BIN_VENVFS" "$BIN_VENVCTL"; do
	[[ -x $b ]] || fail "$b is not executable"
done
check "$BIN_VENVCTL" --version >/dev/null

# ---- man pages -----------------------------------------------------------------------------
VERSION=$("$BIN_VENVCTL" --version | awk '{ print $NF }')
for m in "$MAN_VENVFS" "$MAN_VENVCTL" "$MAN_INI"; do
	grep -q '@[A-Z]*@' "$m" && fail "$m: unsubstituted @VARIABLE@"
	grep -q "venvfs $VERSION" "$m" || fail "$m: does not name version $VERSION"
	if command -v man >/dev/null; then
		MANWIDTH=80 man --warnings -l "$m" >"$VV_TMP/man.out" 2>"$VV_TMP/man.err" ||
			fail "man -l $m failed: $(cat "$VV_TMP/man.err")"
		[[ ! -s $VV_TMP/man.err ]] || fail "man --warnings -l $m:
$(cat "$VV_TMP/man.err")"
		[[ $(wc -l <"$VV_TMP/man.out") -gt 20 ]] || fail "man -l $m rendered almost nothing"
	fi
	if command -v groff >/dev/null; then
		groff -ww -z -man "$m" 2>"$VV_TMP/groff.err" || fail "groff failed on $m"
		[[ ! -s $VV_TMP/groff.err ]] || fail "groff -ww $m:
$(cat "$VV_TMP/groff.err")"
	fi
done
command -v man >/dev/null || command -v groff >/dev/null ||
	fail "neither man nor groff is installed: the man pages cannot be checked"
# every command of `venvctl --help` has its subsection in venvctl(1)
cmds=$("$BIN_VENVCTL" --help | awk '/^[A-Z]/ { s = $0; next } s == "COMMANDS" && /^    [a-z]/ { print $1 }')
[[ $(wc -l <<<"$cmds") -ge 8 ]] || fail "could not read the commands of venvctl --help: $cmds"
for c in $cmds; do
	grep -qx "\.SS $c" "$MAN_VENVCTL" || fail "venvctl(1) has no section for command '$c'"
done
grep -qx '\.SS [a-z]*' "$MAN_VENVCTL" || fail "no .SS lines in venvctl(1)"
for c in $(sed -n 's/^\.SS //p' "$MAN_VENVCTL"); do
	grep -qx "$c" <<<"$cmds" || fail "venvctl(1) documents '$c', which venvctl --help lacks"
done
# ... made from `venvctl help CMD` at build time: each command's subsection shows every
# option of its help
if command -v groff >/dev/null; then
	groff -man -Tascii -P-cbou "$MAN_VENVCTL" >"$VV_TMP/venvctl.txt" 2>/dev/null ||
		fail "groff -Tascii failed on $MAN_VENVCTL"
	nopts=0
	for c in $cmds; do
		sect=$(awk -v h="   $c" '$0 == h { on = 1; next } on && /^(   )?[^ ]/ { exit } on' \
			"$VV_TMP/venvctl.txt")
		[[ -n $sect ]] || fail "venvctl(1) has no text for command '$c'"
		for o in $("$BIN_VENVCTL" help "$c" |
			sed -nE 's/^ +(-[a-zA-Z], )?(--?[a-z][a-z0-9-]*)( .*)?$/\1 \2/p' | tr -d ,); do
			# an entry (.TP, or a preformatted line) starts with it, e.g. "-n, --dry-run"
			grep -qE -e "^ +(-[a-zA-Z], )?$o( |,|\$)" <<<"$sect" ||
				fail "venvctl(1) on '$c' has no entry for its option $o:
$sect"
			nopts=$((nopts + 1))
		done
	done
	((nopts >= 20)) || fail "found only $nopts options in the help of venvctl's commands"
fi

# ---- systemd units ---------------------------------------------------------------------------
for u in "$USER_UNIT" "$SYSTEM_UNIT"; do
	grep -q '@[A-Z]*@' "$u" && fail "$u: unsubstituted @VARIABLE@"
	# every command it runs exists (after DESTDIR for our own binaries)
	for exe in $(sed -n 's/^Exec[A-Za-z]*=[-@+!]*\([^ ]*\).*/\1/p' "$u"); do
		[[ $exe == "$BINDIR"* || -x $D$exe || -x $exe ]] ||
			fail "$u runs $exe, which does not exist"
		[[ $exe == /* ]] || fail "$u runs '$exe' without an absolute path"
	done
done
grep -q '^ExecStart=.*/venvfs -f %h/envs$' "$USER_UNIT" || fail "user unit does not mount ~/envs"
grep -q '^ExecStop=.*fusermount3 -u %h/envs$' "$USER_UNIT" || fail "user unit has no fusermount3 -u"
grep -q '^ExecStart=.*/venvfs -f -o ro,allow_other ' "$SYSTEM_UNIT" ||
	fail "system unit does not mount read-only for all users"
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$VV_TMP/xdg-runtime" "$VV_TMP/units"
	chmod 700 "$VV_TMP/xdg-runtime"
	# verify checks that the commands exist: point them at the DESTDIR copies
	sed "s|${BINDIR#"$D"}/|$BINDIR/|g" "$USER_UNIT" >"$VV_TMP/units/venvfs.service"
	sed "s|${BINDIR#"$D"}/|$BINDIR/|g" "$SYSTEM_UNIT" >"$VV_TMP/units/venvfs-shared.service"
	XDG_RUNTIME_DIR=$VV_TMP/xdg-runtime systemd-analyze --user verify --man=no \
		"$VV_TMP/units/venvfs.service" >"$VV_TMP/sa.out" 2>&1 ||
		fail "systemd-analyze --user verify venvfs.service: $(cat "$VV_TMP/sa.out")"
	[[ ! -s $VV_TMP/sa.out ]] || fail "systemd-analyze --user verify venvfs.service:
$(cat "$VV_TMP/sa.out")"
	systemd-analyze verify --man=no "$VV_TMP/units/venvfs-shared.service" >"$VV_TMP/sa.out" 2>&1 ||
		fail "systemd-analyze verify venvfs-shared.service: $(cat "$VV_TMP/sa.out")"
	[[ ! -s $VV_TMP/sa.out ]] || fail "systemd-analyze verify venvfs-shared.service:
$(cat "$VV_TMP/sa.out")"
else
	[[ ${CI:-} == true ]] && fail "systemd-analyze is missing (CI=true)"
	vv_note "systemd-analyze not installed: units not verified"
fi

# ---- the README's fstab line -----------------------------------------------------------------
README=$VV_LIB_DIR/../../README.md
line=$(grep -E '^/srv/venvfs +/opt/venvs +fuse\.venvfs ' "$README") ||
	fail "README has no fstab line for fuse.venvfs"
printf '%s\n' "$line" | sed "s|/srv/venvfs|$STORE|; s|/opt/venvs|$MNT|" >"$VV_TMP/fstab"
if command -v findmnt >/dev/null; then
	findmnt --verify --tab-file "$VV_TMP/fstab" >"$VV_TMP/fm.out" 2>&1 ||
		fail "findmnt --verify of the README's fstab line: $(cat "$VV_TMP/fm.out")"
	grep -q '0 parse errors, 0 errors' "$VV_TMP/fm.out" ||
		fail "findmnt --verify of the README's fstab line: $(cat "$VV_TMP/fm.out")"
fi

# ---- bash completion --------------------------------------------------------------------------
check vv_ctl create alpha beta >/dev/null
mkdir -p "$VV_TMP/whl"
touch "$VV_TMP/whl/demo-1.0-py3-none-any.whl" "$VV_TMP/whl/notes.txt"
complete_words() { # WORDS...: the completions of the last word
	PATH=$BINDIR:$PATH bash -c '
		. "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		_venvctl
		printf "%s\n" "${COMPREPLY[@]}" | sort' complete "$COMPLETION" "$@"
}
got=$(complete_words venvctl "")
for c in $cmds; do
	grep -qx "$c" <<<"$got" || fail "completion of commands lacks '$c': $got"
done
assert_eq "$(complete_words venvctl --store "$STORE" lo)" "lock" "completion of 'lo'"
assert_eq "$(complete_words venvctl --store "$STORE" lock "")" "alpha
beta" "completion of env names after lock"
assert_eq "$(complete_words venvctl --store "$STORE" unlock b)" "beta" "completion of 'b' after unlock"
assert_eq "$(complete_words venvctl gc --dry)" "--dry-run" "completion of gc's options"
got=$(complete_words venvctl create --)
for o in --python --clear --upgrade-deps --without-pip; do
	grep -qx -- "$o" <<<"$got" || fail "completion of create's options lacks $o: $got"
done
assert_eq "$(complete_words venvctl python "")" "list" "completion after python"
assert_eq "$(complete_words venvctl help un)" "unlock" "completion after help"
assert_eq "$(cd "$VV_TMP" && complete_words venvctl --store "$STORE" add alpha whl/)" \
	"whl/demo-1.0-py3-none-any.whl" "completion of wheel files after add NAME"
# --store after the command: its value is a directory, and neither it nor the option
# counts as an operand
assert_eq "$(cd "$VV_TMP" && complete_words venvctl add --store "$STORE" al)" "alpha" \
	"completion of env names after add --store DIR"
assert_eq "$(cd "$VV_TMP" && complete_words venvctl du --store wh)" "whl" \
	"completion of a directory after a command's --store"
# the store from the config file when --store is not given
mkdir -p "$XDG_CONFIG_HOME/venvfs"
printf '[venvfs]\nstore = %s   ; the test store\n' "$STORE" >"$XDG_CONFIG_HOME/venvfs/venvfs.ini"
assert_eq "$(complete_words venvctl du a)" "alpha" "env names from the config's store"

# ---- the units' commands, run as systemd would run them ------------------------------------
# unit_cmd UNIT KEY: the KEY= command line of UNIT with our binaries from DESTDIR, the
# unit's Environment= defaults replaced by the test's store and mount point, %h by HOME
unit_cmd() {
	sed -n "s/^$2=//p" "$1" | sed "s|${BINDIR#"$D"}/|$BINDIR/|g; s|\${VENVFS_STORE}|$STORE|g;
		s|\${VENVFS_MOUNT}|$UMNT|g; s|%h|$UHOME|g"
}
UHOME=$VV_TMP/home
UMNT=$VV_TMP/shared
mkdir -p "$UHOME"
grep -q '^Environment=VENVFS_STORE=/srv/venvfs VENVFS_MOUNT=/opt/venvs$' "$SYSTEM_UNIT" ||
	fail "system unit's defaults are not the README's /srv/venvfs and /opt/venvs"
run_unit() { # UNIT MOUNTPOINT ENV: start, use, stop as systemd would
	local unit=$1 mp=$2 env=$3 pre start stop
	pre=$(unit_cmd "$unit" ExecStartPre)
	start=$(unit_cmd "$unit" ExecStart)
	stop=$(unit_cmd "$unit" ExecStop)
	# shellcheck disable=SC2086 # the unit's command lines, split as systemd does
	check $pre
	[[ -d $mp ]] || fail "ExecStartPre of $unit did not make $mp"
	# shellcheck disable=SC2086
	HOME=$UHOME XDG_DATA_HOME='' XDG_CONFIG_HOME='' $start >>"$VV_LOG" 2>&1 &
	VV_PID=$!
	vv_wait_for 30 vv_is_mounted "$mp" || fail "ExecStart of $unit did not mount $mp"
	assert_eq "$("$mp/$env/bin/python" -c 'import sys; print(sys.prefix)')" "$mp/$env" \
		"python from the mount of $unit"
	if [[ $unit == "$SYSTEM_UNIT" ]]; then
		local line
		line=$(awk -v m="$mp" '$2 == m' /proc/self/mounts)
		[[ $line == *" ro,"* && $line == *allow_other* ]] ||
			fail "the shared unit's mount is not ro and allow_other: $line"
		rc=0
		touch "$mp/$env/x" 2>/dev/null || rc=$?
		((rc != 0)) || fail "a write into the shared unit's mount succeeded"
	fi
	# shellcheck disable=SC2086
	check $stop
	vv__stop_daemon 30 || fail "the daemon of $unit did not exit after ExecStop"
	((VV_DAEMON_STATUS == 0)) || fail "the daemon of $unit exited with $VV_DAEMON_STATUS"
}
check vv_ctl lock alpha >/dev/null
# the shared unit: read-only, for all users
MNT_SAVED=$MNT
MNT=$UMNT
run_unit "$SYSTEM_UNIT" "$UMNT" alpha
MNT=$MNT_SAVED
# the user unit: ~/envs on the default store ($HOME/.local/share/venvfs)
HOME=$UHOME XDG_DATA_HOME='' XDG_CONFIG_HOME='' check "$BIN_VENVCTL" create mine >/dev/null
MNT=$UHOME/envs
run_unit "$USER_UNIT" "$UHOME/envs" mine
MNT=$MNT_SAVED
