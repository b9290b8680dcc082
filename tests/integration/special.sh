#!/bin/bash
# special.sh - FIFOs and UNIX sockets in an env. mkfifo, `mknod p`, os.mknod and the
# bind(2) of an AF_UNIX socket make nodes of those types, with the mode asked for minus
# the umask (stat, readdir's d_type); a writer and a reader pass bytes through a FIFO in
# the mount, and a client and a server through a socket (the kernel serves both: the
# daemon only keeps the names). They are chmod'ed, given times, renamed, unlinked and
# listed; they survive a commit, an unmount and remount, and kill -9 (journal replay);
# devices and whiteouts are refused with EPERM, in the mount root too (a FIFO is one of
# its own files there);
# `venvctl fsck`, `stats`, `du`, `gc`, `clone`, `history`, `freeze` and `rollback` take
# envs holding them; an imported venv keeps its FIFO and socket. Every read, write and connect runs under a timeout.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

umask 022

# ftypes DIR: "NAME D_TYPE" of every entry of DIR, as readdir(3) gives them (DT_FIFO 1,
# DT_DIR 4, DT_REG 8, DT_SOCK 12), sorted.
ftypes() {
	timeout 20 python3 - "$1" <<'PY' | sort
import ctypes, sys
class Dirent(ctypes.Structure):
    _fields_ = [("ino", ctypes.c_uint64), ("off", ctypes.c_int64),
                ("reclen", ctypes.c_ushort), ("type", ctypes.c_ubyte),
                ("name", ctypes.c_char * 256)]
libc = ctypes.CDLL(None, use_errno=True)
libc.opendir.restype = ctypes.c_void_p
libc.opendir.argtypes = [ctypes.c_char_p]
libc.readdir64.restype = ctypes.POINTER(Dirent)
libc.readdir64.argtypes = [ctypes.c_void_p]
libc.closedir.argtypes = [ctypes.c_void_p]
d = libc.opendir(sys.argv[1].encode())
if not d:
    sys.exit("opendir failed")
while True:
    e = libc.readdir64(d)
    if not e:
        break
    name = e.contents.name.decode()
    if name not in (".", ".."):
        print(name, e.contents.type)
libc.closedir(d)
PY
}

# pipe_through FIFO: 1 MiB of random bytes from a writer to a reader through FIFO.
pipe_through() {
	local fifo=$1 src=$VV_TMP/blob w
	head -c 1048576 /dev/urandom >"$src"
	# shellcheck disable=SC2016 # expanded by the inner shell
	vv_bg timeout 20 sh -c 'cat "$1" >"$2"' sh "$src" "$fifo"
	w=$VV_BG_PID
	got=$(timeout 20 sha256sum <"$fifo") || fail "reading $fifo failed or timed out"
	wait "$w" || fail "the writer into $fifo failed or timed out"
	assert_eq "${got%% *}" "$(vv_sha256 "$src")" "bytes read from $fifo"
}

# sock_roundtrip DIR NAME: bind NAME in DIR (relative: sun_path is short), listen,
# connect to it by its path, send and receive both ways. Prints the socket's mode.
sock_roundtrip() {
	timeout 30 python3 - "$1" "$2" <<'PY'
import os, socket, stat, sys
os.chdir(sys.argv[1])
path = sys.argv[2]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.settimeout(20)
srv.bind(path)
srv.listen(1)
cli = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
cli.settimeout(20)
cli.connect(path)
conn, _ = srv.accept()
cli.sendall(b"ping")
assert conn.recv(4) == b"ping", "server got something else"
conn.sendall(b"pong")
assert cli.recv(4) == b"pong", "client got something else"
st = os.stat(path)
assert stat.S_ISSOCK(st.st_mode), "not a socket: %o" % st.st_mode
print("%o" % stat.S_IMODE(st.st_mode))
PY
}

vv_mount
check mkdir "$MNT/e"
check mkdir "$MNT/e/run"
R=$MNT/e/run

