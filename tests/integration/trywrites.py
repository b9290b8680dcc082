#!/usr/bin/env python3
"""trywrites.py - try every kind of write into an env; each must fail with EROFS.

usage: trywrites.py [--expect ERRNO[,ERRNO...]] ENVDIR FILE DIR EMPTYDIR

--expect names the errors that count as refusals instead of EROFS (e.g. EACCES,EPERM
for another user's env).

FILE is an existing regular file, DIR an existing non-empty directory and EMPTYDIR an
existing empty directory, all relative to ENVDIR. Every operation a filesystem can be
asked to change something with is tried: create, mkdir, mknod, symlink, link, unlink,
rmdir, rename (file and directory, within and into DIR), open for writing (also with
O_TRUNC and O_APPEND), truncate, chmod, chown, utime, setxattr, removexattr, and
editing pyvenv.cfg. Prints one line per operation that did not fail with an expected
error and exits 1 if there was any, else prints the number of operations tried and
exits 0.
"""
import errno
import os
import sys


def main():
    args = sys.argv[1:]
    expect = {errno.EROFS}
    if args[:1] == ["--expect"]:
        expect = {getattr(errno, n) for n in args[1].split(",")}
        args = args[2:]
    want = "/".join(sorted(errno.errorcode[e] for e in expect))
    env, f, d, empty = args[:4]
    fp, dp, ep = (os.path.join(env, p) for p in (f, d, empty))
    new = os.path.join(env, "venvfs-trywrites-new")
    uid, gid = os.stat(fp).st_uid, os.stat(fp).st_gid

    def open_close(path, flags):
        os.close(os.open(path, flags, 0o644))

    def write_to(path, flags):
        fd = os.open(path, flags)
        try:
            os.write(fd, b"x")
        finally:
            os.close(fd)

    ops = [
        ("create", lambda: open_close(new, os.O_WRONLY | os.O_CREAT | os.O_EXCL)),
        ("create in DIR", lambda: open_close(os.path.join(dp, "new.py"),
                                             os.O_WRONLY | os.O_CREAT)),
        ("mkdir", lambda: os.mkdir(new)),
        ("mkdir in DIR", lambda: os.mkdir(os.path.join(dp, "newdir"))),
        ("mknod", lambda: os.mknod(new, 0o644 | 0o100000)),
        ("symlink", lambda: os.symlink("target", new)),
        ("link", lambda: os.link(fp, new)),
        ("unlink", lambda: os.unlink(fp)),
        ("rmdir (empty)", lambda: os.rmdir(ep)),
        ("rmdir (non-empty)", lambda: os.rmdir(dp)),
        ("rename file", lambda: os.rename(fp, new)),
        ("rename file into DIR", lambda: os.rename(fp, os.path.join(dp, "moved"))),
        ("rename dir", lambda: os.rename(dp, new)),
        ("rename over pyvenv.cfg", lambda: os.replace(fp, os.path.join(env, "pyvenv.cfg"))),
        ("open O_WRONLY", lambda: write_to(fp, os.O_WRONLY)),
        ("open O_RDWR", lambda: write_to(fp, os.O_RDWR)),
        ("open O_APPEND", lambda: write_to(fp, os.O_WRONLY | os.O_APPEND)),
        ("open O_TRUNC", lambda: open_close(fp, os.O_WRONLY | os.O_TRUNC)),
        ("truncate", lambda: os.truncate(fp, 0)),
        ("chmod file", lambda: os.chmod(fp, 0o600)),
        ("chmod dir", lambda: os.chmod(dp, 0o700)),
        ("chown", lambda: os.chown(fp, uid, gid)),
        ("utime", lambda: os.utime(fp, (0, 0))),
        ("utime now", lambda: os.utime(dp)),
        ("setxattr", lambda: os.setxattr(fp, "user.venvfs", b"1")),
        ("removexattr", lambda: os.removexattr(fp, "user.venvfs")),
        ("pyvenv.cfg edit", lambda: write_to(os.path.join(env, "pyvenv.cfg"),
                                             os.O_WRONLY | os.O_APPEND)),
        ("pyvenv.cfg replace", lambda: open_close(os.path.join(env, "pyvenv.cfg"),
                                                  os.O_WRONLY | os.O_TRUNC)),
        ("activate unlink", lambda: os.unlink(os.path.join(env, "bin", "activate"))),
    ]
    bad = 0
    for name, op in ops:
        try:
            op()
        except OSError as e:
            if e.errno not in expect:
                print(f"{name}: {errno.errorcode.get(e.errno, e.errno)} ({e.strerror}), "
                      f"expected {want}")
                bad += 1
            continue
        print(f"{name}: succeeded, expected {want}")
        bad += 1
    if bad:
        return 1
    print(len(ops))
    return 0


if __name__ == "__main__":
    sys.exit(main())
