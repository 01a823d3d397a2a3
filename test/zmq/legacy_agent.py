#!/usr/bin/env python3
"""A legacy agent as such agents are written: a pyzmq REQ socket, send_json / recv_json, and the Lazy Pirate
pattern (poll with a timeout; on timeout close the socket, open a new one, re-send the same request).

Usage: legacy_agent.py tcp://127.0.0.1:7211 [api_key]
Prints one JSON line per step and exits 0 when every step behaved; exits 1 on the first that did not.
It does not know it talks to MOC rather than its old server: only the endpoint changed.
"""
import json
import sys
import uuid

import zmq

ENDPOINT = sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:7211"
API_KEY = sys.argv[2] if len(sys.argv) > 2 else None
TIMEOUT_MS = 30000
RETRIES = 3

ctx = zmq.Context.instance()


def new_socket():
    s = ctx.socket(zmq.REQ)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(ENDPOINT)
    return s


sock = new_socket()


def call(request, timeout_ms=TIMEOUT_MS):
    """Lazy Pirate: send, poll; on timeout reconnect and re-send the same request (same request_id)."""
    global sock
    if API_KEY:
        request = dict(request, api_key=API_KEY)
    for attempt in range(1, RETRIES + 1):
        sock.send_json(request)
        if sock.poll(timeout_ms, zmq.POLLIN):
            return sock.recv_json(), attempt
        sock.close()
        sock = new_socket()
    raise SystemExit(json.dumps({"step": request.get("action"), "ok": False, "why": "no reply after retries"}))


def check(step, ok, **info):
    print(json.dumps(dict(step=step, ok=bool(ok), **info)), flush=True)
    if not ok:
        sys.exit(1)


reply, _ = call({"action": "health"})
check("health", reply.get("status") == "ok", libzmq=reply.get("libzmq"))

reply, _ = call({"action": "list_models", "request_id": str(uuid.uuid4())})
names = [m["name"] for m in reply.get("models", [])]
check("list_models", reply.get("status") == "ok" and "moc-demo" in names, models=names)

rid = str(uuid.uuid4())
reply, _ = call({"action": "infer", "request_id": rid, "model": "moc-demo", "prompt": "Hello from a legacy agent",
                 "max_tokens": 8, "temperature": 0})
check("infer", reply.get("status") == "ok" and reply.get("request_id") == rid and reply.get("tokens_generated", 0) >= 1,
      tokens=reply.get("tokens_generated"), finish=reply.get("finish_reason"))

reply, _ = call({"action": "load_model", "request_id": str(uuid.uuid4()), "name": "agent-copy", "path": "moc-demo.gguf"})
check("load_model", reply.get("status") == "ok" and reply["model"]["state"] == "loaded", device=reply.get("model", {}).get("device"))

reply, _ = call({"action": "infer", "model": "nope", "prompt": "x"})
check("error_reply", reply.get("status") == "error" and reply.get("code") == "NOT_FOUND", message=reply.get("message"))

# Lazy Pirate for real: a reply that does not come within 1 ms (inference takes longer) makes the agent give up on
# the socket and re-send the same unload on a new one. The server must act once: every attempt sees the first answer.
unload = {"action": "unload_model", "request_id": "unload-" + str(uuid.uuid4()), "name": "agent-copy"}
sock.send_json(unload)
gave_up = not sock.poll(0, zmq.POLLIN)
sock.close()
sock = new_socket()
reply, attempts = call(unload)
check("lazy_pirate_retry", reply.get("status") == "ok" and reply.get("name") == "agent-copy",
      gave_up_first=gave_up, attempts=attempts, freed=reply.get("freed_bytes"))
again, _ = call(unload)
check("retry_acts_once", again == reply, second=again.get("status"))

sock.close()
ctx.term()
