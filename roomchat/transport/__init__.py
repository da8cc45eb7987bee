"""The transport adapters: python-socketio and python-engineio, adjusted for PROTOCOL.md.

``socketio.py``: the Socket.IO server (the core's ``Transport``): event
routing, refusals of what it cannot read, acks. ``engine.py``: python-engineio's
long-polling limits, unreadable frames and the per-connection output cap,
applied by the composition root (``engine.apply()``), never on import.
``fanout.py``: the client manager that hands a packet to this server's
connections directly. Every python-socketio and python-engineio internal
roomchat touches is in this package (a cluster's Redis manager: roomchat/cluster/manager.py).
"""
