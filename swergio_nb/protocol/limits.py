"""Limits and defaults both ends of the protocol agree on (sans-I/O: plain constants).

Every number has its unit in its comment; the hub and the client take these as their defaults and the README's
"Guarantees and limits" table lists them.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_MAX_SIZE",
    "DEFAULT_QUEUE_SIZE",
    "DEFAULT_QUEUE_BYTES",
    "DEFAULT_TOTAL_QUEUE_BYTES",
    "DEFAULT_STALL_TIMEOUT",
    "DEFAULT_MAX_ROOMS",
    "DEFAULT_MAX_BUFFER",
    "DEFAULT_MAX_BUFFER_BYTES",
    "DEFAULT_TRAFFIC_INTERVAL",
    "DEFAULT_PING_TIMEOUT",
    "MAX_NAME_LENGTH",
    "ROOMS_PAGE",
    "MAX_DETAIL_LENGTH",
    "TOKEN_ENV",
]

#: Largest frame accepted, in bytes (64 MiB: a 16-million float32 tensor). None disables the limit.
DEFAULT_MAX_SIZE = 64 * 2**20
#: Frames waiting to be written to one connection before the hub's overflow policy applies.
DEFAULT_QUEUE_SIZE = 4096
#: Bytes of frames waiting to be written to one connection (characters of text frames): 256 MiB, four of the largest.
DEFAULT_QUEUE_BYTES = 256 * 2**20
#: Bytes of frames waiting in all of a hub's send queues together: 1 GiB.
DEFAULT_TOTAL_QUEUE_BYTES = 2**30
#: Seconds a recipient that senders wait for may go without delivering anything before the hub cuts it (1013): long
#: enough for a garbage-collection pause, an evaluation step or a short blocked cell, which only hold senders back.
DEFAULT_STALL_TIMEOUT = 10.0
#: Messages a client keeps to send while it reconnects.
DEFAULT_MAX_BUFFER = 1000
#: Size of the messages a client keeps to send while it reconnects, in bytes (characters for text frames): 128 MiB.
DEFAULT_MAX_BUFFER_BYTES = 128 * 2**20
#: Rooms one connection may be in at once, by default.
DEFAULT_MAX_ROOMS = 256
#: Seconds a client waits for its hub's pong, counted only while the client's own loop runs, before it gives the
#: connection up (and reconnects). A hub on a notebook kernel's loop, which a cell may block, announces None: never.
DEFAULT_PING_TIMEOUT = 20.0
#: Seconds between two ``LOG/TRAFFIC`` summaries to the members of ``_traffic``.
DEFAULT_TRAFFIC_INTERVAL = 0.1
#: Longest accepted name of a room or component (and ``ID``, ``ROOT_ID``, ``REPLY_TO``), in characters.
MAX_NAME_LENGTH = 256
#: Rooms in one answer to ``COMMAND/ROOMS`` (a page of the table: a hub of many rooms answers in bounded pieces).
ROOMS_PAGE = 500
#: Longest ``DETAIL`` of a ``LOG/ERROR``, in characters: an error may quote the bad input, never megabytes of it.
MAX_DETAIL_LENGTH = 1000
#: Environment variable holding the hub token (read by hubs, clients and component processes).
TOKEN_ENV = "SWERGIO_TOKEN"
