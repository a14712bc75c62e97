"""A charge point on the PyPI `ocpp` package (OCPP 1.6-J), driven by
test/integration/57-ocpp-python.test.ts.

Usage: ocpp-py-charge-point.py URL CHARGE_POINT_ID PASSWORD

Connects to URL/CHARGE_POINT_ID with subprotocol ocpp1.6 and HTTP Basic credentials, sends
BootNotification, answers RemoteStartTransaction with Accepted, then sends a Heartbeat and
exits. Each step is one JSON line on stdout; a refused connection prints {"step": "refused"}.
"""
import asyncio
import base64
import json
import sys

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action, RemoteStartStopStatus


def say(**kw):
    print(json.dumps(kw), flush=True)


class Cp(ChargePoint):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.remote_started = asyncio.Event()

    @on(Action.remote_start_transaction)
    def on_remote_start(self, id_tag, connector_id=None, **kwargs):
        say(step="remote_start", id_tag=id_tag, connector_id=connector_id)
        self.remote_started.set()
        return call_result.RemoteStartTransaction(status=RemoteStartStopStatus.accepted)


async def main(url, cid, password):
    auth = base64.b64encode(f"{cid}:{password}".encode()).decode()
    try:
        ws = await websockets.connect(f"{url}/{cid}", subprotocols=["ocpp1.6"], additional_headers={"Authorization": f"Basic {auth}"})
    except Exception as e:  # noqa: BLE001 - the test reads the refusal
        say(step="refused", error=str(e))
        return 0
    say(step="connected", subprotocol=ws.subprotocol)
    cp = Cp(cid, ws, response_timeout=15)
    runner = asyncio.create_task(cp.start())
    res = await cp.call(call.BootNotification(charge_point_model="Petrel-Test", charge_point_vendor="PyPI-ocpp"))
    say(step="boot", status=res.status, interval=res.interval, current_time=res.current_time)
    await asyncio.wait_for(cp.remote_started.wait(), 20)
    await asyncio.sleep(0.2)  # let the CALLRESULT leave before the next CALL
    hb = await cp.call(call.Heartbeat())
    say(step="heartbeat", current_time=hb.current_time)
    await ws.close()
    runner.cancel()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3])))
