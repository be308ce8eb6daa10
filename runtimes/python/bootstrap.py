"""Stratus Python runtime (python3.9 .. python3.13), standard library only.

Started before it knows its function (see runtimes/PROTOCOL.md): it boots, reads one JSON
assignment line from stdin, drops privileges, replaces its environment, enters the task root,
imports the handler and serves the Lambda Runtime API (2018-06-01) with Lambda's Python
programming model. Imports nothing from the platform.
"""

import atexit
import importlib
import json
import logging
import math
import os
import socket
import stat
import sys
import threading
import time
import traceback

PREFIX = "/2018-06-01/runtime/"
NEXT_PATH = PREFIX + "invocation/next"
ERROR_LOG_LINE_TERMINATE = "\r"
ERROR_LOG_IDENT = "\u00a0"
LAMBDA_WARNING = (
    "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code. However, "
    "in rare cases, a Lambda runtime update can cause unexpected function behavior. For functions using "
    "managed runtimes, runtime updates can be triggered by a function change, or can be applied automatically. "
    "To determine if the runtime has been updated, check the runtime version in the INIT_START log entry. If "
    "this error correlates with a change in the runtime version, you may be able to mitigate this error by "
    "temporarily rolling back to the previous runtime version. For more information, see "
    "https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html"
)

MARSHAL_ERROR = "Runtime.MarshalError"
UNMARSHAL_ERROR = "Runtime.UnmarshalError"
USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
LAMBDA_CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"


class FaultException(Exception):
    def __init__(self, exception_type, msg, trace=None):
        Exception.__init__(self, msg)
        self.msg = msg
        self.exception_type = exception_type
        self.trace = trace


# ---- Runtime API client: HTTP/1.1 keep-alive over one socket (http.client is slow to import) ----


class RuntimeApiError(Exception):
    pass


