"""Input budgets: what a hostile script costs `director check`, and how fast the
language server answers an edit.

What it measures (docs/reliability.md, "Input budgets"):

* `director check` with the default limits, each in a fresh process run under
  `prlimit --as` (so a regression cannot take the machine with it), on
  (a) a 10 MB script whose one action line is 10 MB long, and
  (b) a 200,000-shot script (about 6 MB);
  wall time, and the process's peak resident memory (`wait4`'s ru_maxrss).
  With `--raised` the same scripts run again with the limits raised past them,
  to show what the limits save (slow: minutes and gigabytes before the fix).
* The language server (`director lsp`, a subprocess spoken to over stdio): the
  1,500-shot benchmark script of `bench/frontend.py` opened, then `--edits`
  edits, one at a time, each followed by waiting for its diagnostics; time from
  sending the edit to receiving `publishDiagnostics` (the debounce included).

Run from the repository root:

    .venv/bin/python bench/input_budgets.py [--cap-gb 4] [--edits 10] [--raised] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

TARGET_S, TARGET_MB = 10.0, 500


# ------------------------------------------------------------------ scripts


def one_long_line(folder: Path, megabytes: int = 10) -> Path:
    path = folder / "long_line.shot"
    words = "The keeper climbs the stair. " * (megabytes * 1_000_000 // 29 + 1)
    path.write_text(f"title: One long line\n\nSHOT 1 WIDE 2s\n  {words}\n", encoding="utf-8")
    return path


def many_shots(folder: Path, shots: int = 200_000) -> Path:
    path = folder / "many_shots.shot"
    body = "".join(f"SHOT {n} WIDE 2s\n  A beat.\n\n" for n in range(1, shots + 1))
    path.write_text(f"title: Many shots\nformat: 640x360 @ 12fps\n\n{body}", encoding="utf-8")
    return path


# -------------------------------------------------------------- director check


def run_check(path: Path, cap_bytes: int, extra: list[str]) -> dict:
    """`director check PATH` in a fresh process capped at `cap_bytes` of address space
    (prlimit execs the interpreter, so the child's rusage is the checker's own)."""
    command = ["prlimit", f"--as={cap_bytes}", "--", sys.executable, "-m", "director", "check"]
    command += [str(path), "--format", "json", *extra]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        printed, complaint = out.read(), err.read().decode(errors="replace")
    found = json.loads(printed) if printed.strip().startswith(b"[") else []
    return {
        "file_mb": round(path.stat().st_size / 1e6, 1),
        "exit": child.returncode,
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_mb": round(usage.ru_maxrss / 1024),
        "codes": sorted({d["code"] for d in found}),
        "stderr_tail": complaint[-300:] if child.returncode not in (0, 1) else "",
    }


# ------------------------------------------------------------ language server


class Server:
    """`director lsp` over pipes: frames JSON-RPC, waits for what it is asked for."""

    def __init__(self):
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "director", "lsp"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self.next_id = 0

    def send(self, method: str, params: dict, request: bool = False) -> int | None:
        message: dict = {"jsonrpc": "2.0", "method": method, "params": params}
        if request:
            self.next_id += 1
            message["id"] = self.next_id
        body = json.dumps(message).encode()
        self.process.stdin.write(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        self.process.stdin.flush()
        return message.get("id")

    def receive(self) -> dict:
        length = 0
        while (line := self.process.stdout.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return json.loads(self.process.stdout.read(length))

    def wait(self, wanted) -> dict:
        while not wanted(message := self.receive()):
            pass
        return message

    def diagnostics(self, uri: str) -> list:
        published = self.wait(
            lambda m: (
                m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri
            )
        )
        return published["params"]["diagnostics"]

    def cpu_s(self) -> float:
        """The server's CPU seconds so far (user + system), from /proc."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        number = self.send("shutdown", {}, request=True)
        self.wait(lambda m: m.get("id") == number)
        self.send("exit", {})
        self.process.wait(timeout=30)


