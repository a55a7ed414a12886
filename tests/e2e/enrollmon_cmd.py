"""How the end-to-end tests start enrollmon.

The tests run the binary named by $ENROLLMON (meson test sets it).  The
`valgrind` test setup (tests/meson.build) sets two more variables, because
meson's exe_wrapper reaches only the python interpreter, never the enrollmon
runs a test makes:

  ENROLLMON_WRAPPER             a command line put before the binary (valgrind
                                with its options): command() adds it
  ENROLLMON_TIMEOUT_MULTIPLIER  how much longer a wrapped run may take:
                                timeout() scales the tests' own time limits

valgrind's report goes to a file of its own (its --log-file), not to
enrollmon's standard error, which the tests read ("one clear line", "nothing
on stderr").  A run with a memcheck error exits with the setup's
--error-exitcode (99, which no test takes for success), and when the test
ends, the reports of the runs that had errors are printed and its exit
status is made a failure, whatever the test made of that run.

Python standard library only.
"""

import atexit
import glob
import os
import re
import shlex
import shutil
import sys
import tempfile

WRAPPER = shlex.split(os.environ.get("ENROLLMON_WRAPPER", ""))
MULTIPLIER = float(os.environ.get("ENROLLMON_TIMEOUT_MULTIPLIER") or 1)
SKIP = 77

# valgrind's reports, one file per run (%p: valgrind's pid, which is
# enrollmon's); made at import, before any thread of a test can start a run.
_log_dir = None
if WRAPPER and os.path.basename(WRAPPER[0]).startswith("valgrind"):
    _log_dir = tempfile.mkdtemp(prefix="enrollmon-valgrind-")


def wrapped():
    """True when enrollmon runs behind ENROLLMON_WRAPPER (the valgrind setup)."""
    return bool(WRAPPER)


def timeout(seconds):
    """A test's time limit for one enrollmon run, scaled for the wrapper."""
    return seconds * MULTIPLIER


def command(args, exe=None):
    """The argv that runs enrollmon (exe, else $ENROLLMON) with args."""
    exe = exe or os.environ["ENROLLMON"]
    if not WRAPPER:
        return [exe, *args]
    log = ["--log-file=" + os.path.join(_log_dir, "%p.log")] if _log_dir else []
    return [*WRAPPER, *log, exe, *args]


def skip_if_wrapped(reason):
    """Exit 77 (meson's skip) with the reason when runs are wrapped: for a
    test that cannot work under valgrind."""
    if WRAPPER:
        print(f"SKIP under {os.path.basename(WRAPPER[0])}: {reason}")
        sys.exit(SKIP)


def _report():
    bad = []
    for path in sorted(glob.glob(os.path.join(_log_dir, "*.log"))):
        with open(path, errors="replace") as f:
            text = f.read()
        m = re.search(r"ERROR SUMMARY: (\d+) errors", text)
        if m and int(m.group(1)) > 0:
            bad.append(text)
    shutil.rmtree(_log_dir, ignore_errors=True)
    if not bad:
        return
    sys.stdout.flush()
    for text in bad:
        sys.stderr.write("---- valgrind found errors in an enrollmon run ----\n" + text)
    sys.stderr.write(f"FAIL: {len(bad)} enrollmon run(s) with valgrind errors\n")
    sys.stderr.flush()
    # The exit status the test chose (0, or 77 for a skip) must not stand.
    os._exit(1)


if _log_dir:
    atexit.register(_report)
