"""The Event API baseline: a bare Starlette app on uvicorn answering GET /api/v1/event with pre-encoded
bytes (the same 50-event page the real server returned), whatever the query string. Served like
`cellstream serve` serves its app: uvicorn.Server with the same Config options on a uvloop event loop.

    python -m bench.baseline_app BODY_FILE HOST PORT
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import uvicorn
import uvloop
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.server import UVICORN_OPTIONS


def make_app(body: bytes) -> Starlette:
    async def page(request: Request) -> Response:
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route("/api/v1/event", page)])


def main(argv: list[str]) -> None:
    body_file, host, port = argv
    app = make_app(Path(body_file).read_bytes())
    config = uvicorn.Config(app, host=host, port=int(port), **UVICORN_OPTIONS)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(uvicorn.Server(config).serve())


if __name__ == "__main__":
    main(sys.argv[1:])
