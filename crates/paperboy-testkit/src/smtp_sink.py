"""A real SMTP server for Paperboy's tests (aiosmtpd): stores each message it accepts as a
JSON file (envelope, headers, decoded text and HTML parts, raw source) in a folder.

Usage: python smtp_sink.py HOST PORT FOLDER [--raw] [--reuse-port]

--raw stores each message as it came (FOLDER/*.eml, first line `X-Sink-Rcpt: …`) without
parsing it, for benchmarks; --reuse-port lets several processes share the port (one per core).

Recipients whose local part starts with `bounce` get a permanent failure (550); those starting
with `tempfail` a temporary one (451). Each stored message records how many mail transactions
(MAIL FROM to the end of DATA, on any connection) were in progress when it arrived, itself
included (`in_flight`). Prints `ready` once listening.
"""

import asyncio
import email
import email.policy
import itertools
import json
import os
import sys
import time

from aiosmtpd.smtp import SMTP

COUNTER = itertools.count()
# Sessions between MAIL FROM and the end of their transaction (DATA done, RSET, or hang-up).
IN_TRANSACTION = set()


class CountingSMTP(SMTP):
    """Forgets a session's transaction when its client hangs up."""

    def connection_lost(self, exc):
        if self.session is not None:
            IN_TRANSACTION.discard(id(self.session))
        super().connection_lost(exc)


class Sink:
    def __init__(self, folder):
        self.folder = folder

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        IN_TRANSACTION.add(id(session))
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RSET(self, server, session, envelope):
        IN_TRANSACTION.discard(id(session))
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("bounce"):
            return "550 5.1.1 no such user here"
        if local.startswith("tempfail"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        text = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt": list(envelope.rcpt_tos),
            "headers": [[k, str(v)] for k, v in msg.items()],
            "text": text.get_content() if text is not None else "",
            "html": html.get_content() if html is not None else "",
            "raw": raw.decode("utf-8", "replace"),
            "in_flight": len(IN_TRANSACTION),
        }
        name = "%020d-%08d" % (time.time_ns(), next(COUNTER))
        tmp = os.path.join(self.folder, name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.folder, name + ".json"))
        IN_TRANSACTION.discard(id(session))
        return "250 Message accepted for delivery"


class RawSink(Sink):
    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        name = os.path.join(
            self.folder, "%d-%020d-%08d.eml" % (os.getpid(), time.time_ns(), next(COUNTER))
        )
        with open(name, "wb") as f:
            f.write(b"X-Sink-Rcpt: " + ",".join(envelope.rcpt_tos).encode() + b"\r\n")
            f.write(raw)
        IN_TRANSACTION.discard(id(session))
        return "250 Message accepted for delivery"


async def serve(host, port, handler, reuse_port):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: CountingSMTP(handler, data_size_limit=10 * 1024 * 1024),
        host=host,
        port=port,
        reuse_port=reuse_port,
    )
    print("ready", flush=True)
    await server.serve_forever()


def main():
    host, port, folder = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    flags = set(sys.argv[4:])
    os.makedirs(folder, exist_ok=True)
    handler = RawSink(folder) if "--raw" in flags else Sink(folder)
    asyncio.run(serve(host, port, handler, "--reuse-port" in flags))


if __name__ == "__main__":
    main()
