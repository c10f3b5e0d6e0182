"""YAML for configs: ``yaml.safe_load`` made strict.

- **No aliases.** An anchor/alias tree (a "billion laughs" file of 1 KB that expands to gigabytes)
  is refused at the first alias, before anything is expanded; configs never need aliases.
- **No duplicate keys.** PyYAML keeps the last of two equal keys silently; here it is an error naming
  the key and its line.
- **Bounded size.** A file over ``MAX_BYTES`` is refused before parsing.

Every error is a :class:`YAMLError` (a ``ValueError``) naming the file.
"""
from __future__ import annotations

import yaml

__all__ = ["load", "YAMLError", "MAX_BYTES"]

MAX_BYTES = 1_000_000


class YAMLError(ValueError):
    """A config file that is not acceptable YAML (the message names the file and the line)."""


class _StrictLoader(yaml.SafeLoader):
    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.constructor.ConstructorError(None, None, f"YAML aliases (*{event.anchor}) are not allowed in configs",
                                                    event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                continue  # the base class reports unhashable keys
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r} (first at line {seen[key] + 1})",
                                                        key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def load(text: str, where: str = "<string>"):
    """Parse ``text`` (the content of ``where``) strictly; see the module docstring."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise YAMLError(f"{where} is larger than {MAX_BYTES:,} bytes; a config is a few kilobytes")
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise YAMLError(f"{where} is not valid YAML for a config: {exc}") from None
