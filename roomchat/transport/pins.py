"""The library versions the transport is built against, and every private piece of them it relies on.

roomchat/transport/ (and roomchat/cluster/manager.py) override, wrap or copy
parts of python-engineio, python-socketio, uvicorn's sans-I/O WebSocket
protocol and the websockets library that are not their public API: the fast
path (websocket.py, queues.py, engine.py), and the protocol adjustments
before it (socketio.py, engine.py). pyproject.toml pins each library to the
minor version below; ``UPSTREAM`` holds the SHA-256 of the source of each
upstream function or method roomchat's code copies or depends on line by line,
with the place in roomchat to review when it changes. tests/transport/test_pins.py
checks both: an upgrade that changes one of them fails there, loudly, naming
the copy, before anything subtler fails elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ATTRIBUTES", "UPSTREAM", "VERSIONS", "Upstream"]

# distribution name -> the version prefix pyproject.toml pins
VERSIONS = {
    "python-engineio": "4.15.",
    "python-socketio": "5.18.",
    "uvicorn": "0.54.",
    "websockets": "17.",
    "orjson": "3.",
}


@dataclass(frozen=True)
class Upstream:
    """One upstream function roomchat relies on: where it is, its source's hash, what of ours to review."""

    target: str  # "module:Qualified.name"
    sha256: str
    ours: str  # the roomchat code that copies, overrides or depends on it


_ENGINE = "roomchat/transport/engine.py"
_WS = "roomchat/transport/websocket.py"
_SANSIO = "uvicorn.protocols.websockets.websockets_sansio_impl:WebSocketsSansIOProtocol"

