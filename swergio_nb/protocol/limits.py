"""Limits and defaults both ends of the protocol agree on (sans-I/O: plain constants).

Every number has its unit in its comment; the hub and the client take these as their defaults and the README's
"Guarantees and limits" table lists them.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_MAX_SIZE",
    "DEFAULT_QUEUE_SIZE",
    "DEFAULT_STALL_TIMEOUT",
    "DEFAULT_MAX_ROOMS",
    "DEFAULT_MAX_BUFFER",
    "DEFAULT_MAX_BUFFER_BYTES",
    "DEFAULT_TRAFFIC_INTERVAL",
    "MAX_NAME_LENGTH",
    "MAX_DETAIL_LENGTH",
    "TOKEN_ENV",
]

#: Largest frame accepted, in bytes (64 MiB: a 16-million float32 tensor). None disables the limit.
DEFAULT_MAX_SIZE = 64 * 2**20
#: Frames waiting to be written to one connection before the hub's overflow policy applies.
DEFAULT_QUEUE_SIZE = 4096
#: Seconds a sender waits on a recipient that delivers nothing before the recipient is marked stalled.
DEFAULT_STALL_TIMEOUT = 0.5
#: Messages a client keeps to send while it reconnects.
DEFAULT_MAX_BUFFER = 1000
#: Size of the messages a client keeps to send while it reconnects, in bytes (characters for text frames): 128 MiB.
DEFAULT_MAX_BUFFER_BYTES = 128 * 2**20
#: Rooms one connection may be in at once, by default.
DEFAULT_MAX_ROOMS = 256
#: Seconds between two ``LOG/TRAFFIC`` summaries to the members of ``_traffic``.
DEFAULT_TRAFFIC_INTERVAL = 0.1
#: Longest accepted name of a room or component (and ``ID``, ``ROOT_ID``, ``REPLY_TO``), in characters.
MAX_NAME_LENGTH = 256
#: Longest ``DETAIL`` of a ``LOG/ERROR``, in characters: an error may quote the bad input, never megabytes of it.
MAX_DETAIL_LENGTH = 1000
#: Environment variable holding the hub token (read by hubs, clients and component processes).
TOKEN_ENV = "SWERGIO_TOKEN"
