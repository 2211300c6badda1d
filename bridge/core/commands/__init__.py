"""The platform-neutral command layer: one registry, typed arguments, structured replies."""

from bridge.core.commands.registry import ArgSpec, CommandLayer, CommandSpec

__all__ = ["ArgSpec", "CommandLayer", "CommandSpec"]