# ---- making them ---------------------------------------------------------------------------
check mkfifo -m 640 "$R/pipe"
assert_eq "$(stat -c '%F %a %s' "$R/pipe")" "fifo 640 0" "stat of a fifo made by mkfifo"
check mkfifo "$R/plain" # the mode asked for (0666) minus the umask
assert_eq "$(stat -c '%F %a' "$R/plain")" "fifo 644" "stat of a fifo made with umask 022"
check mknod "$R/p3" p
assert_eq "$(stat -c %F "$R/p3")" fifo "stat of a fifo made by mknod p"
check timeout 20 python3 -c 'import os, stat, sys; os.mknod(sys.argv[1], stat.S_IFIFO | 0o600)' \
	"$R/p4"
assert_eq "$(stat -c '%F %a' "$R/p4")" "fifo 600" "stat of a fifo made by os.mknod"
mode=$(sock_roundtrip "$R" s.sock) || fail "socket round trip through the mount failed"
assert_eq "$mode" 755 "mode of a bound socket (0777 minus the umask)"
assert_eq "$(stat -c '%F %s' "$R/s.sock")" "socket 0" "stat of a bound socket"
for dev in "c 1 3" "b 7 0" "c 0 0"; do # character, block device; a whiteout is c 0/0
	# shellcheck disable=SC2086 # word splitting wanted
	err=$(mknod "$R/dev" $dev 2>&1) && fail "mknod $dev succeeded in an env"
	assert_contains "$err" "Operation not permitted" "mknod $dev in an env"
done
assert_missing "$R/dev"
# the mount root holds files of its own (tools' hooks and locks): a FIFO too, no device
check mkfifo "$MNT/fifo"
assert_eq "$(stat -c %F "$MNT/fifo")" "fifo" "a FIFO in the mount root"
check rm "$MNT/fifo"
err=$(mknod "$MNT/dev" c 1 3 2>&1) && fail "mknod of a device succeeded in the mount root"
assert_contains "$err" "Operation not permitted" "mknod of a device in the mount root"

# ---- through them: the kernel's pipe and socket code -------------------------------------
pipe_through "$R/pipe"
pipe_through "$R/p4"

# ---- chmod, times, rename, unlink, listing -------------------------------------------------
check chmod 604 "$R/pipe"
assert_eq "$(stat -c '%F %a' "$R/pipe")" "fifo 604" "fifo after chmod"
check chmod 700 "$R/s.sock"
check timeout 20 python3 -c 'import os, sys; os.utime(sys.argv[1], ns=(1, 1500000000123456789))' \
	"$R/pipe"
mtime_ns() { timeout 20 python3 -c 'import os, sys; print(os.stat(sys.argv[1]).st_mtime_ns)' "$1"; }
assert_eq "$(mtime_ns "$R/pipe")" 1500000000123456789 "fifo mtime after utimensat"
check mv "$R/p3" "$MNT/e/moved-fifo"
check mv "$R/plain" "$R/renamed"
assert_missing "$R/plain"
assert_eq "$(stat -c %F "$R/renamed")" fifo "a renamed fifo"
check rm "$MNT/e/moved-fifo"
assert_missing "$MNT/e/moved-fifo"
want_types=$'p4 1\npipe 1\nrenamed 1\ns.sock 12'
assert_eq "$(ftypes "$R")" "$want_types" "readdir types"
assert_contains "$(ls -l "$R")" "prw----r--" "ls -l of the fifo"
assert_contains "$(ls -l "$R")" "srwx------" "ls -l of the socket"

# ---- commit, fsck, stats, gc; unmount and mount again ------------------------------------
vv_commit e
check vv_ctl fsck
check vv_ctl stats >/dev/null
check vv_ctl du e >/dev/null
check vv_ctl gc --grace 0 >/dev/null
vv_umount
check vv_ctl fsck
vv_mount
assert_eq "$(ftypes "$R")" "$want_types" "readdir types after a remount"
assert_eq "$(stat -c '%F %a' "$R/pipe")" "fifo 604" "the fifo after a remount"
assert_eq "$(mtime_ns "$R/pipe")" 1500000000123456789 "the fifo's mtime after a remount"
assert_eq "$(stat -c '%F %a' "$R/s.sock")" "socket 700" "the socket after a remount"
pipe_through "$R/pipe"
# the socket is a name now: nobody listens; it can be removed and bound again
check timeout 20 python3 - "$R" <<'PY'
import os, socket, sys
os.chdir(sys.argv[1])
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
c.settimeout(20)
try:
    c.connect("s.sock")
