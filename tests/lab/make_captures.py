#!/usr/bin/env python3
"""Regenerates the enrollment-lab captures in pcaps/: one scenario per
failure id of failures.md (and ENROLLMENT_OK runs), plus a long mixed one.

    sudo tests/lab/make_captures.py [--build DIR] [--only NAME[,NAME...]] [--list] [--keep]

Without --only it also reruns tests/lab/make-foundation-captures.sh (the
first seven captures, made with openssl s_server/s_client), and it always
rewrites pcaps/README.md from the captures (describe_captures.py).

Every scenario starts dumpcap on the loopback interface with a capture
filter on its ports, starts the lab's servers, runs its clients (real
OpenSSL stacks: lab/), stops everything and writes pcaps/<name>.pcapng,
pcaps/<name>.keys (NSS key log from the programs' key log callback) and
pcaps/<name>.expect (the verdicts the capture must lead to, with the device
each must name, and what its TLS carries inside).  Root is needed only to
capture on loopback (and for ports below 1024); without it the script says
so and stops.  The lab programs come from the build directory (default
build/, made by ./run.sh).
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PCAPS = os.path.join(ROOT, "pcaps")
HOST = "127.0.0.1"


def die(msg, code=1):
    print(f"make_captures: {msg}", file=sys.stderr)
    sys.exit(code)


def say(msg):
    print(f"make_captures: {msg}", file=sys.stderr, flush=True)


class Lab:
    """Paths of the lab programs and of the test PKI made for this run."""

    def __init__(self, build, work):
        self.build = build
        self.work = work
        self.pki = os.path.join(work, "pki")
        names = {
            "lab-pki": "lab/pki/lab-pki",
            "capf-server": "lab/capf/capf-server",
            "capf-client": "lab/capf/capf-client",
            "certsrv-server": "lab/http/certsrv-server",
            "ces-client": "lab/http/ces-client",
            "est-server": "lab/http/est-server",
            "est-client": "lab/http/est-client",
            "ios-ca": "lab/ios/ios-ca",
            "scep-storm": "lab/ios/scep-storm",
            "dns-responder": "lab/dns/dns-responder",
            "dns-query": "lab/dns/dns-query",
        }
        self.bin = {}
        for key, rel in names.items():
            path = os.path.join(build, rel)
            if not os.access(path, os.X_OK):
                die(f"{path} is missing: build the project first (./run.sh)", 2)
            self.bin[key] = path

    def make_pki(self):
        subprocess.run([self.bin["lab-pki"], self.pki], check=True)

    def cmd(self, program, *args):
        return [self.bin[program], *args]


def port_listening(port, proto="tcp"):
    flag = "-ltnH" if proto == "tcp" else "-lunH"
    out = subprocess.run(["ss", flag, f"sport = :{port}"], capture_output=True, text=True).stdout
    return bool(out.strip())


def wait_until(pred, seconds, what):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.05)
    die(f"timed out waiting for {what}")


class Capture:
    """dumpcap on lo with a filter; stopped with SIGTERM so the file is whole."""

    def __init__(self, path, bpf, log):
        self.path = path
        self.log = open(log, "w")
        self.proc = subprocess.Popen(["dumpcap", "-q", "-i", "lo", "-f", bpf, "-w", path],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(lambda: open(log).read().find("File:") >= 0 or self.proc.poll() is not None,
                   10, "dumpcap to start")
        if self.proc.poll() is not None:
            die(f"dumpcap failed: {open(log).read().strip()}")
        time.sleep(0.3)  # the filter is set once the file is named; let it settle

    def stop(self):
        time.sleep(0.5)
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=10)
        self.log.close()


class Scenario:
    def __init__(self, name, what, bpf, run, expect, server_key=None):
        self.name = name
        self.what = what
        self.bpf = bpf
        self.run = run            # function(lab, ctx) doing the servers and clients
        self.expect = expect      # lines for the .expect file
        self.server_key = server_key  # PKI name whose key goes beside the capture


class Context:
    """What a scenario's run function uses: start servers, run clients."""

    def __init__(self, lab, scenario, workdir):
        self.lab = lab
        self.scenario = scenario
        self.workdir = workdir
        self.keylog = os.path.join(workdir, "keys")
        self.servers = []
        self.serial = 0
        open(self.keylog, "w").close()

    def _log(self, label):
        self.serial += 1
        return open(os.path.join(self.workdir, f"{self.serial:02d}-{label}.log"), "w")

    def server(self, program, *args, port, proto="tcp"):
        log = self._log(program)
        proc = subprocess.Popen(self.lab.cmd(program, *args), stdout=log, stderr=subprocess.STDOUT)
        wait_until(lambda: port_listening(port, proto) or proc.poll() is not None, 10,
                   f"{program} to listen on {port}")
        if proc.poll() is not None:
            die(f"{program} exited at start; see {log.name}")
        self.servers.append((program, proc, log))
        return proc

    def client(self, program, *args, expect_exit=0, timeout=120):
        log = self._log(program)
        p = subprocess.run(self.lab.cmd(program, *args), stdout=log, stderr=subprocess.STDOUT,
                           timeout=timeout)
        log.close()
        if expect_exit is not None and p.returncode != expect_exit:
            die(f"{self.scenario.name}: {program} exited {p.returncode}, expected {expect_exit}; "
                f"see {log.name}")
        return p.returncode

    def pause(self, seconds):
        time.sleep(seconds)

    def stop_servers(self):
        for program, proc, log in self.servers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
        self.servers = []


