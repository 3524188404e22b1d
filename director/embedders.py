"""The names of the consistency embedders, light to import: the command line offers
them as choices, and `director check` must not import what scores takes."""

EMBEDDERS = ("face", "appearance", "clip", "dinov2")
AUTO = "auto"
