"""The server's log: every record one line on stderr, JSON by default, written by a
thread of its own.

A JSON line holds `time` (UTC, ISO 8601), `level`, `logger`, `message`, `pid`, the
`request_id` of the call it was logged in (when there is one), the record's extra
fields (`logger.info("...", extra={...})`: the request log's `rpc`, `code`,
`duration_ms`...) and, for an error, `error` and the whole `traceback` as one string
field, so that a line is always one record. `log_format = "text"` writes the same
records for a person instead (a traceback then spans lines).

The serving threads only make the record and queue it (`QueueHandler`); a writer
thread of its own formats and writes it. That thread is not woken per record: a
wake-up per line took the GIL from the serving threads once per call, the largest
single cost of a call under load (docs/performance.md, "Where a call's time goes").
It wakes every WRITE_INTERVAL seconds, or at once for a WARNING or worse, and writes
what has queued in one go; at exit (and `stop()`) it writes the rest. So an ordinary
line reaches stderr at most WRITE_INTERVAL late, and a process killed with SIGKILL
loses at most that much of its log. A record below the level is never
made, so never formatted, and the record skips what nothing here prints (the
caller's file and line, thread and process names: the optimisations of Python's
logging HOWTO). Warnings and uncaught exceptions (in any thread) become records
too, so nothing else writes to stderr once logging is configured, except the one
line a server that cannot start prints before it exits.
"""

import atexit
import json
import logging
import logging.handlers
import os
import queue
import sys
import threading
import time

from . import request_ids

FORMATS = ("json", "text")
# What every record has; anything else on a record is an extra field of the line.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "request_id"}

_listener: "_BatchWriter | None" = None
_hooks_installed = False


_second = (-1, "")  # the last whole second formatted, and its text (one writer thread)


def _utc(created: float) -> str:
    global _second
    whole = int(created)
    if whole != _second[0]:
        _second = whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    return f"{_second[1]}.{int(created % 1 * 1000):03d}Z"


def _extra_fields(record: logging.LogRecord) -> dict:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


class JsonLines(logging.Formatter):
    """One JSON object per record, on one line (newlines in strings escaped, and
    no raw U+2028 either: ASCII only)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": _utc(record.created), "level": record.levelname,
                 "logger": record.name, "message": record.getMessage(), "pid": os.getpid()}
        request_id = record.__dict__.get("request_id")
        if request_id:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value
        if record.exc_info:
            kind, error, _ = record.exc_info
            entry["error"] = f"{kind.__name__}: {error}" if kind else ""
            entry["traceback"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, default=str)


class TextLines(logging.Formatter):
    """The same records for a person: time, level, logger, [request id], message,
    key=value extras, then the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = record.__dict__.get("request_id")
        parts = [_utc(record.created), record.levelname, record.name]
        if request_id:
            parts.append(f"[{request_id}]")
        parts.append(record.getMessage())
        parts.extend(f"{k}={v}" for k, v in _extra_fields(record).items())
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + record.stack_info
        return line


FORMATTERS = {"json": JsonLines, "text": TextLines}


class _Handoff(logging.handlers.QueueHandler):
    """Queues the record as it is, having noted the request id of the thread that
    made it: the message, the fields and the traceback are formatted by the writing
    thread (the stock QueueHandler formats here, for queues to other processes)."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        if "request_id" not in record.__dict__:
            record.request_id = request_ids.CURRENT.get()
        return record


# Seconds an ordinary record may wait in the queue before the writer wakes for it.
WRITE_INTERVAL = 0.05


class _BatchedHandoff(_Handoff):
    """As `_Handoff`; a WARNING or worse also wakes the writer at once."""

    def __init__(self, records, wake: threading.Event):
        super().__init__(records)
        self._wake = wake

    def enqueue(self, record: logging.LogRecord) -> None:
        self.queue.put_nowait(record)
        if record.levelno >= logging.WARNING:
            self._wake.set()


class _BatchWriter:
    """The writing thread: every WRITE_INTERVAL (or when woken), everything queued."""

    def __init__(self, records: queue.SimpleQueue, writer: logging.Handler,
                 wake: threading.Event):
        self._records, self._writer, self._wake = records, writer, wake
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(WRITE_INTERVAL)
            self._wake.clear()
            self._drain()
        self._drain()

    def _drain(self) -> None:
        """Format what is queued and write it with one write and one flush."""
        lines = []
        while True:
            try:
                record = self._records.get_nowait()
            except queue.Empty:
                break
            try:
                lines.append(self._writer.format(record))
            except Exception:
                self._writer.handleError(record)
        if lines:
            try:
                self._writer.stream.write("\n".join(lines) + "\n")
                self._writer.stream.flush()
            except (OSError, ValueError):  # stderr gone (closed pipe): nowhere to say so
                pass

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        self._thread.join()


def configure(level: str = "INFO", log_format: str = "json", stream=None) -> None:
    """Send every record of this process, at `level` and above, to `stream` (stderr)
    in `log_format`, written by a thread of its own; again: replace the previous."""
    global _listener
    stop()
    logging._srcfile = None  # no caller's file and line looked up per record
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    writer = logging.StreamHandler(stream or sys.stderr)
    writer.setFormatter(FORMATTERS[log_format]())
    records: queue.SimpleQueue = queue.SimpleQueue()
    root = logging.getLogger()
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    wake = threading.Event()
    root.addHandler(_BatchedHandoff(records, wake))
    root.setLevel(level)
    _listener = _BatchWriter(records, writer, wake)
    _listener.start()
    logging.captureWarnings(True)
    _install_hooks()


def stop() -> None:
    """Write what is queued and stop the writing thread (at exit, too)."""
    global _listener
    listener, _listener = _listener, None
    if listener is not None:
        listener.stop()


def _install_hooks() -> None:
    """Uncaught exceptions, in the main thread or any other, as error records."""
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(stop)
    log = logging.getLogger("identity_grpc")

    def uncaught(kind, error, trace):
        if issubclass(kind, KeyboardInterrupt):
            return sys.__excepthook__(kind, error, trace)
        log.critical("uncaught exception", exc_info=(kind, error, trace))

    def uncaught_in_thread(args):
        if args.exc_type is SystemExit:
            return
        log.error("uncaught exception in thread %s", args.thread.name if args.thread else "?",
                  exc_info=(args.exc_type, args.exc_value, args.exc_traceback))

    sys.excepthook = uncaught
    threading.excepthook = uncaught_in_thread
