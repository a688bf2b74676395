#!/usr/bin/env python3
"""End-to-end overhead of tracing a TLS workload: no probes vs probekit vs bpftrace.

Workload: curl makes N HTTP/1.1 requests to nginx over ONE keep-alive HTTPS connection on
loopback (URL globbing, `https://127.0.0.1:PORT/bench/[1-N]`); nginx answers each with
`200 ok\\n`. Both link the system libssl, so uprobes on libssl fire in both processes. The
measured quantity is the wall time of the curl process (fork to exit).

Modes, interleaved (every round runs each mode once, in an order rotated each round):
  baseline   no tracer running
  probekit   `probed run --policy policies/api-discovery.toml`, started before the round's
             workload (after its "ready:" log line) and stopped with SIGTERM after it
  bpftrace   a count-only script on SSL_read/SSL_write entry + return (4 probes), started
             before the workload (after its probes are attached) and stopped with SIGINT
  trap_floor (only with --modes): probed counting, in the kernel and nothing else, at the sites
             of the API-discovery policy that fire on every request
             (bench/e2e/policies/ssl-floor.toml): the breakpoints' own cost, a floor for probekit
  count_placed, count_unplaced (only with --modes): probed counting the same four calls in the
             kernel (bench/e2e/policies/ssl-count-{auto,off}.toml): the placement optimizer's
             sites against entry probes and uretprobes where written

Tracer start-up and shutdown are never inside the measured time, and no tracer runs
during another mode's workload.

Run as root from the repository root (Python 3 standard library only):

    sudo bench/e2e/https_overhead.py --requests 5000 --rounds 5

Prints a markdown table for docs/benchmarks.md, plus per-round times and the checks that
each tracer actually saw the traffic (probed's reported calls, bpftrace's hit counts).
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MODES = ("baseline", "probekit", "bpftrace", "trap_floor", "count_placed", "count_unplaced")
DEFAULT_MODES = ("baseline", "probekit", "bpftrace")
LABELS = {
    "baseline": "no probes",
    "probekit": "probekit, `policies/api-discovery.toml`",
    "bpftrace": "bpftrace, count only: `SSL_read`/`SSL_write` entry + return",
    "trap_floor": "probekit, count only, the policy's own sites (`ssl-floor.toml`)",
    "count_placed": "probekit, count only, placement on (`ssl-count-auto.toml`)",
    "count_unplaced": "probekit, count only, placement off (`ssl-count-off.toml`)",
}
COUNT_POLICIES = {
    "trap_floor": os.path.join(REPO, "bench", "e2e", "policies", "ssl-floor.toml"),
    "count_placed": os.path.join(REPO, "bench", "e2e", "policies", "ssl-count-auto.toml"),
    "count_unplaced": os.path.join(REPO, "bench", "e2e", "policies", "ssl-count-off.toml"),
}


def die(msg, code=2):
    print(f"https_overhead: {msg}", file=sys.stderr)
    sys.exit(code)


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def first_line(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        text = (out.stdout or out.stderr).strip()
        return text.splitlines()[0] if text else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def libssl_of(binary):
    """Real path of the libssl.so.* a binary loads (via ldd), or None."""
    try:
        out = subprocess.run(["ldd", binary], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        m = re.match(r"\s*libssl\.so\S*\s+=>\s+(\S+)", line)
        if m:
            return os.path.realpath(m.group(1))
    return None


def other_tracers():
    """(pid, comm) of running probed/bpftrace processes we did not start."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open(f"/proc/{d}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue
        if comm in ("probed", "bpftrace"):
            found.append((int(d), comm))
    return found


def cpu_ns(pid):
    """CPU time a running process has used, in ns (schedstat; falls back to clock ticks)."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            ns = int(f.read().split()[0])
        if ns > 0:
            return ns
    except (OSError, ValueError, IndexError):
        pass
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def process_cpu_ns(pid):
    """CPU time of all live threads of a process, in ns."""
    total = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return float("nan")
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


class LineReader:
    """Drains a child's pipe on a thread, keeps the lines, signals when a pattern appears."""

    def __init__(self, stream, pattern):
        self.lines = []
        self.seen = threading.Event()
        self._pattern = pattern
        self._thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self._thread.start()

    def _run(self, stream):
        for line in iter(stream.readline, ""):
            self.lines.append(line.rstrip("\n"))
            if self._pattern in line:
                self.seen.set()
        stream.close()

    def join(self, timeout=10):
        self._thread.join(timeout)

    def text(self):
        return "\n".join(self.lines)


