#!/usr/bin/env python3
"""floods.py - the processes of test_floods.sh (one tool, several modes).

  floods.py echo NAME PORT [ADDR...]
      TCP server on PORT (all addresses, or each ADDR): answers every line
      "L" with "NAME L".  Runs until killed.
  floods.py flap NAME PORT PERIOD_MS SECONDS ADDR...
      A listener per ADDR, open for PERIOD_MS then closed for PERIOD_MS,
      address k shifted by k * PERIOD_MS / len(ADDR) (so changes interleave);
      accepted connections are answered like `echo`.  Stops after SECONDS.
  floods.py clients ADDR PORT N DIR
      N long-lived connections to ADDR:PORT (opened 50 at a time); each
      sends a line every 0.5 s and expects "NAME line" back.  Writes
      DIR/ready when all are open and have answered once, and
      DIR/conns ("localport NAME" per connection); stops when DIR/stop
      exists and prints one JSON line: opened, broken, moved, rounds.
  floods.py probe SOCKET SECONDS
      One control request ("vip show") every 50 ms for SECONDS, timed
      from connect to the end of the answer.  Prints one JSON line: n,
      failed, max_ms, p50_ms, p99_ms.
  floods.py load-ctl SOCKET N DEADLINE_S
  floods.py load-http ADDR PORT N DEADLINE_S
      N concurrent clients (all connected before any request is sent) of
      lbd's control socket ("vip show") or /metrics.  Prints one JSON line:
      answered, refused (closed without an answer, "error too many
      clients", HTTP 503), bad (anything else), hung (no end by the
      deadline), connect_failed.  HTTP clients come from 127.0.0.1 to
      127.0.0.50, so the server's per-address limit is not all they meet.
"""
import asyncio
import json
import os
import socket
import sys
import time


async def serve_conn(name, reader, writer):
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            writer.write(name.encode() + b" " + line)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


def echo(name, port, addrs):
    async def main():
        hosts = addrs or [None]
        servers = [await asyncio.start_server(lambda r, w: serve_conn(name, r, w), h, port,
                                              reuse_address=True, backlog=1024)
                   for h in hosts]
        await asyncio.gather(*(s.serve_forever() for s in servers))
    asyncio.run(main())


def flap(name, port, period_ms, seconds, addrs):
    async def one(k, addr, end):
        period = period_ms / 1000.0
        await asyncio.sleep(k * period / len(addrs))
        while time.monotonic() < end:
            srv = await asyncio.start_server(lambda r, w: serve_conn(name, r, w), addr, port,
                                             reuse_address=True)
            await asyncio.sleep(period)
            srv.close()  # the listener only: accepted connections stay
            await asyncio.sleep(period)

    async def main():
        end = time.monotonic() + seconds
        await asyncio.gather(*(one(k, a, end) for k, a in enumerate(addrs)))
    asyncio.run(main())


class Conn:
    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer
        self.name = None
        self.port = writer.get_extra_info("sockname")[1]
        self.broken = False
        self.moved = False


async def conn_round(c, k):
    if c.broken:
        return
    try:
        c.writer.write(b"ping %d\n" % k)
        await c.writer.drain()
        line = await asyncio.wait_for(c.reader.readline(), 10)
        name, _, rest = line.decode().strip().partition(" ")
        if rest != "ping %d" % k:
            c.broken = True
        elif c.name is None:
            c.name = name
        elif name != c.name:
            c.moved = True
    except (asyncio.TimeoutError, ConnectionError, OSError, UnicodeDecodeError):
        c.broken = True


def clients(addr, port, n, d):
    async def open_one(sem):
        async with sem:
            for _ in range(3):
                try:
                    r, w = await asyncio.wait_for(asyncio.open_connection(addr, port), 10)
                    return Conn(r, w)
                except (asyncio.TimeoutError, OSError):
                    await asyncio.sleep(0.2)
            return None

    async def main():
        sem = asyncio.Semaphore(50)
        conns = [c for c in await asyncio.gather(*(open_one(sem) for _ in range(n))) if c]
        rounds = 0
        await asyncio.gather(*(conn_round(c, rounds) for c in conns))
        rounds += 1
        with open(os.path.join(d, "conns"), "w") as f:
            for c in conns:
                f.write("%d %s\n" % (c.port, c.name))
        open(os.path.join(d, "ready"), "w").close()
        while not os.path.exists(os.path.join(d, "stop")):
            t0 = time.monotonic()
            await asyncio.gather(*(conn_round(c, rounds) for c in conns))
            rounds += 1
            await asyncio.sleep(max(0, 0.5 - (time.monotonic() - t0)))
        print(json.dumps({"opened": len(conns), "broken": sum(c.broken for c in conns),
                          "moved": sum(c.moved for c in conns), "rounds": rounds}))
        for c in conns:
            c.writer.close()
    asyncio.run(main())