UPSTREAM = [
    Upstream("engineio.async_socket:AsyncSocket._websocket_handler",
             "27f120df4d717a24478b7b0f7389ce19eea8a881dd07e2c81fb1cf2493e006a5",
             f"{_ENGINE} _websocket_handler, _upgrade, _read_frames, _stock_writer (a copy)"),
    Upstream("engineio.async_socket:AsyncSocket.receive",
             "a91ae36ec2fb5340713ec03be88b1ece9887d2f3116ff09f24dda3a6d965db28",
             f"{_ENGINE} _read_frames (MESSAGE frames go to the message handler directly)"),
    Upstream("engineio.async_server:AsyncServer._trigger_event",
             "4a09b6e47eb665325458df5d59b61d13547449eedb0ef25ce0b634005dae633b",
             f"{_ENGINE} _read_frames (calls the message handler as it does, logging its exceptions)"),
    Upstream("engineio.packet:Packet.decode",
             "18e27ff7fd56addd0f25e2be4dbf33d8f65873ba970f4a3f7b9feaa9e22c53b8",
             f"{_ENGINE} _read_frames (a MESSAGE followed by a digit stays text) and frame_problem"),
    Upstream("engineio.async_socket:AsyncSocket.poll",
             "826f58a9f3606db208e5d1266f075ad655b6eeda47b0a5616748624899ca5954",
             f"{_ENGINE} _bounded_poll and roomchat/transport/queues.py SendQueue (what poll uses of a queue)"),
    Upstream("engineio.async_socket:AsyncSocket.schedule_ping",
             "fe316639159cd70d34cdb911a055fc1a0056ff15615b8460a1ab6593c95e9372",
             f"{_ENGINE} _timer_schedule_ping (replaces it)"),
    Upstream("engineio.async_socket:AsyncSocket._send_ping",
             "67db82a704ea49d0ad34e967728cec06020d036431d67c1612162a907526cb43",
             f"{_ENGINE} _ping_due (replaces it)"),
    Upstream("engineio.async_socket:AsyncSocket.handle_post_request",
             "82dca119a261a95904b8714cc255ab79aaaef0acd4a0ef98d8ef7a116c370ef2",
             f"{_ENGINE} _lenient_post (replaces it)"),
    Upstream("engineio.async_socket:AsyncSocket.close",
             "faa2e93902543244d2a1b772cdf4074d1615532e98fa6ca896739ca54ad64e76",
             f"{_ENGINE} EngineServer._close_slow_consumer and queues.py SendQueue.join"),
    Upstream("engineio.async_drivers.asgi:WebSocket.__call__",
             "abbf7a49b2256d3716476bc994bd1cec7b5e060c01692044959a3558af5efff1",
             f"{_ENGINE} _accounted_ws_call (wraps it: asgi_send's __self__ is uvicorn's protocol)"),
    Upstream("engineio.async_drivers.asgi:WebSocket.wait",
             "0346a1c9ebdafdffea28b0ab1a933e3af38d9ca32dd9fce72f5751c6e9aed1e8",
             f"{_ENGINE} _readable_ws_wait (wraps it)"),
    Upstream("engineio.async_drivers.asgi:translate_request",
             "39e74733f1fe46aa20e9ba2b651834a108bced1acee44c5a76927173dd7b09ff",
             f"{_ENGINE} _accounted_ws_call (drops environ['wsgi.input'] of a WebSocket)"),
    Upstream(f"{_SANSIO}.__init__", "631dcd744eab875ffd404bbda22f9dd0db25b90e2585748710bce88357dce74b",
             f"{_WS} RoomchatWebSocketProtocol (its attributes; the ASGI queue replaced by a LightQueue)"),
    Upstream(f"{_SANSIO}.send", "d4919ed760ce9f7be8574989b91ed67448f210ff9cc114f38d286487ec1ddfc8",
             f"{_WS} RoomchatWebSocketProtocol.send (flushes first; drops request/response after accept)"),
    Upstream(f"{_SANSIO}.send_receive_event_to_app",
             "a2b10de91477dc1d4d0e7c9065b85388a5b2a6ebeb84d6ec1591e112ca0bfbb9",
             f"{_WS} RoomchatWebSocketProtocol.send_receive_event_to_app (a copy, to Inbound)"),
    Upstream(f"{_SANSIO}.data_received", "c89d394077d8841d253e469eb47bfd9db0172cd7eebe38edf5211c8e312885d0",
             f"{_WS} RoomchatWebSocketProtocol.data_received (parses common frames before it)"),
    Upstream(f"{_SANSIO}.connection_lost", "dd116afc4d8034e11baebc28faf53f4f0f15181c4ea1a0e49cc9fdf45056cc97",
             f"{_WS} RoomchatWebSocketProtocol.connection_lost"),
    Upstream(f"{_SANSIO}.shutdown", "e8ace796ada616b72e45af56a223079bef3f1c560652f29d70269f68401c73aa",
             f"{_WS} RoomchatWebSocketProtocol.shutdown (flushes first)"),
    Upstream(f"{_SANSIO}.handle_events", "b2c9351a5d13493ffc405990188f9004e3695036aada077ad026f7754b2293b3",
             f"{_WS} RoomchatWebSocketProtocol._fast_read (hands whole frames to it)"),
    Upstream(f"{_SANSIO}.receive", "1dc0e715390021a105cfe6abb35a730af9c5be3d71043329a39bbc1c5afe66bc",
             f"{_WS} RoomchatWebSocketProtocol.start_inbound, LightQueue (what receive uses of the queue)"),
    Upstream("websockets.protocol:Protocol.parse", "45aaf900644b63c46eee7cd7e28c53182cf53acac614aa93ed5a6a090fe95cc0",
             f"{_WS} RoomchatWebSocketProtocol._parser_at_frame_boundary (waits in reader.at_eof between frames)"),
    Upstream("socketio.async_manager:AsyncManager.emit", "01ccd5b82b4f955e4f2e4d07b5fbf09cacef868e9f61bc2abe56d92118a5f3ac",
             "roomchat/transport/fanout.py FanoutManager.emit (the same delivery, without a task per recipient)"),
    Upstream("socketio.async_pubsub_manager:AsyncPubSubManager._handle_emit",
             "4284671be955f644db57572ca19e27c79b0444f89efd4583dac5654650f42c78",
             "roomchat/cluster/manager.py ClusterManager (other servers' emits reach FanoutManager.emit)"),
    Upstream("socketio.async_server:AsyncServer._handle_event",
             "65178105ef8b593d1ebb63610cbabab0c29654cee50fd669ba0a66590f2e1f54",
             "roomchat/transport/socketio.py SocketServer._route_plain_emit (its checks, for the common emit)"),
    Upstream("socketio.async_server:AsyncServer.emit", "84391bfd624104d1537da4f557e4d1389fc331d202d2b1aa219bf798c52c80f0",
             "roomchat/transport/socketio.py SocketServer.emit (the manager's emit, without the log line)"),
    Upstream("socketio.base_manager:BaseManager.get_participants",
             "7d78ad681c95de5be0c4c9062fbaf5b668b0bb54e4b7bfc184bf2766f5d11b2d",
             "roomchat/transport/fanout.py FanoutManager._members (one channel's members, as a list)"),
    Upstream(f"{_SANSIO}.pause_writing", "4830f7e0d81f877d9d664cf64b692d1c18946e68b3bc261d9a62ae64c72c0023",
             f"{_WS} RoomchatWebSocketProtocol.pause_writing (write_paused mirrors writable)"),
    Upstream(f"{_SANSIO}.resume_writing", "ef79384e5fff077c02bde6132f87b99d1b4117d7161ade9146513216492cc4db",
             f"{_WS} RoomchatWebSocketProtocol.resume_writing (write_paused mirrors writable)"),
    Upstream("socketio.async_server:AsyncServer._handle_eio_message",
             "bef50fc0e1635921c922995dba721d05d1c5ccc95d6a6b7647a1db75c4e6032e",
             "roomchat/transport/socketio.py SocketServer._route_packet (a copy, without binary attachments)"),
]

# Attributes of upstream objects roomchat reads or sets (checked on real instances by the pin test).
ATTRIBUTES = {
    _SANSIO: ["transport", "loop", "writable", "handshake_complete", "close_sent", "disconnected", "conn", "frames",
              "curr_msg_data_type", "read_paused", "queue", "config", "logger"],
    "websockets.server:ServerProtocol": ["extensions", "state", "reader", "parser", "send_close", "data_to_send",
                                         "receive_data"],
    "engineio.async_socket:AsyncSocket": ["queue", "upgraded", "upgrading", "connected", "closed", "closing", "sid",
                                          "last_ping", "server"],
}
