#!/usr/bin/env python3
"""Helpers for bench/compare.sh: free ports, the idle-connection memory row, the report.

    helpers.py ports N
        print N distinct free TCP ports on 127.0.0.1, one per line
    helpers.py idle --port P --path /1k.bin --conns 1000 --pid PID
        open CONNS keep-alive connections to 127.0.0.1:P, send one request on each and read
        its response, keep them open, and print "ADDED_KIB OPEN" where ADDED_KIB is the growth
        of VmRSS summed over PID and its descendants, and OPEN the connections still open
    helpers.py report RESULTS_TSV ROWS_TSV
        print the markdown tables (medians, spread, ratios) for the results compare.sh wrote:
        the rate or size, the server's CPU per request, for rows l and m the backend's
        (php-fpm's, the upstream nginx's), and the server's and load generator's together;
        then the notes (failures, and row m's upstream connections per request)

Only the standard library; traffic goes to 127.0.0.1 only.
"""

import argparse
import os
import resource
import socket
import statistics
import sys
import time

HOST = "127.0.0.1"
# How long one connect or read of the idle row may take before the row fails (seconds).
IO_TIMEOUT = 10.0
# Pause between opening the connections and reading RSS, so that the server has finished
# whatever it does after a response (seconds). A measurement pause, not a readiness wait.
SETTLE = 0.5


