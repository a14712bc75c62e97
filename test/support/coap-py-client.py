"""
A third-party CoAP client (PyPI aiocoap) driven by test/integration/56-coap-python.test.ts.
It publishes a small and a large (block-wise, Block1) message, has an ACL-denied publish
refused, then observes a topic and waits for two notifications (the second large, reassembled
from Block2 blocks by aiocoap). Each step prints one JSON line on stdout for the test.

usage: coap-py-client.py <port> <client id> <publish topic> <observe topic>
"""
import asyncio
import json
import sys

import aiocoap
from aiocoap import Code, Message


def say(**kw):
    print(json.dumps(kw), flush=True)


def uri(port, path, query):
    return f"coap://127.0.0.1:{port}/ps/{path}?{query}"


async def main():
    port, cid, up, down = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    ctx = await aiocoap.Context.create_client_context()
    try:
        r = await ctx.request(Message(code=Code.POST, uri=uri(port, up, f"c={cid}&q=1"), payload=b"from aiocoap")).response
        say(step="publish", code=str(r.code))
        big = b"B" * 4000
        r = await ctx.request(Message(code=Code.POST, uri=uri(port, up + "/big", f"c={cid}"), payload=big)).response
        say(step="publish-large", code=str(r.code))
        r = await ctx.request(Message(code=Code.POST, uri=uri(port, "denied/x", f"c={cid}"), payload=b"no")).response
        say(step="publish-denied", code=str(r.code))
        req = ctx.request(Message(code=Code.GET, uri=uri(port, down, f"c={cid}"), observe=0))
        first = await req.response
        say(step="observing", code=str(first.code))
        got = 0
        async for n in req.observation:
            say(step="notification", size=len(n.payload), head=n.payload[:16].decode("utf-8", "replace"))
            got += 1
            if got == 2:
                req.observation.cancel()
                break
    finally:
        await ctx.shutdown()
    say(step="done")


if __name__ == "__main__":
    asyncio.run(asyncio.wait_for(main(), 30))
