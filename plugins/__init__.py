"""roomchat's built-in message-type plugins (installed as ``roomchat_plugins``)."""