def measure_lsp(edits: int) -> dict:
    from bench.frontend import SEED, generate

    with tempfile.TemporaryDirectory() as folder:
        facts = generate(Path(folder), 1500, SEED)
        path: Path = facts["path"]
        text = path.read_text(encoding="utf-8")
        server = Server()
        number = server.send(
            "initialize",
            {"processId": None, "rootUri": Path(folder).as_uri(), "capabilities": {}},
            request=True,
        )
        server.wait(lambda m: m.get("id") == number)
        server.send("initialized", {})
        uri = path.as_uri()
        started = time.perf_counter()
        server.send(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "shot", "version": 1, "text": text}},
        )
        first = len(server.diagnostics(uri))
        opened = time.perf_counter() - started
        times, cpu = [], []
        for version in range(2, edits + 2):
            edited = text + f"\nSHOT EDIT{version} WIDE 2s\n  The sea, edit {version}.\n"
            started, busy = time.perf_counter(), server.cpu_s()
            server.send(
                "textDocument/didChange",
                {
                    "textDocument": {"uri": uri, "version": version},
                    "contentChanges": [{"text": edited}],
                },
            )
            server.diagnostics(uri)
            times.append(time.perf_counter() - started)
            cpu.append(server.cpu_s() - busy)
        server.close()
    return {
        "lines": facts["lines"],
        "shots": facts["shots"],
        "diagnostics_at_open": first,
        "open_s": round(opened, 3),
        "edit_median_s": round(statistics.median(times), 3),
        "edit_max_s": round(max(times), 3),
        "edit_cpu_median_s": round(statistics.median(cpu), 3),
        "edits": edits,
    }


# ------------------------------------------------------------------- report


def run(args) -> dict:
    cap = int(args.cap_gb * 1e9)
    results: dict = {"machine": machine(), "cap_gb": args.cap_gb, "check": {}}
    with tempfile.TemporaryDirectory() as folder:
        cases = {
            "10 MB one-line script": (one_long_line(Path(folder)), []),
            "200,000-shot script": (many_shots(Path(folder)), []),
        }
        if args.raised:
            cases["10 MB one-line script, limits raised"] = (
                cases["10 MB one-line script"][0],
                ["--max-bytes", "20000000", "--max-line-length", "20000000"],
            )
            cases["200,000-shot script, limits raised"] = (
                cases["200,000-shot script"][0],
                ["--max-shots", "200000", "--max-minutes", "100000"],
            )
        for name, (path, extra) in cases.items():
            results["check"][name] = run_check(path, cap, extra)
    results["lsp"] = measure_lsp(args.edits)
    return results


def machine() -> dict:
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_1min": round(os.getloadavg()[0], 2),
        "platform": platform.platform(),
    }


def report(results: dict) -> str:
    lines = [
        f"director check, default limits, each under prlimit --as={results['cap_gb']} GB:",
        f"{'case':<42} {'size':>7} {'exit':>4} {'wall':>8} {'CPU':>7} {'peak RSS':>9}  codes",
    ]
    for name, r in results["check"].items():
        verdict = "ok" if r["wall_s"] < TARGET_S and r["peak_mb"] < TARGET_MB else "OVER"
        lines.append(
            f"{name:<42} {r['file_mb']:>5} MB {r['exit']:>4} {r['wall_s']:>7.2f}s "
            f"{r['cpu_s']:>6.2f}s {r['peak_mb']:>6.0f} MB  {','.join(r['codes'])}  [{verdict}]"
        )
        if r["stderr_tail"]:
            lines.append(f"    stderr: {r['stderr_tail']!r}")
    lsp = results["lsp"]
    lines += [
        f"targets: under {TARGET_S:g} s and {TARGET_MB} MB each",
        "",
        f"language server, the {lsp['shots']}-shot benchmark script ({lsp['lines']} lines):",
        f"  open to first diagnostics: {lsp['open_s']:.3f} s",
        f"  edit to its diagnostics: median {lsp['edit_median_s']:.3f} s, "
        f"max {lsp['edit_max_s']:.3f} s over {lsp['edits']} edits (debounce included); "
        f"server CPU per edit: median {lsp['edit_cpu_median_s']:.3f} s",
        "",
        f"machine: {results['machine']}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cap-gb", type=float, default=4.0, help="prlimit --as (default 4)")
    parser.add_argument("--edits", type=int, default=10, help="LSP edits timed (default 10)")
    parser.add_argument("--raised", action="store_true", help="also run with limits raised")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    results = run(args)
    print(json.dumps(results, indent=1) if args.json else report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