except ConnectionRefusedError:
    sys.exit(0)
sys.exit("connected to a socket nobody listens on")
PY
check rm "$R/s.sock"
mode=$(sock_roundtrip "$R" s.sock) || fail "socket round trip after a remount failed"
assert_eq "$mode" 755 "mode of the socket bound again"

# ---- kill -9 before a commit: the journal holds them and is replayed ----------------------
# Made and the daemon killed within one process, well inside the quiet second after which
# the mount commits (nothing is pending before: the commit below); what the journal held
# at the kill is printed.
vv_commit e
journal=$(timeout 30 python3 - "$R" "$STORE/journal/e" "$VV_PID" <<'PY'
import os, signal, socket, sys
run, jpath, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.chdir(run)
os.mkfifo("crash-fifo", 0o620)
os.chmod("crash-fifo", 0o606)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind("crash.sock")
os.rename("renamed", "renamed2")
with open(jpath, "rb") as f:
    text = f.read()
os.kill(pid, signal.SIGKILL)
sys.stdout.write(text.decode("utf-8", "replace"))
PY
) || fail "making nodes and killing the daemon failed"
vv_kill_daemon KILL
# mkfifo's 0620 minus the umask is 0600, then chmod; the socket is 0777 minus the umask
assert_contains "$journal" "n p 600 " "the journal at the kill"
assert_contains "$journal" "crash-fifo" "the journal at the kill"
assert_contains "$journal" "n k 755 " "the journal at the kill"
assert_contains "$journal" "a 606 " "the journal at the kill"
vv_mount
assert_eq "$(stat -c '%F %a' "$R/crash-fifo")" "fifo 606" "a fifo made before kill -9"
assert_eq "$(stat -c '%F %a' "$R/crash.sock")" "socket 755" "a socket bound before kill -9"
assert_eq "$(stat -c %F "$R/renamed2")" fifo "a fifo renamed before kill -9"
assert_missing "$R/renamed"
pipe_through "$R/crash-fifo"
vv_commit e
check vv_ctl fsck

# ---- clone, history, freeze, rollback ------------------------------------------------------
check vv_ctl clone e e2
assert_eq "$(stat -c '%F %a' "$MNT/e2/run/crash-fifo")" "fifo 606" "a fifo in a clone"
assert_eq "$(stat -c %F "$MNT/e2/run/crash.sock")" socket "a socket in a clone"
# one process (one history entry): a fifo named like a distribution (freeze skips it)
# made, a fifo removed
check python3 -c 'import os, sys
os.mkfifo(sys.argv[1] + "/odd-1.0.dist-info")
os.unlink(sys.argv[2] + "/crash-fifo")' "$MNT/e/$VV_SITE" "$R"
vv_commit e
assert_missing "$R/crash-fifo"
check vv_ctl history e >/dev/null
check vv_ctl freeze e >/dev/null
check vv_ctl rollback e >/dev/null
assert_eq "$(stat -c '%F %a' "$R/crash-fifo")" "fifo 606" "a removed fifo after a rollback"
assert_missing "$MNT/e/$VV_SITE/odd-1.0.dist-info"
vv_umount
check vv_ctl fsck

# ---- import: a venv folder with a FIFO and a socket keeps them ----------------------------
SRC=$VV_TMP/src
check timeout 120 python3 -m venv --without-pip "$SRC"
check mkfifo -m 600 "$SRC/src-fifo"
check timeout 20 python3 -c 'import os, socket, sys; os.chdir(sys.argv[1]); socket.socket(socket.AF_UNIX).bind("src.sock")' \
	"$SRC"
out=$(vv_ctl import "$SRC" imp 2>&1) || fail "import of a venv with a fifo and a socket: $out"
assert_contains "$out" "2 fifos and sockets" "import summary"
vv_mount
assert_eq "$(stat -c '%F %a' "$MNT/imp/src-fifo")" "fifo 600" "an imported fifo"
assert_eq "$(stat -c %F "$MNT/imp/src.sock")" socket "an imported socket"
pipe_through "$MNT/imp/src-fifo"
check timeout 60 "$MNT/imp/bin/python" -c 'import sys'
vv_umount
check vv_ctl fsck