def write_expect(path, scenario):
    with open(path, "w") as f:
        f.write(f"# {scenario.what}\n")
        f.write("# verdict<TAB>ID<TAB>device (phone name, else the client's address); "
                "inner<TAB>kind[<TAB>detail]\n")
        for line in scenario.expect:
            f.write("\t".join(line) + "\n")


def run_scenario(lab, scenario, setup, keep):
    workdir = tempfile.mkdtemp(prefix=f"lab-{scenario.name}-", dir=lab.work)
    os.chmod(workdir, 0o755)  # dumpcap may drop privileges before writing
    pcap = os.path.join(workdir, "capture.pcapng")
    ctx = Context(lab, scenario, workdir)
    held = setup() if setup else ()  # made before the capture, so it does not show
    capture = Capture(pcap, scenario.bpf, os.path.join(workdir, "dumpcap.log"))
    try:
        scenario.run(lab, ctx)
    finally:
        ctx.stop_servers()
        capture.stop()
        for sock in held:
            sock.close()
    shutil.copyfile(pcap, os.path.join(PCAPS, scenario.name + ".pcapng"))
    shutil.copyfile(ctx.keylog, os.path.join(PCAPS, scenario.name + ".keys"))
    write_expect(os.path.join(PCAPS, scenario.name + ".expect"), scenario)
    if scenario.server_key:
        shutil.copyfile(os.path.join(lab.pki, scenario.server_key + ".key"),
                        os.path.join(PCAPS, scenario.name + ".server-key.pem"))
    size = os.path.getsize(pcap)
    say(f"{scenario.name}: {size} bytes")
    if not keep:
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    from scenarios import SCENARIOS, SETUP  # noqa: E402  (beside this script)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--only", default="")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep each scenario's logs")
    args = ap.parse_args()
    if args.list:
        for s in SCENARIOS:
            print(f"{s.name}\t{s.what}")
        return 0
    if os.geteuid() != 0:
        die("capturing on the loopback interface needs root: run it with sudo", 2)
    for tool in ("dumpcap", "ss"):
        if not shutil.which(tool):
            die(f"{tool} is missing (Debian packages wireshark-common, iproute2)", 2)
    chosen = [s for s in SCENARIOS if not args.only or s.name in args.only.split(",")]
    if not chosen:
        die(f"no scenario called {args.only}", 2)
    work = tempfile.mkdtemp(prefix="enrollmon-lab-")
    os.chmod(work, 0o755)
    lab = Lab(os.path.abspath(args.build), work)
    lab.make_pki()
    for s in chosen:
        say(f"{s.name}: {s.what}")
        run_scenario(lab, s, SETUP.get(s.name), args.keep)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    if not args.only:
        # the first captures, made with openssl s_server/s_client
        subprocess.run([os.path.join(ROOT, "tests", "lab", "make-foundation-captures.sh")], check=True)
    subprocess.run([sys.executable, os.path.join(ROOT, "tests", "lab", "describe_captures.py")],
                   check=True)
    say(f"{len(chosen)} capture(s) written to pcaps/")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main())
