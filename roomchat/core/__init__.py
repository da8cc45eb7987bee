"""The core pipeline: plugins and their hooks, admission, joins and leaves, dispatch, delivery.

It knows the wire only through the ``Transport`` Protocol (``delivery.py``)
and state only through ``roomchat.state.base``; the composition root
(roomchat/app.py) builds it with the adapters below it (roomchat/transport,
roomchat/cluster). Reading order: ``admission.py`` (may this connection
enter?), ``joining.py`` (join, announce, leave), ``dispatch.py`` (check,
dispatch by type), ``delivery.py`` (put it on the wire), ``plugin_host.py``
(every hook, through pluggy).
"""
