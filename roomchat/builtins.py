"""The built-in plugins shipped with roomchat: plugin name -> module.

The message-type plugins live in the ``plugins/`` folder and the bots in
``bots/``; they install as the ``roomchat_plugins`` and ``roomchat_bots``
packages (see pyproject.toml and docs/plugins.md). Each is registered exactly
like a third-party plugin, through ``PluginHost.add``. Add a built-in here:
``"module"`` (a module of hook implementations) or ``"module:Class"`` (a
class, instantiated once per server with its ``roomchat.Chat``). The rooms
of the config file (``default_rooms``, roomchat/default_rooms.py) come
first, made by the plugin host from the config.

No built-in registers ``potato``: the protocol's seed notes name it as a type
whose value may be anything, so it passes unchanged. The plugin guide's
tutorial gives it a shape in its own example (examples/potato), which a
server loads only when asked. What the built-in types accept: docs/plugins.md.
"""

BUILTIN_PLUGINS: dict[str, str] = {
    "moderation": "roomchat_plugins.moderation:Moderation",  # mute, kick, ban, locks: the `moderation` type, its checks
    "greeter": "roomchat_bots.greeter",
    "echo": "roomchat_bots.echo",
    "text": "roomchat_plugins.text",
    "image": "roomchat_plugins.image",
    "video": "roomchat_plugins.video",
    "file": "roomchat_plugins.file",
    "poll": "roomchat_plugins.poll",  # the types poll, vote, poll-close and poll-results
    "reaction": "roomchat_plugins.reaction",
    "typing": "roomchat_plugins.typing_indicator",
    "quiz": "roomchat_bots.quiz",  # the quiz bot and its message types
    "moderator": "roomchat_bots.moderator:ModeratorPlugin",  # the moderator bot and its filter (block/redact)
}
