"""roomchat's built-in bots (installed as ``roomchat_bots``)."""