class Connection(object):
    def __init__(self, host_port, fd=None):
        # The platform's own connection to the same API (a descriptor this process was started
        # with), used first; TCP otherwise and whenever it is gone.
        self.fd = fd
        host, _, port = host_port.rpartition(":")
        self.address = (host.strip("[]") or "127.0.0.1", int(port))
        self.host_header = host_port
        self.sock = None
        self.reader = None
        # A request was sent behind the last one (pipelined) and its answer is still to be read.
        self.pending = False

    def _connect(self):
        s = None
        if self.fd is not None:
            fd, self.fd = self.fd, None
            try:
                s = socket.socket(fileno=fd)
                s.set_inheritable(False)  # the function's child processes do not get it
            except OSError:
                s = None
        if s is None:
            s = socket.create_connection(self.address)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = s
        self.reader = s.makefile("rb", 65536)

    def close(self):
        if self.sock is not None:
            try:
                self.reader.close()
                self.sock.close()
            except OSError:
                pass
        self.sock = None
        self.reader = None
        self.pending = False

    def _head(self, method, path, headers, length):
        head = "%s %s HTTP/1.1\r\nHost: %s\r\n" % (method, path, self.host_header)
        if headers:
            for k, v in headers.items():
                head += "%s: %s\r\n" % (k, v)
        head += "Content-Length: %d\r\n\r\n" % length
        return head.encode("latin-1")

    def request_then(self, method, path, headers, body, method2, path2):
        """HTTP/1.1 pipelining: sends a request with a body and a body-less one in one write and
        returns the first answer; read_pending() reads the second. Saves a round trip per
        invocation: the result and the request for the next event leave together."""
        for attempt in (0, 1):
            reused = self.sock is not None
            if self.sock is None:
                self._connect()
            try:
                self.sock.sendall(self._head(method, path, headers, len(body)) + body + self._head(method2, path2, None, 0))
                r = self._read_response()
                # Still open: the second answer comes on this connection (a close drops it).
                self.pending = self.sock is not None
                return r
            except (OSError, RuntimeApiError) as e:
                self.close()
                if attempt == 0 and reused and getattr(e, "retryable", True):
                    continue
                raise

    def read_pending(self):
        """The answer to the pipelined request, or None when the connection was lost."""
        self.pending = False
        try:
            return self._read_response()
        except (OSError, RuntimeApiError):
            self.close()
            return None

    def request(self, method, path, headers=None, body=b""):
        """Returns (status, headers (lower-case names), body bytes)."""
        for attempt in (0, 1):
            reused = self.sock is not None
            if self.sock is None:
                self._connect()
            head = self._head(method, path, headers, len(body))
            try:
                self.sock.sendall(head + body if len(body) < 65536 else head)
                if len(body) >= 65536:
                    self.sock.sendall(body)
                return self._read_response()
            except (OSError, RuntimeApiError) as e:
                self.close()
                # A kept-alive connection the server had closed: once more on a new one.
                if attempt == 0 and reused and getattr(e, "retryable", True):
                    continue
                raise

    def _read_response(self):
        r = self.reader
        line = r.readline(65537)
        if not line:
            raise RuntimeApiError("Runtime API connection closed")
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            e = RuntimeApiError("Bad response from Runtime API: %r" % line)
            e.retryable = False
            raise e
        status = int(parts[1])
        headers = {}
        while True:
            h = r.readline(65537)
            if not h:
                raise RuntimeApiError("Runtime API connection closed")
            if h in (b"\r\n", b"\n"):
                break
            # UTF-8, as Lambda's runtime clients read them: a client context may hold any character.
            k, _, v = h.decode("utf-8", "replace").partition(":")
            headers[k.strip().lower()] = v.strip()
        if status in (204, 304) or 100 <= status < 200:
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            chunks = []
            while True:
                size = int(r.readline(65537).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while r.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(r.read(size))
                r.readline(65537)
            body = b"".join(chunks)
        elif "content-length" in headers:
            n = int(headers["content-length"])
            body = r.read(n) if n else b""
            if len(body) < n:
                raise RuntimeApiError("Runtime API connection closed")
        else:
            body = r.read()
            self.close()
        if "close" in headers.get("connection", "").lower():
            self.close()
        return status, headers, body


def _header_value(v):
    return "".join(c if " " <= c <= "~" else "?" for c in str(v))


class RuntimeClient(object):
    def __init__(self, host_port, fd=None):
        self.conn = Connection(host_port, fd)

    def next(self):
        r = self.conn.read_pending() if self.conn.pending else None
        if r is None:
            r = self.conn.request("GET", NEXT_PATH)
        status, headers, body = r
        if status != 200:
            raise RuntimeApiError("Failed to get next invocation: HTTP %d %r" % (status, body))
        return headers, body

    def post_result(self, invoke_id, body, content_type="application/json"):
        self.conn.request_then(
            "POST", PREFIX + "invocation/" + _quote(invoke_id) + "/response", {"Content-Type": content_type}, body, "GET", NEXT_PATH
        )

    def post_error(self, invoke_id, error_result):
        self.conn.request_then(
            "POST",
            PREFIX + "invocation/" + _quote(invoke_id) + "/error",
            {
                "Content-Type": "application/json",
                "Lambda-Runtime-Function-Error-Type": _header_value(error_result.get("errorType") or "Unhandled"),
            },
            to_json(error_result).encode("utf-8"),
            "GET",
            NEXT_PATH,
        )

    def post_init_error(self, error_result):
        self.conn.request(
            "POST",
            PREFIX + "init/error",
            {
                "Content-Type": "application/json",
                "Lambda-Runtime-Function-Error-Type": _header_value(error_result.get("errorType") or "Unhandled"),
            },
            to_json(error_result).encode("utf-8"),
        )


def _quote(s):
    safe = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
    return "".join(c if c in safe else "".join("%%%02X" % b for b in c.encode("utf-8")) for c in s)


# ---- marshalling ----


# The runtimes whose responses keep non-ASCII characters as they are (Lambda's encoder sets
# ensure_ascii=False from python3.12 on; older ones escape them).
_UNESCAPED_RUNTIMES = ("AWS_Lambda_python3.12", "AWS_Lambda_python3.13", "AWS_Lambda_python3.14")


class Encoder(json.JSONEncoder):
    """Lambda's encoder (simplejson there): a Decimal is written as its own digits, exactly
    (DynamoDB's numbers come as Decimals), NaN as NaN; bytes as UTF-8 text (a bytearray is no
    JSON); what else simplejson sees otherwise, see _as_simplejson_sees. The stdlib encoder
    has no raw output, so each Decimal is encoded as a placeholder string, swapped for its digits
    afterwards; encoding without Decimals pays nothing for it."""

    def __init__(self):
        ensure_ascii = os.environ.get("AWS_EXECUTION_ENV") not in _UNESCAPED_RUNTIMES
        json.JSONEncoder.__init__(self, ensure_ascii=ensure_ascii)
        self._raw = None

    def default(self, obj):
        # Not imported here (0.8 MiB of every environment's memory): a Decimal comes from a
        # function that imported the module already.
        dec = sys.modules.get("decimal")
        if dec is not None and isinstance(obj, dec.Decimal):
            if obj.is_nan():
                return math.nan
            if self._raw is None:
                self._raw = ("\u0000%s:" % os.urandom(8).hex(), [])
            prefix, values = self._raw
            values.append(str(obj))
            return "%s%d" % (prefix, len(values) - 1)
        if isinstance(obj, bytes):
            return obj.decode("utf-8")
        return json.JSONEncoder.default(self, obj)

    def encode(self, obj):
        self._raw = None
        try:
            obj = _as_simplejson_sees(obj, set())
        except RecursionError:
            pass  # nested too deep: the encoder says so
        text = json.JSONEncoder.encode(self, obj)
        if self._raw is None:
            return text
        prefix, values = self._raw
        # The placeholder as the encoder wrote it (NUL is always escaped): '"\u0000<nonce>:<i>"'.
        quoted = json.JSONEncoder.encode(self, prefix)[:-1]
        parts = text.split(quoted)
        out = [parts[0]]
        for part in parts[1:]:
            end = part.index('"')
            out.append(values[int(part[:end])])
            out.append(part[end + 1 :])
        return "".join(out)


_LEAVES = frozenset((str, int, float, bool, type(None)))


def _as_simplejson_sees(o, path):
    """`o` as Lambda's encoder (simplejson, default options) encodes it, where the standard
    library's would differ: an object with an _asdict() method (a namedtuple, a database row) is
    the dict that returns, not an array or an error; a bytes key is its UTF-8 text. Containers are
    copied only where something inside them changes; a cycle (ids on `path`) is left for the
    encoder to refuse."""
    t = type(o)
    if t in _LEAVES or isinstance(o, (str, int, float)) or id(o) in path:
        return o
    if t is not dict and t is not list:
        asdict = getattr(o, "_asdict", None)
        if asdict is not None and callable(asdict):
            o = asdict()
            if not isinstance(o, dict):
                raise TypeError("_asdict() must return a dict, not %s" % type(o).__name__)
    if isinstance(o, dict):
        path.add(id(o))
        out = None
        leaves = _LEAVES
        for k, v in o.items():
            if type(v) in leaves and type(k) is not bytes:
                if out is not None:
                    out[k] = v
                continue
            k2 = k.decode("utf-8") if type(k) is bytes else k
            v2 = _as_simplejson_sees(v, path)
            if out is None and (k2 is not k or v2 is not v):
                out = {}
                for k0, v0 in o.items():
                    if k0 is k:
                        break
                    out[k0] = v0
            if out is not None:
                out[k2] = v2
        path.discard(id(o))
        return o if out is None else out
    if isinstance(o, (list, tuple)):
        path.add(id(o))
        out = None
        leaves = _LEAVES
        for i, v in enumerate(o):
            if type(v) in leaves:
                if out is not None:
                    out.append(v)
                continue
            v2 = _as_simplejson_sees(v, path)
            if out is None and v2 is not v:
                out = list(o[:i])
            if out is not None:
                out.append(v2)
        path.discard(id(o))
        return o if out is None else out
    return o


def to_json(obj):
    return Encoder().encode(obj)


def unmarshal_request(body, content_type):
    if content_type and content_type.split(";")[0].strip().lower() != "application/json":
        return body
    try:
        return json.loads(body)
    except Exception as e:
        raise FaultException(UNMARSHAL_ERROR, "Unable to unmarshal input: {}".format(str(e)), None)


def marshal_response(response):
    if isinstance(response, bytes):
        return response, "application/unknown"
    try:
        return to_json(response).encode("utf-8"), "application/json"
    except Exception as e:
        raise FaultException(MARSHAL_ERROR, "Unable to marshal response: {}".format(str(e)), None)


# ---- logging ----


class _StreamWrapper(object):
    """What the runtime's stdout and stderr wrappers share: `self.stream` answers for anything
    they do not define, and each is a context manager that does nothing (`with sys.stdout:`
    closes nothing), as Lambda's."""

    def __init__(self, stream):
        self.stream = stream

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, exc_tb):
        pass

    def __getattr__(self, attr):
        return getattr(self.stream, attr)


