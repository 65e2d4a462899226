"""The byte link between the host and a board.

:class:`Link` is the interface; :class:`SerialLink` is the real thing,
opened with pyserial from any port name or URL (``/dev/ttyACM0``, a pty
path, ``socket://host:port``, ``rfc2217://...``). A fault-injecting or
recording wrapper implements the same interface around another link.
"""

from __future__ import annotations

import abc
import os
import select
import time

import serial


class LinkError(ConnectionError):
    """The link failed: the port vanished, could not be opened, or broke."""


class Link(abc.ABC):
    """A bidirectional byte stream with a read timeout."""

    name: str = "link"

    @property
    def frames_ahead(self) -> bool:
        """Whether a host may write a STEP frame before the reply to the one
        before (docs/protocol.md, "STEP frames sent ahead"): yes, unless the
        link it wraps (``inner``) says no. A link that relates what the
        board does to the last frame written says False."""
        inner = getattr(self, "inner", None)
        return True if inner is None else bool(getattr(inner, "frames_ahead", True))

    @abc.abstractmethod
    def write(self, data: bytes) -> None:
        """Send bytes, all of them."""

    @abc.abstractmethod
    def read(self, max_bytes: int, timeout_s: float) -> bytes:
        """Return 1..max_bytes bytes, or ``b""`` if none came within timeout_s."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the port."""

    def __enter__(self) -> "Link":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SerialLink(Link):
    """A pyserial port.

    Args:
        port: device path or pyserial URL.
        baudrate: ignored by ptys and USB CDC, honoured by real UARTs.
    """

    def __init__(self, port: str, baudrate: int = 115200) -> None:
        self.name = port
        try:
            self.ser = serial.serial_for_url(port, baudrate=baudrate, timeout=1.0,
                                             write_timeout=10.0, exclusive=None)
        except (serial.SerialException, OSError, ValueError) as e:
            raise LinkError(f"cannot open serial port {port}: {e}") from e
        self._timeout = 1.0
        # A local port (a tty, a pty) is read and written through its file
        # descriptor: one select() and one read() per call, without
        # reconfiguring the port for each new timeout as pyserial's read
        # does. A URL (socket://, rfc2217://) goes through pyserial.
        self._fd: int | None = getattr(self.ser, "fd", None)

    def write(self, data: bytes) -> None:
        try:
            if self._fd is None:
                self.ser.write(data)
                return
            view = memoryview(data)
            deadline = time.monotonic() + 10.0
            while view:
                try:
                    view = view[os.write(self._fd, view):]
                except BlockingIOError:
                    pass
                left = deadline - time.monotonic()
                if view and not select.select([], [self._fd], [], max(0.0, left))[1]:
                    raise LinkError(f"serial port {self.name}: write timed out")
        except LinkError:
            raise
        except (serial.SerialException, OSError) as e:
            raise LinkError(f"serial port {self.name} failed while writing: {e}") from e

    def read(self, max_bytes: int, timeout_s: float) -> bytes:
        if self._fd is not None:
            return self._read_fd(max_bytes, timeout_s)
        try:
            if timeout_s != self._timeout:
                self.ser.timeout = timeout_s
                self._timeout = timeout_s
            waiting = self.ser.in_waiting
            return self.ser.read(min(max_bytes, waiting) if waiting else 1)
        except (serial.SerialException, OSError) as e:
            raise LinkError(f"serial port {self.name} vanished or failed while reading: {e}") from e

    def _read_fd(self, max_bytes: int, timeout_s: float) -> bytes:
        fd = self._fd
        try:
            if not select.select([fd], [], [], max(0.0, timeout_s))[0]:
                return b""
            data = os.read(fd, max_bytes)
        except BlockingIOError:
            return b""
        except (OSError, ValueError, TypeError) as e:
            raise LinkError(f"serial port {self.name} vanished or failed while reading: {e}") from e
        if not data:
            raise LinkError(f"serial port {self.name} vanished while reading (end of file)")
        return data

    def close(self) -> None:
        self._fd = None
        try:
            self.ser.close()
        except (serial.SerialException, OSError):
            pass
