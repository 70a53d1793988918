#!/usr/bin/env python3
"""CoinGecko's own client libraries against coinrelay, with only the base URL changed.

Starts `coinrelay simulate` (a frozen market) and `coinrelay run` fed by it, then makes every
call of calls.py through each client, once against coinrelay and once straight against the
simulator, and compares the parsed results:
  - http: the raw request; for the natively served endpoints the answer must also pass CoinGecko's
    response schema and field order (tests/contract/coingecko_schema.py);
  - coingecko-sdk 4.3.0 (PyPI, the official Python SDK): base_url;
  - pycoingecko 3.2.0: api_base_url;
  - @coingecko/coingecko-typescript 8.2.0 (npm, the official TypeScript SDK): baseURL and
    demoAPIKey (ts_client.mjs).
Errors are compared too (status and body): a client must see the same refusal either way.

Run by ctest (label clients) after tests/clients/install.sh, or by hand:
  tests/clients/install.sh build/clients
  build/clients/venv/bin/python tests/clients/clients_test.py --binary build/src/coinrelay
  ... --self-check     both sides the simulator: proves the harness itself
  ... --relay URL --upstream URL   against servers already running
Writes a JSON report of every verdict to --report (default build/clients/report.json).
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "contract"))

import calls as call_table  # noqa: E402
from coingecko_schema import CoinGeckoSchemas  # noqa: E402

KEY = "CG-clients-test-key"  # a team key for coinrelay; the keyless simulator ignores it
CLIENTS = ["http", "coingecko-sdk", "pycoingecko", "typescript"]


# ------------------------------------------------------------------------------ processes

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=20):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, OSError) as e:
        return None, str(e).encode()


def wait_for(what, check, timeout_s, processes):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        for name, process, log in processes:
            if process.poll() is not None:
                sys.exit(f"{name} exited ({process.returncode}):\n{open(log).read()[-3000:]}")
        if check():
            return
        time.sleep(0.1)
    sys.exit(f"timed out waiting for {what}")


class Servers:
    """One simulator and one coinrelay run on loopback, stopped on exit."""

    def __init__(self, binary, top, work):
        self.work = work
        self.processes = []
        sim_port, relay_port = free_port(), free_port()
        self.upstream = f"http://127.0.0.1:{sim_port}/api/v3"
        self.relay = f"http://127.0.0.1:{relay_port}/api/v3"
        # coinrelay reads COINRELAY_* variables as configuration: the processes get none.
        env = {k: v for k, v in os.environ.items() if not k.startswith("COINRELAY_")}
        self.start("simulate", [binary, "simulate", "--listen", f"127.0.0.1:{sim_port}",
                                "--coins", "200", "--update-interval", "0"], env)
        wait_for("the simulator", lambda: http_get(self.upstream + "/ping")[0] == 200, 15,
                 self.processes)
        self.start("run", [binary, "run", "--upstream", self.upstream,
                           "--listen", f"127.0.0.1:{relay_port}",
                           "--sqlite", os.path.join(work, "coinrelay.db"),
                           "--top", str(top), "--interval", "60",
                           "--set", "upstream.vs_currencies=usd,eur",
                           "--set", "serve.on_miss=fetch",
                           "--set", "serve.miss_calls_per_minute=1000",
                           "--set", "budget.calls_per_minute=1000",
                           "--set", "budget.monthly_credits=100000000"], env)
        ready = self.relay.replace("/api/v3", "/readyz")

        def relay_ready():
            status, body = http_get(ready)
            return status == 200 and json.loads(body).get("quotes", 0) >= 2 * top
        wait_for("coinrelay run's first cycle", relay_ready, 30, self.processes)

    def start(self, name, argv, env):
        log = os.path.join(self.work, name + ".log")
        process = subprocess.Popen(argv, stdout=open(log, "w"), stderr=subprocess.STDOUT,
                                   cwd=self.work, env=env)
        self.processes.append((name, process, log))

    def stop(self):
        for name, process, log in reversed(self.processes):
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


# ------------------------------------------------------------------------------ comparison

def difference(a, b, where="$"):
    """The first difference between two parsed results, or None."""
    if isinstance(a, bool) or isinstance(b, bool):
        return None if a is b else f"{where}: {a!r} != {b!r}"
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return None if a == b else f"{where}: {a!r} != {b!r}"
    if type(a) is not type(b):
        return f"{where}: {type(a).__name__} {short(a)} != {type(b).__name__} {short(b)}"
    if isinstance(a, dict):
        if list(a) != list(b):
            missing = [k for k in b if k not in a]
            extra = [k for k in a if k not in b]
            if missing or extra:
                return f"{where}: missing {missing[:5]}, extra {extra[:5]}"
        for key in a:
            d = difference(a[key], b[key], f"{where}.{key}")
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{where}: {len(a)} items != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = difference(x, y, f"{where}[{i}]")
            if d:
                return d
        return None
    return None if a == b else f"{where}: {short(a)} != {short(b)}"


def short(value):
    text = json.dumps(value, default=str)
    return text if len(text) < 120 else text[:117] + "..."


def parsed(body):
    try:
        return json.loads(body)
    except ValueError:
        return {"not JSON": body[:200].decode(errors="replace")}


# -------------------------------------------------------------------------------- clients

def run_http(call, relay, upstream, schemas):
    """The raw request both ways; the native answers also against CoinGecko's schema."""
    query = urllib.parse.urlencode(call.query)
    target = call.path + ("?" + query if query else "")
    r_status, r_body = http_get(relay + target)
    u_status, u_body = http_get(upstream + target)
    relayed, direct = parsed(r_body), parsed(u_body)
    if r_status != u_status:
        return f"status {r_status} != {u_status}: {short(relayed)}", u_status
    if call.native and r_status == 200:
        problems = schemas.schema_problems(call.template, relayed)
        problems += schemas.order_problems(call.template, call.query, relayed)
        if problems:
            return "CoinGecko's schema/order: " + "; ".join(problems[:3]), u_status
    return difference(relayed, direct), u_status


