#!/usr/bin/env python3
"""The exe_wrapper of the `valgrind` test setup (tests/meson.build).

meson puts it before every test's command.  A compiled test program (the
GLib unit tests, the fuzz corpus replays, the lab's codec test) is run under
$ENROLLMON_WRAPPER, the valgrind command line the setup defines.  A python
test is run as it is: valgrind on the interpreter would only make it slower
and check python, not enrollmon, which the test starts itself through
tests/e2e/enrollmon_cmd.py under the same $ENROLLMON_WRAPPER.
"""
import os
import re
import shlex
import sys


def main():
    argv = sys.argv[1:]
    if not argv:
        print("usage: valgrind_wrapper.py PROGRAM [ARGS...]", file=sys.stderr)
        return 2
    wrapper = shlex.split(os.environ.get("ENROLLMON_WRAPPER", ""))
    if re.fullmatch(r"python[0-9.]*", os.path.basename(argv[0])) or not wrapper:
        cmd = argv
    else:
        cmd = wrapper + argv
    try:
        os.execvp(cmd[0], cmd)
    except FileNotFoundError:
        print(f"valgrind_wrapper.py: {cmd[0]} is not installed (Debian: apt-get install valgrind)",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