class Unbuffered(_StreamWrapper):
    def write(self, msg):
        self.stream.write(msg)
        self.stream.flush()

    def writelines(self, msgs):
        self.stream.writelines(msgs)
        self.stream.flush()


_GLOBAL_AWS_REQUEST_ID = None
# The invocation's tenant (tenant isolation): JSON log records carry it as tenantId.
_GLOBAL_TENANT_ID = None


def _take_api_fd():
    """The Runtime API channel Stratus starts its runtimes with (_STRATUS_API_FD, taken at boot),
    or None without one: the runtime then connects to AWS_LAMBDA_RUNTIME_API."""
    raw = os.environ.pop("_STRATUS_API_FD", "")
    try:
        return int(raw)
    except ValueError:
        return None


_API_FD = _take_api_fd()


def _take_frame_fd():
    """The framed log descriptor Stratus gives its runtimes (taken at boot): each record written
    to it is one log event, newlines kept (Lambda's telemetry frame format). -1 without one."""
    raw = os.environ.pop("_STRATUS_LOG_FD", "")
    try:
        fd = int(raw)
        mode = os.fstat(fd).st_mode
    except (ValueError, OSError):
        return -1
    if fd < 3 or not (stat.S_ISSOCK(mode) or stat.S_ISFIFO(mode)):
        return -1
    os.set_inheritable(fd, False)  # the function's child processes do not get it
    return fd


def _take_stdout_socket():
    """Where frames go in-band (see _FRAME_MAGIC): a descriptor of the platform's stdout socket
    (fd 1 at boot, a stream socket Stratus reads), -1 when it is something else (a wrapper script
    ran the runtime with its stdout into a pipe or a file of its own)."""
    if _FRAME_FD < 0:
        return -1
    try:
        if not stat.S_ISSOCK(os.fstat(1).st_mode):
            return -1
        # A descriptor of its own (not inherited): records keep going to the platform if the
        # function points fd 1 elsewhere, as Lambda's go to its telemetry descriptor.
        return os.dup(1)
    except OSError:
        return -1


_FRAME_FD = _take_frame_fd()
_STDOUT_SOCKET = _take_stdout_socket()
# Frames go in-band on the stdout socket, each after this magic, among what the function and its
# child processes write to fd 1: one channel the platform reads in the order it was written, so
# print, os.write(1, ...), a child's output, sys.stderr and logging records are logged in the
# order the code wrote them. (On the log descriptor, the platform could not order the frames with
# what came down the pipes: print, a child's echo and os.write(1, ...) came out of order.)
# Without the stdout socket, the log descriptor (Lambda's telemetry frames, no magic).
_FRAME_MAGIC = b"\x00\xa5Z\x1eSTR\x00" if _STDOUT_SOCKET >= 0 else b""
_FRAME_OUT = _STDOUT_SOCKET if _STDOUT_SOCKET >= 0 else _FRAME_FD
_FRAME_TYPE_TEXT = 0xA55A0003
# Frames written by several threads (logging, print) stay whole: one writer at a time.
_FRAME_LOCK = threading.RLock()


