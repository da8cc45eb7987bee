"""Several servers as one, on Redis (docs/scaling.md): the state backend, the Socket.IO manager, this server's loops.

``state.py``: presence, guest IDs, rate limits, the key-value store and bot
leases in Redis. ``manager.py``: python-socketio's Redis manager and its
listener (every python-socketio private detail of the cluster).
``node.py``: the heartbeat, the reaper and the presence feed. The composition
root (roomchat/app.py) builds them when the config has ``cluster:``.
"""
