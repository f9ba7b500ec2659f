"""`python -m bench.receiver PORT`: the webhook receiver every streamer figure and its baseline post to, in
a process of its own so it never competes with the sender for the GIL. It counts requests and records
and, when asked, notes each record's id and arrival time (for latencies).

  POST /hook      count the records of the body (one object, an array, or an automation's callback whose
                  `event` is the record); answer 204
  GET  /stats     {"requests", "records"}
  GET  /arrivals  [[id, arrival_ms], …] since the last reset
  POST /reset     forget everything; `?track=1` notes arrivals from now on
"""

from __future__ import annotations

import sys
import time

import msgspec
from aiohttp import web


class Record(msgspec.Struct):
    id: int


class Callback(msgspec.Struct):
    """An automation's callback body: the event that fired it is inside."""

    event: Record


class Receiver:
    def __init__(self) -> None:
        self.requests = 0
        self.records = 0
        self.track = False
        self.arrivals: list[tuple[int, float]] = []
        self._many = msgspec.json.Decoder(list[Record])
        self._one = msgspec.json.Decoder(Record)
        self._callback = msgspec.json.Decoder(Callback)

    async def hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        now = time.time() * 1000
        if body[:1] == b"[":
            records = self._many.decode(body)
        elif body.startswith(b'{"automation"'):
            records = [self._callback.decode(body).event]
        else:
            records = [self._one.decode(body)]
        self.requests += 1
        self.records += len(records)
        if self.track:
            self.arrivals.extend((r.id, now) for r in records)
        return web.Response(status=204)

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response({"requests": self.requests, "records": self.records})

    async def arrived(self, request: web.Request) -> web.Response:
        return web.Response(body=msgspec.json.encode(self.arrivals), content_type="application/json")

    async def reset(self, request: web.Request) -> web.Response:
        self.requests = self.records = 0
        self.arrivals = []
        self.track = request.query.get("track") == "1"
        return web.Response(status=204)


def main(port: int) -> None:
    receiver = Receiver()
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/hook", receiver.hook)
    app.router.add_get("/stats", receiver.stats)
    app.router.add_get("/arrivals", receiver.arrived)
    app.router.add_post("/reset", receiver.reset)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main(int(sys.argv[1]))