def _new_frame_lock():
    # A child forked while another thread held the lock (multiprocessing) gets a free one.
    global _FRAME_LOCK
    _FRAME_LOCK = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_frame_lock)


def _frame(body, ts):
    return _FRAME_MAGIC + _FRAME_TYPE_TEXT.to_bytes(4, "big") + len(body).to_bytes(4, "big") + ts.to_bytes(8, "big") + body


def _write_frames(frames):
    with _FRAME_LOCK:
        try:
            n = os.write(_FRAME_OUT, frames)
        except BlockingIOError:
            n = 0
        if n == len(frames):
            return
        view = memoryview(frames)[n:]
        while view:
            try:
                n = os.write(_FRAME_OUT, view)
            except BlockingIOError:
                time.sleep(0.001)
                continue
            view = view[n:]


def write_record(text, unframed=None):
    """One log record: a frame (see _FRAME_MAGIC); without the log descriptor, `unframed` (or the text) to stdout."""
    if _FRAME_OUT < 0:
        sys.stdout.write(text if unframed is None else unframed)
        return
    _write_frames(_frame(text.encode("utf-8", "replace"), int(time.time() * 1000000)))


# What the function writes to sys.stderr goes in-band as it is written, in frames of Stratus's own
# type: pieces of the stream, which the platform joins into lines as it does a pipe's bytes (one
# event per line), and holds an unfinished line of until its newline comes, the runtime ends it (an
# empty piece) or the invocation ends. What it prints is plain text on fd 1; an empty stdout piece
# ends the unfinished line there.
_FRAME_HEAD_STDOUT = _FRAME_MAGIC + (0xA55A0F01).to_bytes(4, "big")
_FRAME_HEAD_STDERR = _FRAME_MAGIC + (0xA55A0F02).to_bytes(4, "big")
# A piece is at most what one log event holds (256 KB): a longer write goes in several.
_MAX_PIECE_BYTES = 256 * 1024


class PlainLines(_StreamWrapper):
    """sys.stdout with in-band frames: what the function prints goes to fd 1 as it is written, as
    Lambda's unbuffered wrapper writes it, so it keeps its order with what is written to fd 1
    otherwise (os.write, os.system, child processes, C code) and with the records and stderr
    pieces framed among it. The platform holds an unfinished line until its newline comes (as on a
    pipe: flush() does not end it), the runtime ends it (end_line, before an error record) or the
    invocation ends, times out or the runtime dies. Bytes written to .buffer leave at once too
    (FlushedBytes): the real buffer kept them until the runtime flushed it after the result, and
    they were logged in the next invocation.
    """

    def __init__(self, stream):
        _StreamWrapper.__init__(self, stream)
        # The last text written here did not end its line.
        self._open = False
        buffer = getattr(stream, "buffer", None)
        if buffer is not None:
            self.buffer = FlushedBytes(buffer, self)

    def write(self, msg):
        # Under the frames' lock: a socket write of a large frame goes in pieces, and a print
        # from another thread landed between them, inside the frame.
        with _FRAME_LOCK:
            self.stream.write(msg)
            self.stream.flush()
        if msg:
            self._open = msg[-1] != "\n"
        # None, as Lambda's stdout wrapper returns.

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def end_line(self):
        """The frame that ends an unfinished line here (an empty stdout piece), or b"" without one."""
        if not self._open:
            return b""
        self._open = False
        return _FRAME_HEAD_STDOUT + bytes(4) + int(time.time() * 1000000).to_bytes(8, "big")


class FlushedBytes(_StreamWrapper):
    """sys.stdout.buffer under PlainLines: what is written leaves at once. Everything else is the
    real buffer's."""

    def __init__(self, buffer, lines):
        _StreamWrapper.__init__(self, buffer)
        self._lines = lines

    def write(self, b):
        with _FRAME_LOCK:  # as PlainLines.write
            n = self.stream.write(b)
            self.stream.flush()
        if n:
            try:
                self._lines._open = memoryview(b).cast("B")[-1] != 10  # b"\n"
            except (TypeError, ValueError):
                pass
        return n

    def writelines(self, lines):
        for line in lines:
            self.write(line)


