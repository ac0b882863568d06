"""A DevTools-speaking websocket server that floods its client with Network events.

Run in a process of its own (the client's GIL must not pace it):

    python -m tests.reliability.cdp_flood RATE SECONDS

It prints its ws:// URL, answers every command with an empty result, and once a
client has sent its first command, sends RATE requests per second for SECONDS
(requestWillBeSent, responseReceived, loadingFinished each, with a lone
surrogate in every URL and an Authorization header), then a request with id
``marker``, then prints how many requests it sent. Only 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from websockets.asyncio.server import ServerConnection, serve

REQUEST = (
    '{"method":"Network.requestWillBeSent","params":{"requestId":"%s","timestamp":100.0,'
    '"wallTime":1700000000.0,"type":"Fetch","request":{"url":"http://127.0.0.1/%d?\\ud800",'
    '"method":"GET","headers":{"Authorization":"Bearer s3cret"}}}}'
)
RESPONSE = (
    '{"method":"Network.responseReceived","params":{"requestId":"%s","timestamp":100.1,'
    '"type":"Fetch","response":{"url":"http://127.0.0.1/","status":200,"headers":{}}}}'
)
FINISHED = (
    '{"method":"Network.loadingFinished","params":{"requestId":"%s","timestamp":100.2,'
    '"encodedDataLength":10}}'
)


async def flood(websocket: ServerConnection, rate: int, seconds: float) -> None:
    """Answer commands; after the first one, send the flood, then the marker."""
    first = asyncio.Event()

    async def answer() -> None:
        async for raw in websocket:
            await websocket.send(json.dumps({"id": json.loads(raw)["id"], "result": {}}))
            first.set()

    replies = asyncio.create_task(answer())
    await first.wait()
    await asyncio.sleep(0.2)
    start = time.monotonic()
    number = 0
    while (elapsed := time.monotonic() - start) < seconds:
        due = int(elapsed * rate)
        while number < due:
            rid = f"r{number}"
            await websocket.send(REQUEST % (rid, number))
            await websocket.send(RESPONSE % rid)
            await websocket.send(FINISHED % rid)
            number += 1
        await asyncio.sleep(0.001)
    await websocket.send(REQUEST % ("marker", -1))
    print(number, flush=True)
    await replies


async def main(rate: int, seconds: float) -> None:
    done = asyncio.Event()

    async def handler(websocket: ServerConnection) -> None:
        try:
            await flood(websocket, rate, seconds)
        finally:
            done.set()

    async with serve(handler, "127.0.0.1", 0, max_size=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(f"ws://127.0.0.1:{port}/devtools/browser/flood", flush=True)
        await done.wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), float(sys.argv[2])))
