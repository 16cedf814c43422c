"""The sysadm protocol driven by python `websockets` (a client this project
did not write), for crates/sysadmd/tests/interop.rs.

Usage: python websockets_client.py URL CA_FILE USER PASSWORD ROUNDS
Prints "ok" and exits 0, or says what went wrong and exits 1.
"""

import json
import ssl
import sys

from websockets.sync.client import connect

url, ca_file, user, password, rounds = sys.argv[1:6]
rounds = int(rounds)
LOGIN = {"namespace": "rpc", "name": "auth", "id": "login",
         "args": {"username": user, "password": password}}


def fail(why):
    print(why, file=sys.stderr)
    sys.exit(1)


def send(socket, message):
    socket.send(json.dumps(message))


def collect(socket, ids, want_event=None):
    """Reads until every id in `ids` has its reply and, if asked, until an
    event matching `want_event` arrived; returns the replies by id."""
    replies, seen = {}, want_event is None
    while len(replies) < len(ids) or not seen:
        message = json.loads(socket.recv(timeout=30))
        if message["namespace"] == "events" and message["name"] not in ("response", "error"):
            seen = seen or want_event(message)
        elif message["id"] in ids:
            replies[message["id"]] = message
        else:
            fail(f"unexpected message {message}")
    return replies


context = ssl.create_default_context(cafile=ca_file)
with connect(url, ssl=context) as socket:
    send(socket, LOGIN)
    if collect(socket, ["login"])["login"]["name"] != "response":
        fail("login refused")

    # Login and a request in one burst, as tests/sendwebsocket.js sends them.
    for round_ in range(rounds):
        send(socket, {"namespace": "rpc", "name": "auth_clear", "id": "clear", "args": {}})
        send(socket, LOGIN)
        send(socket, {"namespace": "sysadm", "name": "iocage", "id": "ask",
                      "args": {"action": "listjails"}})
        reply = collect(socket, ["clear", "login", "ask"])["ask"]
        if "listjails" not in reply["args"]:
            fail(f"round {round_}: the request raced the login: {reply}")

    # The API guide's subscription template, then a change, in one burst.
    send(socket, {"namespace": "sysadm", "name": "iocage", "id": "create",
                  "args": {"action": "createjail", "props": "tag=py"}})
    collect(socket, ["create"])
    for round_ in range(rounds):
        action = "startjail" if round_ % 2 == 0 else "stopjail"
        send(socket, {"namespace": "events", "name": "unsubscribe", "id": "unsub",
                      "args": "dispatcher"})
        send(socket, {"namespace": "events", "name": "subscribe", "id": "sub",
                      "args": ["dispatcher", "life-preserver", "system-state"]})
        send(socket, {"namespace": "sysadm", "name": "iocage", "id": "change",
                      "args": {"action": action, "jail": "py"}})
        replies = collect(
            socket, ["unsub", "sub", "change"],
            lambda event: event["name"] == "dispatcher"
            and event["args"]["state"] == "running" and event["args"]["action"] == action)
        sub = replies["sub"]["args"]
        if sub.get("never_sent") != ["life-preserver", "system-state"]:
            fail(f"round {round_}: subscription reply {sub}")

    # Arguments at the top level, and class names in another case.
    send(socket, {"namespace": "SYSADM", "name": "IocAge", "id": "top", "action": "listjails"})
    reply = collect(socket, ["top"])["top"]
    if "listjails" not in reply["args"]:
        fail(f"top-level arguments not read: {reply}")
print("ok")
