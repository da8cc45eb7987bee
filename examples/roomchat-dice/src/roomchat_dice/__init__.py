"""roomchat-dice: roll dice in a roomchat room. The plugin is ``roomchat_dice.plugin``."""

__version__ = "0.1.0"