def plain(value):
    """A Python SDK result as plain JSON values (models, lists of models)."""
    if hasattr(value, "to_dict"):
        # Both sides go through the same model: its own type complaints say nothing here.
        return value.to_dict(mode="json", warnings=False)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def outcome(fn):
    """The parsed result of a client call, or its error as {status, body}."""
    import coingecko_sdk
    import requests
    try:
        return {"value": plain(fn())}
    except coingecko_sdk.APIStatusError as e:
        return {"status": e.status_code, "body": e.body}
    except coingecko_sdk.APIConnectionError as e:
        return {"connection error": str(e)}
    except requests.HTTPError as e:
        return {"status": e.response.status_code, "body": parsed(e.response.content)}
    except ValueError as e:  # pycoingecko raises the JSON error body as a ValueError
        return {"error body": e.args[0] if e.args else str(e)}


def resolve(client, dotted):
    target = client
    for part in dotted.split("."):
        target = getattr(target, part)
    return target


def run_python_sdk(calls, relay, upstream):
    from coingecko_sdk import Coingecko
    clients = [Coingecko(demo_api_key=KEY, base_url=url, max_retries=0, timeout=30)
               for url in (relay, upstream)]
    verdicts = {}
    for call in calls:
        method, args, kwargs = call.python_sdk()
        results = [outcome(lambda c=c: resolve(c, method)(*args, **kwargs)) for c in clients]
        verdicts[call.name] = difference(*results), results[1].get("status", 200)
    return verdicts


def run_pycoingecko(calls, relay, upstream):
    from pycoingecko import CoinGeckoAPI
    clients = []
    for url in (relay, upstream):
        api = CoinGeckoAPI(demo_api_key=KEY, retries=0)
        api.api_base_url = url + "/"  # pycoingecko's base URL, used as it is
        clients.append(api)
    verdicts = {}
    for call in calls:
        spec = call.pycoingecko_call()
        if spec is None:
            continue
        method, args, kwargs = spec
        results = [outcome(lambda c=c: getattr(c, method)(*args, **dict(kwargs)))
                   for c in clients]
        status = results[1].get("status", 200 if "value" in results[1] else "error")
        verdicts[call.name] = difference(*results), status
    return verdicts