class FramedLines(_StreamWrapper):
    """sys.stderr with in-band frames: what the function writes there goes as pieces of its
    stream, among its prints on fd 1, so print, sys.stderr and logging records are logged in the
    order the code wrote them. (Read from three pipes as they came, print, logging.warning and
    sys.stderr.write in a loop came out grouped by pipe, timestamps going backwards. Lambda's
    runtime writes them unbuffered, and they are logged in code order there.)

    Each write leaves the process at once, an unfinished line too: the platform completes the line
    (it is an event once its newline is written, as on a pipe; flush() does not end it) and logs an
    unfinished one as it is when the invocation or init ends, times out or the runtime dies. (Kept
    here until then, it was lost to a timeout, a kill or os._exit.) Bytes written to .buffer go
    the same way (FramedBytes). What is written to fd 2 itself (os.write, a child's stderr) is
    plain text on the same socket (see _stderr_to_stdout).
    """

    def __init__(self, stream, head):
        _StreamWrapper.__init__(self, stream)
        self._head = head
        # The last piece sent did not end its line: the platform holds an unfinished one.
        self._open = False
        buffer = getattr(stream, "buffer", None)
        if buffer is not None:
            self.buffer = FramedBytes(buffer, self)

    def write(self, msg):
        if not isinstance(msg, str):
            return self.stream.write(msg)  # the stream's own TypeError
        if msg:
            self._send(msg.encode("utf-8", "replace"))
        # None, as Lambda's stdout wrapper returns.
        return None

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        self.stream.flush()

    def _send(self, body):
        n = len(body)
        self._open = body[n - 1] != 10  # b"\n"
        ts = int(time.time() * 1000000).to_bytes(8, "big")
        if n <= _MAX_PIECE_BYTES:
            _write_frames(self._head + n.to_bytes(4, "big") + ts + body)
        else:
            pieces = (body[i : i + _MAX_PIECE_BYTES] for i in range(0, n, _MAX_PIECE_BYTES))
            _write_frames(b"".join(self._head + len(p).to_bytes(4, "big") + ts + p for p in pieces))

    def end_line(self):
        """The frame that ends an unfinished line here (an empty piece), or b"" without one."""
        if not self._open:
            return b""
        self._open = False
        return self._head + bytes(4) + int(time.time() * 1000000).to_bytes(8, "big")


class FramedBytes(_StreamWrapper):
    """sys.stderr.buffer under FramedLines: bytes written there go out at
    once, in the same frames as the text, so they are logged with it in code order. (The stream's
    own buffer kept them until the runtime flushed it after the result: they were logged in the
    next invocation, before what it printed.) Everything else is the real buffer's."""

    def __init__(self, buffer, lines):
        _StreamWrapper.__init__(self, buffer)
        self._lines = lines

    def write(self, b):
        if type(b) is bytes:
            data = b
        else:
            try:
                data = memoryview(b).tobytes()
            except TypeError:
                # As the buffer says it.
                raise TypeError("a bytes-like object is required, not '%s'" % type(b).__name__) from None
        if data:
            self._lines._send(data)
        return len(data)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        self.stream.flush()


def _stderr_to_stdout():
    """fd 2 becomes the stdout socket, when it is the platform's stderr socket: what is written
    to it (os.write(2, ...), a child's stderr, a C library's messages) keeps its order with the
    rest, in one channel. (Read from a pipe of its own, it came before or after what was written
    around it.) sys.stderr keeps its own lines (its in-band pieces); the platform logs either
    stream's lines alike."""
    try:
        if stat.S_ISSOCK(os.fstat(2).st_mode) and not os.path.sameopenfile(1, 2):
            os.dup2(1, 2)
    except OSError:
        pass


# sys.stdout and sys.stderr as the runtime made them (the function may replace them).
_OUTPUTS = ()


def end_output_lines():
    """Before the platform is told that init or an invocation is over: unfinished lines are logged."""
    frames = b"".join(s.end_line() for s in _OUTPUTS)
    if frames:
        _write_frames(frames)


class LambdaLoggerHandler(logging.Handler):
    # As Lambda's handler: a record that cannot be formatted (arguments that do not fit the
    # message, an `extra` value JSON cannot encode) raises in the logging call, not "--- Logging error ---".
    def emit(self, record):
        write_record(self.format(record))

    def createLock(self):
        # No lock of its own: what emit writes is serialized by _FRAME_LOCK (reentrant). With
        # both, a thread logging held this one while waiting for _FRAME_LOCK, and a thread that
        # held _FRAME_LOCK (in a print) and then logged (a signal handler, a finalizer) waited
        # for this one: deadlock.
        self.lock = None


class LambdaLoggerFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = _GLOBAL_AWS_REQUEST_ID or ""
        record.tenant_id = _GLOBAL_TENANT_ID
        return True


# LogRecord attributes that are not a record's own fields in JSON output: everything else on a
# record (what `extra=` put there) is copied into it, as Lambda's formatter does.
_RESERVED_FIELDS = frozenset((
    "name", "msg", "args", "levelname", "levelno", "pathname", "filename", "module", "exc_info", "exc_text",
    "stack_info", "lineno", "funcName", "created", "msecs", "relativeCreated", "thread", "threadName",
    "processName", "process", "aws_request_id", "tenant_id", "_frame_type",
))
_JSON_LOG_ENCODER = json.JSONEncoder(ensure_ascii=False)


class JsonFormatter(logging.Formatter):
    def format(self, record):
        # Levels are reported by their standard names: a custom level rounds down to one.
        levelno = min(50, max(0, record.levelno)) // 10 * 10
        exc = record.exc_info
        # Every field of Lambda's record is there, None until dropped below: `extra` cannot set
        # one (an extra errorType without an exception is not logged). exc_info=True with no
        # exception being handled is (None, None, None), which fails as in Lambda's formatter.
        out = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + ".%03dZ" % int(record.msecs),
            "level": logging.getLevelName(levelno),
            "message": record.getMessage(),
            "logger": record.name,
            "stackTrace": traceback.format_tb(exc[2]) if exc else None,
            "errorType": exc[0].__name__ if exc else None,
            "errorMessage": str(exc[1]) if exc else None,
            "requestId": getattr(record, "aws_request_id", None),
            "location": "%s:%s:%s" % (record.pathname, record.funcName, record.lineno) if exc else None,
        }
        # As Lambda's formatter: a tenant-isolated function's records say which tenant's they are.
        tenant_id = getattr(record, "tenant_id", None)
        if tenant_id is not None:
            out["tenantId"] = tenant_id
        for k, v in record.__dict__.items():
            if k not in _RESERVED_FIELDS and k not in out:
                out[k] = v
        return _JSON_LOG_ENCODER.encode({k: v for k, v in out.items() if v is not None}) + "\n"


