"""The attach stream of a Docker sandbox: the job's files in, its output out, capped."""

from __future__ import annotations

import socket
import struct
import threading
from typing import Any

from sandbox.capture import JobOutput


def raw_socket(attached: Any) -> socket.socket:
    # docker's attach_socket hands back a SocketIO around the hijacked connection.
    return getattr(attached, "_sock", attached)


def close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed
    sock.close()


def send(sock: socket.socket, payload: bytes) -> None:
    try:
        sock.sendall(payload)
    except OSError:
        pass  # it died before reading everything; its exit says why


def _read_exactly(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def pump_frames(sock: socket.socket, output: JobOutput, finished: threading.Event) -> None:
    """Demultiplex the attach stream (8-byte header per frame) into the capped streams."""
    try:
        while not output.over_cap.is_set():
            header = _read_exactly(sock, 8)
            if header is None:
                break
            kind, size = struct.unpack(">BxxxL", header)
            remaining = size
            while remaining:
                chunk = sock.recv(min(remaining, 1 << 16))
                if not chunk:
                    return
                remaining -= len(chunk)
                if kind == 1:
                    output.feed_stdout(chunk)
                elif kind == 2:
                    output.feed_stderr(chunk)
    except OSError:
        pass  # the socket is closed under us when the container is killed
    finally:
        finished.set()