def stop(proc, sig, timeout, what):
    """Signal a child we started and wait for it; SIGKILL if it does not exit in time."""
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        log(f"{what} did not exit {timeout} s after signal {sig}; killing pid {proc.pid}")
        proc.kill()
        return proc.wait()


class Nginx:
    def __init__(self, workdir, nginx, body_bytes=3):
        self.dir = workdir
        os.chmod(workdir, 0o755)  # workers run as an unprivileged user
        os.makedirs(os.path.join(workdir, "tmp"), exist_ok=True)
        r = subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
             os.path.join(workdir, "key.pem"), "-out", os.path.join(workdir, "cert.pem"),
             "-days", "1", "-subj", "/CN=localhost"], capture_output=True, text=True)
        if r.returncode != 0:
            die("openssl req failed: " + r.stderr)
        for name in ("key.pem", "cert.pem"):
            os.chmod(os.path.join(workdir, name), 0o644)
        self.port = free_port()
        # The response body: "ok\\n", or a file of body_bytes bytes (a heavier request).
        if body_bytes == 3:
            bench_location = 'return 200 "ok\\n";'
        else:
            with open(os.path.join(workdir, "body.txt"), "w") as f:
                f.write(("x" * 63 + "\n") * (body_bytes // 64) + "x" * (body_bytes % 64))
            os.chmod(os.path.join(workdir, "body.txt"), 0o644)
            bench_location = f"root {workdir}; try_files /body.txt =404;"
        conf = f"""
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {workdir}/tmp;
  proxy_temp_path {workdir}/tmp;
  fastcgi_temp_path {workdir}/tmp;
  uwsgi_temp_path {workdir}/tmp;
  scgi_temp_path {workdir}/tmp;
  server {{
    listen 127.0.0.1:{self.port} ssl;
    ssl_certificate {workdir}/cert.pem;
    ssl_certificate_key {workdir}/key.pem;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    location /bench/ {{ {bench_location} }}
  }}
}}
"""
        conf_path = os.path.join(workdir, "nginx.conf")
        with open(conf_path, "w") as f:
            f.write(conf)
        self.proc = subprocess.Popen([nginx, "-c", conf_path, "-p", workdir, "-g", "daemon off;"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for _ in range(100):
            if self.proc.poll() is not None:
                die("nginx exited: " + self.proc.stderr.read() + self._error_log())
            r = subprocess.run(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}",
                                self.url("/bench/ready")], capture_output=True, text=True)
            if r.stdout == "200":
                break
            time.sleep(0.05)
        else:
            self.close()
            die("nginx did not answer: " + self._error_log())
        self.worker = self._worker_pid()

    def _error_log(self):
        try:
            with open(os.path.join(self.dir, "error.log")) as f:
                return f.read()
        except OSError:
            return ""

    def _worker_pid(self):
        try:
            with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                kids = [int(p) for p in f.read().split()]
        except OSError:  # no CONFIG_PROC_CHILDREN: scan /proc for the master's children
            kids = []
            for d in filter(str.isdigit, os.listdir("/proc")):
                try:
                    with open(f"/proc/{d}/stat") as f:
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                            kids.append(int(d))
                except (OSError, ValueError, IndexError):
                    pass
        return kids[0] if len(kids) == 1 else None

    def url(self, path):
        return f"https://127.0.0.1:{self.port}{path}"

    def close(self):
        stop(self.proc, signal.SIGQUIT, 10, "nginx")


class Bench:
    def __init__(self, args, workdir, nginx, libssl):
        self.a = args
        self.dir = workdir
        self.nginx = nginx
        self.libssl = libssl
        self.results = {m: [] for m in MODES}  # per mode: list of dicts, one per round
        self.udp_port = free_port(socket.SOCK_DGRAM)  # nobody listens: datagrams are dropped
        self.cache_dir = os.path.join(workdir, "probekit-cache")
        os.makedirs(self.cache_dir, exist_ok=True)

    # -- the workload -----------------------------------------------------------------------
    def workload(self, n):
        """Runs curl once; returns (wall s, curl CPU s, nginx worker CPU s)."""
        out_path = os.path.join(self.dir, "curl.out")
        cmd = ["curl", "-sk", "--http1.1", "-o", "/dev/null", "-w", "%{http_code} %{num_connects}\\n",
               self.nginx.url(f"/bench/[1-{n}]")]
        w0 = cpu_ns(self.nginx.worker) if self.nginx.worker else None
        mask = os.sched_getaffinity(0)
        with open(out_path, "w") as out:
            if self.a.pin is not None:  # curl inherits the CPU at fork
                os.sched_setaffinity(0, {self.a.pin})
            t0 = time.perf_counter()
            p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL)
            if self.a.pin is not None:
                os.sched_setaffinity(0, mask)
            try:
                _, status, ru = os.wait4(p.pid, 0)
            except BaseException:  # interrupted: do not leave curl behind
                p.kill()
                os.waitpid(p.pid, 0)
                p.returncode = -9
                raise
            t1 = time.perf_counter()
        p.returncode = os.waitstatus_to_exitcode(status)
        w1 = cpu_ns(self.nginx.worker) if self.nginx.worker else None
        if p.returncode != 0:
            raise RuntimeError(f"curl exited with {p.returncode}")
        codes, connects = {}, 0
        with open(out_path) as f:
            lines = f.read().split("\n")[:-1]
        for line in lines:
            code, nc = line.split()
            codes[code] = codes.get(code, 0) + 1
            connects += int(nc)
        if len(lines) != n or codes != {"200": n}:
            raise RuntimeError(f"curl made {len(lines)} requests with status counts {codes}, "
                               f"expected {n} x 200")
        if connects != 1:
            raise RuntimeError(f"curl opened {connects} connections for {n} requests (expected 1: "
                               "keep-alive broken?)")
        nginx_cpu = (w1 - w0) / 1e9 if w0 is not None else float("nan")
        return t1 - t0, ru.ru_utime + ru.ru_stime, nginx_cpu

    # -- the modes --------------------------------------------------------------------------
    def run_baseline(self, rnd):
        wall, ccpu, ncpu = self.workload(self.a.requests)
        return {"wall": wall, "curl_cpu": ccpu, "nginx_cpu": ncpu}

    def _run_probed(self, rnd, policy, tag):
        """Runs the workload under `probed run --policy POLICY`; returns the round's numbers,
        probed's stdout path and its log lines."""
        out_path = os.path.join(self.dir, f"probed-{tag}-round{rnd}.jsonl")
        cmd = [self.a.probed, "run", "--policy", policy, "--cache-dir", self.cache_dir]
        if self.a.probec:
            cmd += ["--probec", self.a.probec]
        env = dict(os.environ, METRIST_ORCHESTRATOR_ENDPOINT=f"127.0.0.1:{self.udp_port}")
        with open(out_path, "w") as out:
            p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, text=True, env=env)
        err = LineReader(p.stderr, "ready:")
        try:
            deadline = time.monotonic() + self.a.start_timeout
            while not err.seen.wait(0.1):
                if p.poll() is not None or time.monotonic() > deadline:
                    stop(p, signal.SIGTERM, 10, "probed")
                    err.join()
                    raise RuntimeError(f"probed did not become ready (exit {p.returncode}):\n"
                                       + err.text())
            time.sleep(self.a.settle)
            t0 = process_cpu_ns(p.pid)
            wall, ccpu, ncpu = self.workload(self.a.requests)
            time.sleep(self.a.drain)  # let probed hand the last events to its sinks
            tracer_cpu = (process_cpu_ns(p.pid) - t0) / 1e9
        finally:
            rc = stop(p, signal.SIGTERM, 30, "probed")
            err.join()
        # Warnings, errors and non-zero loss counters from probed's log.
        notes = [l for l in err.lines
                 if re.search(r"\s(warn|warning|error)\s", l)
                 or re.search(r"(drops|dropped|lost|read errors|map full) [1-9]", l)]
        ready = next((l for l in err.lines if "ready:" in l), "")
        return ({"wall": wall, "curl_cpu": ccpu, "nginx_cpu": ncpu, "tracer_cpu": tracer_cpu,
                 "exit": rc, "ready": ready.strip(), "notes": notes}, out_path, err.lines)

    def run_probekit(self, rnd):
        res, out_path, log_lines = self._run_probed(rnd, self.a.policy, "api")
        calls = curl_calls = 0
        with open(out_path) as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                calls += 1
                if rec.get("comm") == "curl" and str(rec.get("path", "")).startswith("/bench/"):
                    curl_calls += 1
        res["calls"], res["curl_calls"] = calls, curl_calls
        res["sink_fail"] = [l.split("info", 1)[-1].strip() for l in log_lines
                            if re.search(r"sink \w+: .*failed [1-9]", l)]
        return res

    def _run_count(self, rnd, mode):
        res, _, log_lines = self._run_probed(rnd, COUNT_POLICIES[mode], mode)
        # The final report's kernel counters: "probe read_entry: hits 15003 ...".
        res["hits"] = {m.group(1): int(m.group(2)) for m in
                       (re.search(r"probe (\w+): hits (\d+)", l) for l in log_lines) if m}
        return res

    def run_trap_floor(self, rnd):
        return self._run_count(rnd, "trap_floor")

    def run_count_placed(self, rnd):
        return self._run_count(rnd, "count_placed")

    def run_count_unplaced(self, rnd):
        return self._run_count(rnd, "count_unplaced")

    def _bpftrace_attached(self, pid):
        """Number of uprobes on libssl attached by process pid (bpftool perf), or None."""
        if not self.a.bpftool:
            return None
        r = subprocess.run([self.a.bpftool, "-j", "perf", "show"], capture_output=True, text=True)
        if r.returncode != 0:
            return None
        try:
            entries = json.loads(r.stdout or "[]")
        except ValueError:
            return None
        return sum(1 for e in entries if e.get("pid") == pid
                   and e.get("fd_type") in ("uprobe", "uretprobe")
                   and os.path.realpath(e.get("filename", "")) == self.libssl)

    def run_bpftrace(self, rnd):
        lib = self.libssl
        script = (f"uprobe:{lib}:SSL_read, uprobe:{lib}:SSL_write, "
                  f"uretprobe:{lib}:SSL_read, uretprobe:{lib}:SSL_write {{ @[probe] = count(); }}")
        p = subprocess.Popen([self.a.bpftrace, "-e", script], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        out = LineReader(p.stdout, "Attaching")
        try:
            deadline = time.monotonic() + self.a.start_timeout
            while not out.seen.wait(0.1):
                if p.poll() is not None or time.monotonic() > deadline:
                    stop(p, signal.SIGINT, 10, "bpftrace")
                    out.join()
                    raise RuntimeError(f"bpftrace did not start (exit {p.returncode}):\n" + out.text())
            # "Attaching N probes..." is printed before the probes are attached; wait until
            # bpftool sees all four on libssl (or, without bpftool, a fixed time).
            attached = None
            while time.monotonic() < deadline:
                attached = self._bpftrace_attached(p.pid)
                if attached is None or attached >= 4:
                    break
                time.sleep(0.05)
            if attached is None:
                time.sleep(self.a.bpftrace_wait)
            elif attached < 4:
                raise RuntimeError(f"bpftrace attached only {attached} of 4 probes")
            time.sleep(self.a.settle)
            t0 = process_cpu_ns(p.pid)
            wall, ccpu, ncpu = self.workload(self.a.requests)
            tracer_cpu = (process_cpu_ns(p.pid) - t0) / 1e9
        finally:
            rc = stop(p, signal.SIGINT, 60, "bpftrace")
            out.join()
        hits = {}
        for line in out.lines:
            m = re.match(r"@\[u(ret)?probe:\S*:(\w+)\]:\s*(\d+)", line)
            if m:
                hits[("ret " if m.group(1) else "") + m.group(2)] = int(m.group(3))
        return {"wall": wall, "curl_cpu": ccpu, "nginx_cpu": ncpu, "tracer_cpu": tracer_cpu,
                "hits": hits, "exit": rc}

    # -- driver -----------------------------------------------------------------------------
    def run(self):
        modes = list(self.a.modes)
        for i in range(self.a.warmup):
            log(f"warm-up {i + 1}/{self.a.warmup} (no probes, not measured)")
            self.workload(self.a.requests)
        for rnd in range(1, self.a.rounds + 1):
            k = (rnd - 1) % len(modes)
            order = modes[k:] + modes[:k]
            for mode in order:
                res = getattr(self, "run_" + mode)(rnd)
                res["round"] = rnd
                self.results[mode].append(res)
                extra = ""
                if mode == "probekit":
                    extra = f", probed reported {res['curl_calls']} curl calls"
                elif mode in ("bpftrace", "trap_floor", "count_placed", "count_unplaced"):
                    extra = f", hits {sum(res['hits'].values())}"
                log(f"round {rnd}/{self.a.rounds} {mode:9s} {res['wall']:.3f} s{extra}")


def fmt_pct(x):
    return f"{x * 100:+.1f}%"


def report(bench, args, versions):
    n, res = args.requests, bench.results
    modes = [m for m in MODES if res[m]]
    med = {m: statistics.median(r["wall"] for r in res[m]) for m in modes}
    mins = {m: min(r["wall"] for r in res[m]) for m in modes}
    base = med.get("baseline")
    added = {m: med[m] - base for m in modes} if base is not None else {}
    # Paired per round: a mode's wall time minus the same round's baseline (drift-robust).
    paired = {}
    if "baseline" in modes:
        by_round = {r["round"]: r["wall"] for r in res["baseline"]}
        for m in modes:
            d = [r["wall"] - by_round[r["round"]] for r in res[m] if r["round"] in by_round]
            paired[m] = statistics.median(d) if d else float("nan")

    L = []
    L.append(f"{'Preliminary: ' if args.preliminary else ''}{n} requests ({args.body}-byte responses) on one keep-alive "
             f"connection × {args.rounds} rounds, modes interleaved (order rotated each round)"
             f"{', SCHED_IDLE spinners on every CPU' if args.stabilize else ''}"
             f"{f', curl and the nginx worker pinned to CPU {args.pin}' if args.pin is not None else ''}; "
             f"{datetime.date.today().isoformat()}, kernel {platform.release()}, {versions}; "
             f"load average {args.load_before:.1f} before, {os.getloadavg()[0]:.1f} after.")
    L.append("")
    L.append("| mode | median wall | min wall | added time (median) | added per request | "
             "share of bpftrace's added time |")
    L.append("|---|---|---|---|---|---|")
    for m in modes:
        if m == "baseline" or base is None:
            L.append(f"| {LABELS[m]} | **{med[m]:.3f} s** | {mins[m]:.3f} s | – | – | – |")
            continue
        share = "–"
        if m != "bpftrace" and "bpftrace" in added and added["bpftrace"] > 0:
            share = f"**{added[m] / added['bpftrace'] * 100:.0f}%**"
        elif m == "bpftrace":
            share = "100%"
        L.append(f"| {LABELS[m]} | **{med[m]:.3f} s** | {mins[m]:.3f} s | {fmt_pct(added[m] / base)} "
                 f"| {added[m] / n * 1e6:.1f} µs | {share} |")
    L.append("")
    spread = (max(r["wall"] for r in res["baseline"]) / mins["baseline"]
              if "baseline" in modes else 1.0)
    if spread > 1.5:
        L.append(f"**Noisy:** the baseline's slowest round took {spread:.1f}× its fastest; "
                 "wall-time differences are not meaningful (busy machine or vCPU wake-up latency: "
                 "try a quiet machine, more rounds, `--pin CPU` or `--stabilize`).")
        L.append("")
    if paired:
        L.append("Added time paired with the same round's baseline (median over rounds): "
                 + ", ".join(f"{m} {paired[m] / n * 1e6:.1f} µs/request"
                             for m in modes if m != "baseline") + ".")
        L.append("")
    L.append("CPU per request (median over rounds; curl from rusage, the nginx worker and the "
             "tracer's threads from `/proc/PID/task/*/schedstat`; the probes themselves run in "
             "curl and nginx):")
    L.append("")
    L.append("| mode | curl CPU | nginx worker CPU | curl + nginx | added | tracer process CPU |")
    L.append("|---|---|---|---|---|---|")
    cpu = {}
    for m in modes:
        c = statistics.median(r["curl_cpu"] for r in res[m]) / n * 1e6
        w = statistics.median(r["nginx_cpu"] for r in res[m]) / n * 1e6
        t = statistics.median(r["curl_cpu"] + r["nginx_cpu"] for r in res[m]) / n * 1e6
        cpu[m] = t
        add = f"{t - cpu['baseline']:+.1f} µs" if "baseline" in cpu and m != "baseline" else "–"
        tr = "–"
        if m != "baseline":
            tr = f"{statistics.median(r['tracer_cpu'] for r in res[m]) / n * 1e6:.1f} µs"
        L.append(f"| {m} | {c:.1f} µs | {w:.1f} µs | {t:.1f} µs | {add} | {tr} |")
    L.append("")
    L.append("Wall time per round (s):")
    L.append("")
    L.append("| mode | " + " | ".join(f"r{i}" for i in range(1, args.rounds + 1)) + " |")
    L.append("|---|" + "---|" * args.rounds)
    for m in modes:
        walls = {r["round"]: r["wall"] for r in res[m]}
        L.append(f"| {m} | " + " | ".join(f"{walls[i]:.3f}" if i in walls else "–"
                                          for i in range(1, args.rounds + 1)) + " |")
    L.append("")
    if "probekit" in modes:
        pk = res["probekit"]
        L.append(f"Checks: probed reported "
                 + ", ".join(str(r["curl_calls"]) for r in pk)
                 + f" curl calls to `/bench/` per round (expected {n} each; all JSON lines: "
                 + ", ".join(str(r["calls"]) for r in pk) + ").")
        if pk and pk[0].get("ready"):
            L.append(f"probed start-up, round 1: `{pk[0]['ready']}`.")
        notes = sorted({l for r in pk for l in r["notes"]})
        for note in notes[:10]:
            L.append(f"probed log: `{note}`")
        fails = [f for r in pk for f in r["sink_fail"]]
        if fails:
            L.append(f"probed sink failures (expected for the Orchestrator sink: nobody listens on "
                     f"its UDP port), last round: `{fails[-1]}`.")
    for m in ("bpftrace", "trap_floor", "count_placed", "count_unplaced"):
        for r in res.get(m, []):
            hits = ", ".join(f"{k} {v}" for k, v in sorted(r["hits"].items()))
            L.append(f"{m} round {r['round']}: {sum(r['hits'].values())} hits ({hits}).")
    return "\n".join(L), med, added


def spinners():
    """One SCHED_IDLE busy loop pinned to each CPU: keeps vCPUs from halting (see
    docs/benchmarks.md); they only run when nothing else wants the CPU."""
    procs = []
    for cpu in sorted(os.sched_getaffinity(0)):
        code = (f"import os\nos.sched_setaffinity(0, {{{cpu}}})\n"
                "os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))\n"
                "while True:\n    pass\n")
        procs.append(subprocess.Popen([sys.executable, "-c", code]))
    return procs


def main():
    ap = argparse.ArgumentParser(
        description="Wall time of N keep-alive HTTPS requests (curl -> nginx) with no probes, "
                    "with probekit's API-discovery policy, and with a count-only bpftrace script.")
    ap.add_argument("--requests", type=int, default=5000, help="requests per run (default 5000)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds; each runs every mode once (default 5)")
    ap.add_argument("--body", type=int, default=3,
                    help="response body bytes (default 3: \"ok\\n\"); larger bodies make a heavier request")
    ap.add_argument("--probed", default=os.path.join(REPO, "build", "runtime", "probed"),
                    help="probed binary (default: build/runtime/probed of this checkout)")
    ap.add_argument("--probec", help="probec for probed's cache misses (default: probed finds it)")
    ap.add_argument("--policy", default=os.path.join(REPO, "policies", "api-discovery.toml"),
                    help="policy for probed (default: policies/api-discovery.toml)")
    ap.add_argument("--modes", default=",".join(DEFAULT_MODES),
                    help="comma-separated modes (default baseline,probekit,bpftrace; also "
                         "trap_floor,count_placed,count_unplaced)")
    ap.add_argument("--warmup", type=int, default=1, help="unmeasured baseline runs first (default 1)")
    ap.add_argument("--settle", type=float, default=0.3,
                    help="seconds between a tracer being attached and the workload (default 0.3)")
    ap.add_argument("--drain", type=float, default=0.3,
                    help="seconds probed keeps running after the workload (default 0.3)")
    ap.add_argument("--bpftrace-wait", type=float, default=1.0,
                    help="without bpftool: seconds to wait after bpftrace's 'Attaching' line")
    ap.add_argument("--start-timeout", type=float, default=120.0,
                    help="seconds a tracer may take to attach (the first probed run compiles)")
    ap.add_argument("--stabilize", action="store_true",
                    help="run a SCHED_IDLE spinner on every CPU so idle vCPUs do not halt")
    ap.add_argument("--pin", type=int, metavar="CPU",
                    help="pin curl and the nginx worker to this CPU (no cross-CPU wake-ups)")
    ap.add_argument("--preliminary", action="store_true", help="label the table as preliminary")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs, probed output)")
    ap.add_argument("--json", help="also write every run's raw numbers to this file")
    args = ap.parse_args()

    # Ctrl-C or SIGTERM stops the run but still stops the tracers and nginx we started (SIGINT
    # may arrive ignored when the harness was started in the background by a script).
    def interrupted(signum, frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)
    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)

    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bad = [m for m in args.modes if m not in MODES]
    if bad or not args.modes:
        die(f"unknown mode(s) {bad}; choose from {','.join(MODES)}")
    if args.requests < 1 or args.rounds < 1:
        die("--requests and --rounds must be at least 1")

    # Prerequisites.
    problems = []
    if os.geteuid() != 0:
        problems.append("must run as root (uprobes, bpftrace, probed)")
    for tool in ("nginx", "curl", "openssl", "ldd"):
        if not shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"):
            problems.append(f"{tool} not found (scripts/install-deps.sh installs it)")
    args.bpftrace = shutil.which("bpftrace")
    if "bpftrace" in args.modes and not args.bpftrace:
        problems.append("bpftrace not found (apt-get install bpftrace; scripts/install-deps.sh)")
    args.bpftool = shutil.which("bpftool", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if "probekit" in args.modes:
        args.probed = os.path.abspath(args.probed)
        args.policy = os.path.abspath(args.policy)
        if not os.access(args.probed, os.X_OK):
            problems.append(f"probed binary not found at {args.probed} (build it: cmake --build "
                            "build --target probed probec, or pass --probed PATH)")
        if not os.path.isfile(args.policy):
            problems.append(f"policy not found: {args.policy} (pass --policy PATH)")
    if problems:
        die("missing prerequisites:\n  - " + "\n  - ".join(problems))

    nginx_bin = shutil.which("nginx", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    libssl = libssl_of(shutil.which("curl"))
    if not libssl:
        die("cannot find the libssl that curl loads (ldd curl)")
    nginx_ssl = libssl_of(nginx_bin)
    if nginx_ssl != libssl:
        log(f"warning: nginx loads {nginx_ssl}, curl loads {libssl}; only curl's is probed by bpftrace")
    others = other_tracers()
    if others:
        log("warning: other tracers are running and may add probes to every mode: "
            + ", ".join(f"{c} (pid {p})" for p, c in others))

    versions = ", ".join([first_line(["curl", "--version"]).split(" (")[0],
                          first_line([nginx_bin, "-v"]).replace("nginx version: ", ""),
                          "libssl " + os.path.basename(libssl)]
                         + ([first_line([args.bpftrace, "--version"])] if args.bpftrace else []))

    args.load_before = os.getloadavg()[0]
    if args.load_before > 0.5 * os.cpu_count():
        log(f"warning: load average {args.load_before:.1f} on {os.cpu_count()} CPUs; wall times will be noisy")
    workdir = tempfile.mkdtemp(prefix="https-overhead-")
    spin, nginx = [], None
    code = 0
    try:
        nginx = Nginx(workdir, nginx_bin, args.body)
        if args.pin is not None:
            if not nginx.worker:
                die("--pin: cannot find the nginx worker process")
            os.sched_setaffinity(nginx.worker, {args.pin})
        log(f"nginx on port {nginx.port} (worker pid {nginx.worker}), libssl {libssl}, work dir {workdir}")
        if args.stabilize:
            spin = spinners()
        bench = Bench(args, workdir, nginx, libssl)
        try:
            bench.run()
        except (RuntimeError, KeyboardInterrupt) as e:
            log(f"stopped: {e!r}")
            code = 1
        if any(bench.results.values()):
            text, _, _ = report(bench, args, versions)
            print(text)
            if args.json:
                with open(args.json, "w") as f:
                    json.dump({"requests": args.requests, "rounds": args.rounds,
                               "results": bench.results}, f, indent=1)
        if "probekit" in args.modes:
            short = [r["curl_calls"] for r in bench.results["probekit"]
                     if r["curl_calls"] < args.requests]
            if short:
                log(f"warning: probed reported fewer calls than requests in {len(short)} round(s): {short}")
        after = [t for t in other_tracers() if t not in others]
        if after:
            log("warning: tracers started by someone else during the run: "
                + ", ".join(f"{c} (pid {p})" for p, c in after))
    finally:
        for p in spin:
            p.kill()
            p.wait()
        if nginx:
            nginx.close()
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
