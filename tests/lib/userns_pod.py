#!/usr/bin/env python3
"""Run CMD as root of a new user namespace whose IDs 0..COUNT-1 are
BASE..BASE+COUNT-1 on the host, with new mount and pid namespaces: the
container a CRI-O or containerd makes for a user-namespaced pod
(Kubernetes hostUsers: false). Run as real root, which writes the maps
itself (as the container runtime does), with no /etc/subuid entry.

    userns_pod.py BASE COUNT CMD [ARGS...]

The exit status is CMD's; CMD is pid 1 of the new pid namespace, and
everything it leaves running is killed when it ends.
"""
import ctypes
import os
import signal
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
PR_SET_PDEATHSIG = 1


def main():
    base, count, argv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    libc = ctypes.CDLL(None, use_errno=True)
    to_parent_r, to_parent_w = os.pipe()
    to_child_r, to_child_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(to_parent_r)
        os.close(to_child_w)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID) != 0:
            err = ctypes.get_errno()
            sys.stderr.write("userns_pod: unshare: %s\n" % os.strerror(err))
            os._exit(125)
        os.write(to_parent_w, b"u")
        if os.read(to_child_r, 1) != b"m":
            os._exit(125)
        os.setresgid(0, 0, 0)
        os.setgroups([])
        os.setresuid(0, 0, 0)
        inner = os.fork()  # pid 1 of the new pid namespace
        if inner == 0:
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            os.execvp(argv[0], argv)
        _, status = os.waitpid(inner, 0)
        os._exit(os.waitstatus_to_exitcode(status) & 0xff)
    os.close(to_parent_w)
    os.close(to_child_r)
    if os.read(to_parent_r, 1) != b"u":
        os.waitpid(pid, 0)
        return 125
    line = "0 %d %d\n" % (base, count)
    for name in ("uid_map", "gid_map"):
        with open("/proc/%d/%s" % (pid, name), "w") as f:
            f.write(line)
    os.write(to_child_w, b"m")
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) & 0xff


if __name__ == "__main__":
    sys.exit(main())