def cmd_ports(args):
    socks = []
    try:
        for _ in range(args.n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            socks.append(s)
        for s in socks:
            print(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()


def children_of(pid):
    """Direct children of pid, from /proc/*/stat (the parent is field 4)."""
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if int(fields[1]) == pid:
            kids.append(int(entry))
    return kids


def process_tree(pid):
    tree, todo = [], [pid]
    while todo and len(tree) < 4096:
        p = todo.pop()
        tree.append(p)
        todo.extend(children_of(p))
    return tree


def rss_kib(pid):
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def read_response(sock):
    """Read one HTTP/1.1 response with a Content-Length body; return the status code."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the response head")
        buf += chunk
        if len(buf) > 1 << 20:
            raise ConnectionError("response head over 1 MiB")
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length is None:
        raise ConnectionError("response without Content-Length")
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside the response body")
        body += chunk
    return status


def still_open(sock):
    sock.setblocking(False)
    try:
        return sock.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def cmd_idle(args):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.conns + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    request = f"GET {args.path} HTTP/1.1\r\nHost: {HOST}:{args.port}\r\n\r\n".encode()
    before = rss_kib(args.pid)
    socks = []
    try:
        for _ in range(args.conns):
            s = socket.create_connection((HOST, args.port), timeout=IO_TIMEOUT)
            socks.append(s)
            s.sendall(request)
            status = read_response(s)
            if status != 200:
                print(f"idle: GET {args.path} answered {status}", file=sys.stderr)
                return 1
        time.sleep(SETTLE)
        after = rss_kib(args.pid)
        open_now = sum(1 for s in socks if still_open(s))
        print(after - before, open_now)
        return 0
    except (OSError, ValueError, IndexError) as e:
        print(f"idle: after {len(socks)} connections: {e}", file=sys.stderr)
        return 1
    finally:
        for s in socks:
            s.close()


def fmt(v):
    """Three significant figures, with k/M for large rates."""
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.3g}M"
    if a >= 1e4:
        return f"{v / 1e3:.3g}k"
    if a >= 100:
        return f"{v:.0f}"
    return f"{v:.3g}"


def cell(values):
    if not values:
        return "FAIL", None
    med = statistics.median(values)
    if len(values) == 1:
        return fmt(med), med
    return f"{fmt(med)} ({fmt(min(values))}–{fmt(max(values))})", med


def ratio(a, b):
    if a is None or b is None:
        return "—"
    if b == 0:
        return "∞" if a else "—"
    return f"{a / b:.2f}"


def cmd_report(args):
    rows = {}
    order = []
    with open(args.rows) as f:
        for line in f:
            letter, desc, unit, better, cpu_unit = line.rstrip("\n").split("\t")
            rows[letter] = (desc, unit, better, cpu_unit)
            order.append(letter)
    # (section, row, server) -> lists of values, the server's CPU costs, the backend's (row
    # l: php-fpm; row m: the upstream nginx) and the server's and load generator's together;
    # failures and row m keep their notes.
    vals, cpus, backend, together, sections, servers, notes = {}, {}, {}, {}, [], [], []
    # (measure, section, row, server) -> {round: value}, for the round-by-round ratios.
    by_round = {}
    with open(args.results) as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            section, row, server, rnd, value, cpu, bcpu, ccpu, status, note = fields
            if section not in sections:
                sections.append(section)
            if server not in servers:
                servers.append(server)
            key = (section, row, server)
            vals.setdefault(key, [])
            cpus.setdefault(key, [])
            if status == "ok":
                vals[key].append(float(value))
                by_round.setdefault(("rate",) + key, {})[rnd] = float(value)
                if cpu != "-":
                    cpus[key].append(float(cpu))
                    by_round.setdefault(("cpu",) + key, {})[rnd] = float(cpu)
                if bcpu != "-":
                    backend.setdefault(key, []).append(float(bcpu))
                if cpu != "-" and ccpu != "-":
                    together.setdefault(key, []).append(float(cpu) + float(ccpu))
                    by_round.setdefault(("sum",) + key, {})[rnd] = float(cpu) + float(ccpu)
            if note:
                said = note if status == "ok" else f"{status} {note}"
                notes.append(f"{section} row {row} {server} round {rnd}: {said}")
    servers.sort(key=lambda s: ["usher", "nginx", "lighttpd"].index(s))
    others = [s for s in servers if s != "usher"]
    titles = {
        "one": "one core: server pinned to one core, load generator to another",
        "all": "k (scaling): all cores given to the server",
    }
    present_in = {
        section: [r for r in order if any((section, r, s) in vals for s in servers)]
        for section in sections
    }
    for section in sections:
        present = present_in[section]
        for what, table, unit_of in (
            ("rate or size", vals, lambda r: rows[r][1]),
            ("server CPU per request (core-µs; lower is better)", cpus, lambda r: rows[r][3]),
            (
                "backend CPU per request, php-fpm in row l, the upstream nginx in row m"
                " (core-µs; lower is better)",
                backend,
                lambda r: rows[r][3],
            ),
            (
                "server and load generator together, CPU per request (core-µs; lower is"
                " better; over loopback, the whole cost of a request however the kernel split it)",
                together,
                lambda r: rows[r][3],
            ),
        ):
            lines = []
            for r in present:
                is_cpu = "CPU" in what
                if is_cpu and rows[r][3] == "-":
                    continue
                if table is not cpus and not any((section, r, s) in table for s in servers):
                    continue
                desc, _, better, _ = rows[r]
                better = "lower" if is_cpu else better
                meds, cells = {}, []
                for s in servers:
                    text, meds[s] = cell(table.get((section, r, s), []))
                    cells.append(text)
                rats = [ratio(meds.get("usher"), meds[o]) for o in others if "usher" in servers]
                lines.append(
                    f"| {r} | {desc} | {unit_of(r)} | {better} | "
                    + " | ".join(cells + rats)
                    + " |"
                )
            if not lines:
                continue
            print(f"\n### {titles.get(section, section)}: {what}\n")
            head = ["row", "workload", "unit", "better"] + servers
            if "usher" in servers:
                head += [f"usher/{o}" for o in others]
            print("| " + " | ".join(head) + " |")
            print("|" + "---|" * len(head))
            print("\n".join(lines))
    print("\nCells: median over rounds (min–max). Ratios are of medians, usher over the other server.")
    for section in sections:
        paired_table(section, present_in[section], rows, others, by_round, titles)
    if notes:
        print("\nNotes and failures:")
        for n in notes:
            print(f"- {n}")


def spread(ratios):
    """Two decimals: median (min–max), or the one value."""
    med = statistics.median(ratios)
    if len(ratios) == 1:
        return f"{med:.2f}"
    return f"{med:.2f} ({min(ratios):.2f}–{max(ratios):.2f})"


def paired_table(section, present, rows, others, by_round, titles):
    """usher over each other server within each round, median (min–max) over rounds.

    The servers of one round run minutes apart at most, in an order that rotates; on a
    machine whose load drifts, the ratio of two servers' figures from the same round
    moves less than the ratio of their medians over the whole run."""
    if not others:
        return
    measures = (("rate", "rate or size"), ("cpu", "server CPU"), ("sum", "server and client CPU"))
    lines = []
    for r in present:
        for measure, label in measures:
            cells, any_pair = [], False
            for o in others:
                mine = by_round.get((measure, section, r, "usher"), {})
                theirs = by_round.get((measure, section, r, o), {})
                pairs = [mine[k] / theirs[k] for k in mine if theirs.get(k)]
                any_pair |= bool(pairs)
                cells.append(spread(pairs) if pairs else "—")
            if any_pair:
                lines.append(f"| {r} | {rows[r][0]} | {label} | " + " | ".join(cells) + " |")
    if not lines:
        return
    print(f"\n### {titles.get(section, section)}: usher over each server, round by round\n")
    print("| row | workload | measure | " + " | ".join(f"usher/{o}" for o in others) + " |")
    print("|" + "---|" * (3 + len(others)))
    print("\n".join(lines))
    print(
        "\nCells: the ratio within each round, median over rounds (min–max); steadier than"
        " the ratio of medians when the machine's load drifts during the run."
    )


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("ports")
    sp.add_argument("n", type=int)
    sp.set_defaults(func=cmd_ports)
    si = sub.add_parser("idle")
    si.add_argument("--port", type=int, required=True)
    si.add_argument("--path", required=True)
    si.add_argument("--conns", type=int, default=1000)
    si.add_argument("--pid", type=int, required=True)
    si.set_defaults(func=cmd_idle)
    sr = sub.add_parser("report")
    sr.add_argument("results")
    sr.add_argument("rows")
    sr.set_defaults(func=cmd_report)
    args = p.parse_args()
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
