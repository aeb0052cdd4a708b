#!/usr/bin/env python3
"""Skyport demo application: the application contract by example.

The stream host starts this program with SKYPORT_HOST_SOCKET naming a Unix socket; everything goes
over it as one JSON object per line. For each session the app echoes every input as
"echo <input> (input #N)", N counting the user's inputs across sessions: the count is the session
state, {"count": N}, handed over in session_attached and saved with state_saved on detach and on the
termination notice. The app serves any number of sessions at once and exits when the socket closes.
"""
import base64
import json
import os
import socket
import sys


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def main() -> None:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(os.environ["SKYPORT_HOST_SOCKET"])
    reader = conn.makefile("rb")

    def send(message: dict) -> None:
        conn.sendall(json.dumps(message).encode() + b"\n")

    def save(session_id: str) -> None:
        state = json.dumps({"count": counts[session_id]}).encode()
        send({"type": "state_saved", "session_id": session_id, "state": b64(state)})

    counts: dict[str, int] = {}  # session id -> inputs so far
    send({"type": "ready"})
    for line in reader:  # ends when the host closes the socket
        message = json.loads(line)
        kind = message["type"]
        if kind == "session_attached":
            prior = message.get("state")
            counts[message["session_id"]] = json.loads(base64.b64decode(prior))["count"] if prior else 0
        elif kind == "input":
            session_id = message["session_id"]
            counts[session_id] += 1
            text = base64.b64decode(message["data"]).decode(errors="replace")
            reply = f"echo {text} (input #{counts[session_id]})".encode()
            send({"type": "output", "session_id": session_id, "data": b64(reply)})
        elif kind == "session_detached":
            save(message["session_id"])
            del counts[message["session_id"]]
        elif kind == "termination_notice":
            for session_id in counts:
                save(session_id)
            sys.exit(0)


if __name__ == "__main__":
    main()
