"""A local MJPEG-over-HTTP camera: serves frames as the multipart stream IP cameras send.

It lets the simulator (and the tests) present rendered or recorded frames to the edge as a
live network camera, read by the same OpenCV/FFmpeg path as a real one, and it can misbehave
on demand: :meth:`MjpegServer.pause` stops sending on open connections (the client's read
blocks: a stall), :meth:`MjpegServer.refuse` answers new connections with 503 (the camera
is unreachable), :meth:`MjpegServer.restore` undoes both.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np
import numpy.typing as npt

__all__ = ["MjpegServer"]

_BOUNDARY = b"walkoutframe"


class MjpegServer:
    """Serves ``frames`` in a loop at ``fps`` on http://127.0.0.1:PORT/stream.mjpg.

    Args:
        frames: uint8 HxWx3 BGR frames (sizes may differ: a resolution change mid-stream).
        fps: frames sent per second on each connection.
        jpeg_quality: 0-100; lower sends fewer bytes at more artefacts.
        host: interface to bind; keep 127.0.0.1 outside a lab network.
    """

    def __init__(
        self,
        frames: Sequence[npt.NDArray[np.uint8]],
        fps: float,
        *,
        jpeg_quality: int = 80,
        host: str = "127.0.0.1",
    ) -> None:
        if len(frames) == 0:
            raise ValueError("frames: expected at least one frame")
        if not fps > 0:
            raise ValueError(f"fps: expected a positive rate, got {fps}")
        self._quality = jpeg_quality
        self._jpegs = self._encode(frames)
        self._period = 1.0 / fps
        self._paused = threading.Event()
        self._refused = threading.Event()
        self._closed = threading.Event()
        self.frames_sent = 0
        handler = self._handler_class()
        self._httpd = ThreadingHTTPServer((host, 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, daemon=True, name="mjpeg-server"
        )

    def _encode(self, frames: Sequence[npt.NDArray[np.uint8]]) -> list[bytes]:
        jpegs = []
        for i, f in enumerate(frames):
            ok, buf = cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, self._quality])
            if not ok:
                raise ValueError(f"frames[{i}]: could not be JPEG-encoded (shape {f.shape})")
            jpegs.append(buf.tobytes())
        return jpegs

    def replace_frames(self, frames: Sequence[npt.NDArray[np.uint8]]) -> None:
        """Serves these frames from now on (say, a camera reconfigured to another size)."""
        if len(frames) == 0:
            raise ValueError("frames: expected at least one frame")
        self._jpegs = self._encode(frames)  # one assignment: streams see old or new, whole

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/stream.mjpg"

    def start(self) -> MjpegServer:
        self._thread.start()
        return self

    def pause(self) -> None:
        """Open connections stop receiving frames (they stay open): the client stalls."""
        self._paused.set()

    def refuse(self) -> None:
        """New connections get 503 and open ones are closed: the camera is unreachable."""
        self._refused.set()

    def restore(self) -> None:
        self._refused.clear()
        self._paused.clear()

    def close(self) -> None:
        self._closed.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> MjpegServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass  # the test output stays readable

            def do_GET(self) -> None:
                if server._refused.is_set():
                    self.send_error(503, "camera unavailable")
                    return
                self.send_response(200)
                self.send_header(
                    "Content-Type", "multipart/x-mixed-replace; boundary=" + _BOUNDARY.decode()
                )
                self.end_headers()
                server._stream(self.wfile.write)

        return Handler

    def _stream(self, write: Callable[[bytes], object]) -> None:
        k = 0
        next_due = time.monotonic()
        try:
            while not self._closed.is_set():
                if self._refused.is_set():
                    return  # drop the connection
                if self._paused.is_set():
                    time.sleep(0.005)
                    next_due = time.monotonic()
                    continue
                jpegs = self._jpegs
                jpeg = jpegs[k % len(jpegs)]
                write(
                    b"--"
                    + _BOUNDARY
                    + b"\r\nContent-Type: image/jpeg\r\nContent-Length: "
                    + str(len(jpeg)).encode()
                    + b"\r\n\r\n"
                    + jpeg
                    + b"\r\n"
                )
                self.frames_sent += 1
                k += 1
                next_due += self._period
                delay = next_due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
        except (BrokenPipeError, ConnectionResetError):
            return  # the client went away