def _json_logs():
    return (os.environ.get("AWS_LAMBDA_LOG_FORMAT") or "").upper() == "JSON"


def setup_logging():
    logging.Formatter.converter = time.gmtime
    logger = logging.getLogger()
    handler = LambdaLoggerHandler()
    if _json_logs():
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(
                "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
                "%Y-%m-%dT%H:%M:%S",
            )
        )
    # Python's logging has no TRACE: Lambda's TRACE level is DEBUG here.
    level = (os.environ.get("AWS_LAMBDA_LOG_LEVEL") or "").upper()
    level = "DEBUG" if level == "TRACE" else level
    if level in logging._nameToLevel:
        logger.setLevel(level)
    handler.addFilter(LambdaLoggerFilter())
    logger.addHandler(handler)


def replace_line_indentation(line, indent_char, new_indent_char):
    n = 0
    for c in line:
        if c != indent_char:
            break
        n += 1
    return (new_indent_char * n) + line[n:]


def log_error(error_result):
    if _json_logs():
        # As Lambda's runtime logs it: the error result with a timestamp (to the second) and level.
        record = {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()), "level": "ERROR"}
        record.update(error_result)
        # One frame without a newline at its end, as Lambda's sink writes it (stdout: a line).
        write_record(to_json(record), to_json(record) + "\n")
        return
    description = "[ERROR]"
    etype = error_result.get("errorType")
    if etype:
        description += " " + etype
    emsg = error_result.get("errorMessage")
    if emsg:
        if etype:
            description += ":"
        description += " " + emsg
    lines = [description]
    stack = error_result.get("stackTrace")
    if stack is not None:
        lines.append("Traceback (most recent call last):")
        for element in stack:
            if element == "":
                lines.append("")
            else:
                for tl in element.splitlines():
                    lines.append(replace_line_indentation(tl, " ", ERROR_LOG_IDENT))
    write_record("\n".join(lines), ERROR_LOG_LINE_TERMINATE.join(lines) + "\n")


# ---- errors ----


def make_error(error_message, error_type, stack_trace, invoke_id=None):
    return {
        "errorMessage": error_message if error_message else "",
        "errorType": error_type if error_type else "",
        "requestId": invoke_id if invoke_id is not None else "",
        "stackTrace": stack_trace if stack_trace else [],
    }


_THIS_FILE = os.path.abspath(__file__)


def _user_frames(tb):
    """The traceback without the runtime's own leading frames."""
    tuples = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(tb)]
    for i in range(len(tuples)):
        if tuples[i][0] != _THIS_FILE:
            return tuples[i:]
    return tuples


def build_fault_result(exc_info, invoke_id=None):
    etype, value, tb = exc_info
    return make_error(str(value), etype.__name__, traceback.format_list(_user_frames(tb)), invoke_id)


# ---- handler loading ----


def get_handler(handler):
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultException(MALFORMED_HANDLER_NAME, "Bad handler '{}': {}".format(handler, str(e)))
    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise FaultException(
                BUILT_IN_MODULE_CONFLICT, "Cannot use built-in module {} as a handler module".format(modname)
            )
        m = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise FaultException(IMPORT_MODULE_ERROR, "Unable to import module '{}': {}".format(modname, str(e)))
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise FaultException(
            USER_CODE_SYNTAX_ERROR, "Syntax error in module '{}': {}".format(modname, str(e)), trace
        )
    try:
        return getattr(m, fname)
    except AttributeError:
        raise FaultException(HANDLER_NOT_FOUND, "Handler '{}' missing on module '{}'".format(fname, modname), None)


# ---- context ----


class CognitoIdentity(object):
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]

    def __repr__(self):
        return "CognitoIdentity([cognito_identity_id={},cognito_identity_pool_id={}])".format(
            self.cognito_identity_id, self.cognito_identity_pool_id
        )


class Client(object):
    __slots__ = ["installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name"]

    def __repr__(self):
        return "Client([installation_id={},app_title={},app_version_name={},app_version_code={},app_package_name={}])".format(
            self.installation_id, self.app_title, self.app_version_name, self.app_version_code, self.app_package_name
        )


class ClientContext(object):
    __slots__ = ["custom", "env", "client"]

    def __repr__(self):
        return "ClientContext([custom={},env={},client={}])".format(self.custom, self.env, self.client)


def _obj_from_dict(cls, d):
    if d is None:
        return None
    o = cls()
    for f in cls.__slots__:
        setattr(o, f, d.get(f, None))
    return o


