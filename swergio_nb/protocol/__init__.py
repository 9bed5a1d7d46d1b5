"""The protocol, sans-I/O: no sockets, no asyncio, no IPython.

* :mod:`.messages`: the envelope and its vocabulary (swergio's ``ID``, ``ROOT_ID``, ``TYPE``, ``TO_ROOM``, ...).
* :mod:`.codec`: frames (JSON text, msgpack binary with ndarrays) to messages and back.
* :mod:`.rooms`: room membership.
* :mod:`.router`: every rule of the hub, frames in, events out.
* :mod:`.endpoint`: every rule of a client (registration, joins, acks, waiters, triggers, replies, reconnect state).
* :mod:`.traffic`: traffic statistics for monitors.
* :mod:`.limits`: limits and defaults both ends share; :mod:`.urls`: hub URLs and their tokens.

Nothing here imports from the layers above (:mod:`swergio_nb.transport`, :mod:`swergio_nb.notebook`, ...).
"""