async def load_one(family, target, request, judge, start, deadline, res, k):
    try:
        if family == socket.AF_UNIX:
            conn = asyncio.open_unix_connection(target)
        else:  # from 127.0.0.1 ... 127.0.0.50: past the per-address limit
            conn = asyncio.open_connection(*target, local_addr=("127.0.0.%d" % (1 + k % 50), 0))
        reader, writer = await asyncio.wait_for(conn, deadline - time.monotonic())
    except (asyncio.TimeoutError, OSError):
        res["connect_failed"] += 1
        res["_tried"] += 1
        return
    res["_tried"] += 1
    await start.wait()  # every client is connected before any asks
    data = b""
    try:
        writer.write(request)
        if family == socket.AF_UNIX:
            writer.write_eof()
        await writer.drain()
        while True:
            chunk = await asyncio.wait_for(reader.read(65536), deadline - time.monotonic())
            if not chunk:
                break
            data += chunk
    except asyncio.TimeoutError:
        res["hung"] += 1
        writer.close()
        return
    except (ConnectionError, OSError):
        pass
    writer.close()
    res[judge(data)] += 1


def judge_ctl(data):
    if data.startswith(b"ok\n") and b"/tcp" in data:
        return "answered"
    if data == b"" or data.startswith(b"error too many clients"):
        return "refused"
    return "bad"


def judge_http(data):
    if data.startswith(b"HTTP/1.1 200") and b"xdplb_build_info" in data:
        return "answered"
    if data == b"" or data.startswith(b"HTTP/1.1 503"):
        return "refused"
    return "bad"


def load(family, target, request, judge, n, deadline_s):
    async def main():
        res = dict(answered=0, refused=0, bad=0, hung=0, connect_failed=0, _tried=0)
        start = asyncio.Event()
        deadline = time.monotonic() + deadline_s
        tasks = [asyncio.create_task(load_one(family, target, request, judge, start, deadline,
                                              res, k)) for k in range(n)]
        # let every connect finish (or fail) before the requests go
        t_end = time.monotonic() + deadline_s / 2
        while res["_tried"] < n and time.monotonic() < t_end:
            await asyncio.sleep(0.05)
        res["connected_at_start"] = res["_tried"] - res["connect_failed"]
        start.set()
        await asyncio.gather(*tasks)
        del res["_tried"]
        res["seconds"] = round(time.monotonic() - (deadline - deadline_s), 2)
        print(json.dumps(res))
    asyncio.run(main())


def probe(path, seconds):
    lat, failed = [], 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.monotonic()
        data = b""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(30)
                s.connect(path)
                s.sendall(b"vip show")
                s.shutdown(socket.SHUT_WR)
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
        except OSError:
            pass
        lat.append((time.monotonic() - t0) * 1000)
        failed += not data.startswith(b"ok\n")
        time.sleep(0.05)
    lat.sort()
    print(json.dumps({"n": len(lat), "failed": failed, "max_ms": round(lat[-1], 1),
                      "p50_ms": round(lat[len(lat) // 2], 1),
                      "p99_ms": round(lat[len(lat) * 99 // 100], 1)}))


def main(argv):
    mode = argv[1] if len(argv) > 1 else ""
    if mode == "echo":
        echo(argv[2], int(argv[3]), argv[4:])
    elif mode == "flap":
        flap(argv[2], int(argv[3]), int(argv[4]), float(argv[5]), argv[6:])
    elif mode == "clients":
        clients(argv[2], int(argv[3]), int(argv[4]), argv[5])
    elif mode == "probe":
        probe(argv[2], float(argv[3]))
    elif mode == "load-ctl":
        load(socket.AF_UNIX, argv[2], b"vip show", judge_ctl, int(argv[3]), float(argv[4]))
    elif mode == "load-http":
        req = b"GET /metrics HTTP/1.1\r\nHost: lbd\r\nConnection: close\r\n\r\n"
        load(socket.AF_INET, (argv[2], int(argv[3])), req, judge_http, int(argv[4]),
             float(argv[5]))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