class LambdaContext(object):
    def __init__(self, invoke_id, client_context, cognito_identity, epoch_deadline_time_in_ms, invoked_function_arn=None, tenant_id=None):
        env = os.environ
        self.aws_request_id = invoke_id
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = tenant_id
        self.client_context = _obj_from_dict(ClientContext, client_context)
        if self.client_context is not None:
            self.client_context.client = _obj_from_dict(Client, self.client_context.client)
        self.identity = _obj_from_dict(CognitoIdentity, {})
        if cognito_identity is not None:
            self.identity.cognito_identity_id = cognito_identity.get("cognitoIdentityId")
            self.identity.cognito_identity_pool_id = cognito_identity.get("cognitoIdentityPoolId")
        self._epoch_deadline_time_in_ms = epoch_deadline_time_in_ms

    def get_remaining_time_in_millis(self):
        delta = self._epoch_deadline_time_in_ms - int(time.time() * 1000)
        return delta if delta > 0 else 0

    def log(self, msg):
        # One log record whatever newlines it holds, as the runtime's own records are.
        write_record(str(msg))

    def __repr__(self):
        return (
            "LambdaContext([aws_request_id={},log_group_name={},log_stream_name={},function_name={},"
            "memory_limit_in_mb={},function_version={},invoked_function_arn={},client_context={},identity={},tenant_id={}])"
        ).format(
            self.aws_request_id, self.log_group_name, self.log_stream_name, self.function_name,
            self.memory_limit_in_mb, self.function_version, self.invoked_function_arn,
            self.client_context, self.identity, self.tenant_id,
        )


def _parse_json_header(value, name):
    try:
        return json.loads(value)
    except Exception as e:
        raise FaultException(LAMBDA_CONTEXT_UNMARSHAL_ERROR, "Unable to parse {} JSON: {}".format(name, str(e)), None)


# ---- the loop ----


def handle_event_request(client, request_handler, invoke_id, headers, body):
    error_result = None
    try:
        cc = headers.get("lambda-runtime-client-context")
        ci = headers.get("lambda-runtime-cognito-identity")
        context = LambdaContext(
            invoke_id,
            _parse_json_header(cc, "Client Context") if cc else None,
            _parse_json_header(ci, "Cognito Identity") if ci else None,
            int(headers.get("lambda-runtime-deadline-ms") or 0),
            headers.get("lambda-runtime-invoked-function-arn"),
            headers.get("lambda-runtime-aws-tenant-id"),
        )
        event = unmarshal_request(body, headers.get("content-type"))
        response = request_handler(event, context)
        result, content_type = marshal_response(response)
    except FaultException as e:
        error_result = make_error(e.msg, e.exception_type, e.trace, invoke_id)
    except Exception:
        error_result = build_fault_result(sys.exc_info(), invoke_id)
    end_output_lines()
    if error_result is not None:
        log_error(error_result)
        client.post_error(invoke_id, error_result)
    else:
        client.post_result(invoke_id, result, content_type)


_stdin_rest = b""


def read_stdin_line():
    """The next line of fd 0 (blocking), or None at its end."""
    global _stdin_rest
    data = _stdin_rest
    while b"\n" not in data:
        try:
            chunk = os.read(0, 65536)
        except BlockingIOError:
            import select

            select.select([0], [], [])
            continue
        if not chunk:
            break
        data += chunk
    if not data:
        _stdin_rest = b""
        return None
    line, _, _stdin_rest = data.partition(b"\n")
    return line


def close_stdin():
    # Nothing more is read from stdin: point fd 0 at /dev/null.
    try:
        fd = os.open(os.devnull, os.O_RDONLY)
        os.dup2(fd, 0)
        os.close(fd)
    except OSError:
        pass


def fail(msg):
    sys.stderr.write("stratus python runtime: %s\n" % msg)
    sys.stderr.flush()
    os._exit(1)


def apply_assignment(a):
    uid = a.get("uid")
    if uid is not None:
        if os.getuid() == 0:
            os.setgroups(list(a.get("groups") or []))
            gid = a.get("gid")
            os.setgid(gid if gid is not None else uid)
            os.setuid(uid)
            if os.getuid() == 0 or os.geteuid() == 0:
                fail("could not drop root privileges")
        elif os.getuid() != uid:
            sys.stderr.write("stratus python runtime: not root, cannot switch to uid %d\n" % uid)
    # keepEnv: started by the function's wrapper script, with its environment as the wrapper left it.
    if not a.get("keepEnv"):
        os.environ.clear()
        for k, v in (a.get("env") or {}).items():
            os.environ[k] = str(v)
    if "TZ" in os.environ:
        time.tzset()


def enter_task_root(a):
    """The task root, once the code is there (taskRootPending: the platform says so on a line of its own)."""
    if a.get("taskRootPending"):
        word = read_stdin_line()
        if word != b"ready":
            fail("the task root was not made ready (%s)" % ("end of input" if word is None else repr(word)))
    close_stdin()
    os.chdir(a["taskRoot"])


def setup_sys_path(task_root, opt_root="/opt"):
    """
    Lambda's precedence: the task root, the layers' site-packages and python/ under /opt (unless
    the function sets its own PYTHONPATH: Lambda's default is the runtime directory), then the
    PYTHONPATH entries.
    """
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) != here]
    extra = [task_root]
    pythonpath = os.environ.get("PYTHONPATH") or ""
    if pythonpath in ("", os.environ.get("LAMBDA_RUNTIME_DIR")):
        # The function's runtime's version (a layer built for python3.12 has python/lib/python3.12),
        # then this interpreter's when it is another (the host's python3 runs every python3.x).
        versions = ["python%d.%d" % sys.version_info[:2]]
        declared = (os.environ.get("AWS_EXECUTION_ENV") or "").partition("AWS_Lambda_")[2]
        if declared.startswith("python3.") and declared != versions[0]:
            versions.insert(0, declared)
        extra += ["%s/python/lib/%s/site-packages" % (opt_root, v) for v in versions] + ["%s/python" % opt_root]
    for p in pythonpath.split(":"):
        if p and p not in extra:
            extra.append(p)
    sys.path[:0] = [p for p in extra if p not in sys.path]


