"""Transports: the layer that moves the protocol's frames over sockets (asyncio).

* :mod:`.core`: the hub core (per-connection queues, flow control, stalls, overflow, traffic ticks) for any
  transport's :class:`~.core.Link`.
* :mod:`.hub`: the websockets server around the core and the sans-I/O :class:`~swergio_nb.protocol.router.Router`.
* :mod:`.tornado`: the tornado WebSocket handler around the same core (the hub inside Jupyter Server).
* :mod:`.client`: the asyncio :class:`~swergio_nb.transport.client.Client` around the sans-I/O endpoint;
  :mod:`.connection` is its websockets connection (opening, reconnecting), :mod:`.handlers` runs its handlers.
* :mod:`.backplane`: several hubs sharing their rooms through Redis pub/sub (names unique across them).
* :mod:`.swergio_tcp`: swergio 0.0.2's TCP framing, a listener whose connections are links of any hub core.
* :mod:`._websockets`: every use of a websockets internal, in one place, each naming the source it relies on.
"""