def run_typescript(calls, relay, upstream, node_dir):
    request = {"relay": relay, "upstream": upstream, "key": KEY, "module_dir": node_dir,
               "calls": [call.typescript() for call in calls]}
    done = subprocess.run(["node", os.path.join(HERE, "ts_client.mjs")], input=json.dumps(request),
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        sys.exit(f"ts_client.mjs failed ({done.returncode}):\n{done.stderr[-3000:]}")
    results = json.loads(done.stdout)
    return {name: (difference(pair["relay"], pair["upstream"]), pair["upstream"].get("status", 200))
            for name, pair in results.items()}


# ------------------------------------------------------------------------------------ main

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default=os.path.join(ROOT, "build", "src", "coinrelay"),
                        type=os.path.abspath)
    parser.add_argument("--node-dir", default=os.path.join(ROOT, "build", "clients", "node"),
                        type=os.path.abspath, help="where install.sh put node_modules")
    parser.add_argument("--relay", help="coinrelay's /api/v3 root (default: start one)")
    parser.add_argument("--upstream", help="the simulator's /api/v3 root (default: start one)")
    parser.add_argument("--self-check", action="store_true",
                        help="compare the simulator with itself: every call must agree")
    parser.add_argument("--top", type=int, default=100, help="coins coinrelay tracks")
    parser.add_argument("--report", default=os.path.join(ROOT, "build", "clients", "report.json"))
    args = parser.parse_args()

    started = time.time()
    servers = None
    work = tempfile.mkdtemp(prefix="coinrelay-clients-")
    try:
        if args.relay and args.upstream:
            relay, upstream = args.relay, args.upstream
        else:
            servers = Servers(args.binary, args.top, work)
            relay, upstream = servers.relay, servers.upstream
        if args.self_check:
            relay = upstream
        ready = time.time()
        table = call_table.calls()
        schemas = CoinGeckoSchemas()
        verdicts = {name: {} for name in CLIENTS}
        verdicts["http"] = {c.name: run_http(c, relay, upstream, schemas) for c in table}
        verdicts["coingecko-sdk"] = run_python_sdk(table, relay, upstream)
        verdicts["pycoingecko"] = run_pycoingecko(table, relay, upstream)
        verdicts["typescript"] = run_typescript(table, relay, upstream, args.node_dir)
    finally:
        if servers:
            servers.stop()
        shutil.rmtree(work, ignore_errors=True)

    failures = 0
    width = max(len(c.name) for c in table)
    print(f"{'call':<{width}}  " + "  ".join(f"{c:<13}" for c in CLIENTS))
    report = []
    for call in table:
        cells = []
        for client in CLIENTS:
            if call.name not in verdicts[client]:
                cells.append("-")
                continue
            problem, status = verdicts[client][call.name]
            # The status the simulator answered: an agreeing refusal is shown as one.
            cells.append(("same" if problem is None else "DIFFERS") +
                         ("" if status == 200 else f" ({status})"))
            failures += problem is not None
            report.append({"call": call.name, "path": call.template, "native": call.native,
                           "client": client, "status": status, "same": problem is None,
                           "difference": problem})
        print(f"{call.name:<{width}}  " + "  ".join(f"{c:<13}" for c in cells))
    for entry in report:
        if not entry["same"]:
            print(f"{entry['client']}: {entry['call']}: {entry['difference']}")
    os.makedirs(os.path.dirname(args.report), exist_ok=True)
    with open(args.report, "w") as f:
        json.dump(report, f, indent=1)
    compared = len(report)
    mode = "the simulator against itself" if args.self_check else "coinrelay against the simulator"
    print(f"\n{compared - failures} of {compared} client calls agree ({mode}; "
          f"{len(table)} calls, {sum(c.native for c in table)} of them natively served; "
          f"servers ready in {ready - started:.1f} s, calls in {time.time() - ready:.1f} s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