class TraceEnv:
    """
    _X_AMZN_TRACE_ID, set for every invocation as Lambda sets it. os.environ's assignment calls
    setenv(3), and glibc keeps every value setenv ever allocated: ~140 bytes per invocation that a
    warm environment never gets back (27 MiB after 200,000). Here the C-level entry is one buffer
    handed to putenv(3) once (putenv keeps the caller's string, it allocates nothing) and
    overwritten in place; os.environ's own mapping is updated without calling putenv again.
    Children started with the inherited environment and getenv() see the same value. Without
    ctypes, or for a value longer than the buffer, it falls back to os.environ.
    """

    KEY = "_X_AMZN_TRACE_ID"
    PREFIX = KEY.encode() + b"="
    CAPACITY = 1024

    def __init__(self):
        self._libc = None
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.getenv.restype = ctypes.c_void_p
            libc.getenv.argtypes = [ctypes.c_char_p]
            libc.putenv.argtypes = [ctypes.c_void_p]
            libc.unsetenv.argtypes = [ctypes.c_char_p]
            self._buf = ctypes.create_string_buffer(len(self.PREFIX) + self.CAPACITY + 1)
            self._addr = ctypes.addressof(self._buf)
            self._memmove = ctypes.memmove
            self._libc = libc
        except Exception:
            self._libc = None

    def _fallback(self, value):
        if value is not None:
            os.environ[self.KEY] = value
        elif self.KEY in os.environ:
            del os.environ[self.KEY]

    def set(self, value):
        raw = None if value is None else value.encode("utf-8", "surrogateescape")
        if (
            self._libc is None
            or not isinstance(os.environ, os._Environ)  # the function replaced it (a dict, ...)
            or (raw is not None and (len(raw) > self.CAPACITY or b"\0" in raw))
        ):
            return self._fallback(value)
        key = os.environ.encodekey(self.KEY)
        if raw is None:
            os.environ._data.pop(key, None)
            self._libc.unsetenv(self.PREFIX[:-1])
            return
        entry = self.PREFIX + raw + b"\0"
        self._memmove(self._addr, entry, len(entry))
        os.environ._data[key] = raw
        # Ours unless the function replaced or removed it since (then os.environ set its own).
        if self._libc.getenv(self.PREFIX[:-1]) != self._addr + len(self.PREFIX):
            self._libc.putenv(self._addr)


def main():
    trace_env = TraceEnv()  # before the assignment: a pooled runtime loads ctypes while it waits
    global _GLOBAL_AWS_REQUEST_ID, _GLOBAL_TENANT_ID, _OUTPUTS
    line = read_stdin_line()
    if line is None or not line.strip():
        fail("no assignment on stdin")
    try:
        a = json.loads(line)
    except ValueError as e:
        fail("bad assignment: %s" % e)
    try:
        apply_assignment(a)
    except Exception as e:
        fail("cannot apply assignment: %s" % e)

    if _STDOUT_SOCKET >= 0:
        _stderr_to_stdout()
        sys.stdout = PlainLines(sys.stdout)
        sys.stderr = FramedLines(sys.stderr, _FRAME_HEAD_STDERR)
        _OUTPUTS = (sys.stdout, sys.stderr)
    else:
        # As Lambda's runtime: unbuffered, records apart (on the log descriptor when there is one).
        sys.stdout = Unbuffered(sys.stdout)
        sys.stderr = Unbuffered(sys.stderr)
    atexit.register(end_output_lines)  # a function that exits (sys.exit) mid-line
    api = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    if not api:
        fail("AWS_LAMBDA_RUNTIME_API is not set")
    client = RuntimeClient(api, _API_FD)
    setup_logging()
    try:
        enter_task_root(a)
    except Exception as e:
        fail("cannot apply assignment: %s" % e)
    setup_sys_path(a["taskRoot"], a.get("optRoot") or "/opt")

    try:
        request_handler = get_handler(os.environ.get("_HANDLER", ""))
    except FaultException as e:
        error_result = make_error(e.msg, e.exception_type, e.trace)
    except Exception:
        error_result = build_fault_result(sys.exc_info())
    else:
        error_result = None
    if error_result is not None:
        end_output_lines()
        # A logging record, as Lambda's runtime client logs it ("[WARNING]\t<time>\t\tLAMBDA_WARNING: ...").
        logging.warning(LAMBDA_WARNING)
        log_error(error_result)
        try:
            client.post_init_error(error_result)
        except Exception:
            pass
        sys.stdout.flush()
        sys.exit(1)

    end_output_lines()  # what init printed without a newline
    while True:
        headers, body = client.next()
        invoke_id = headers.get("lambda-runtime-aws-request-id")
        _GLOBAL_AWS_REQUEST_ID = invoke_id
        _GLOBAL_TENANT_ID = headers.get("lambda-runtime-aws-tenant-id")
        trace_env.set(headers.get("lambda-runtime-trace-id"))
        handle_event_request(client, request_handler, invoke_id, headers, body)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
