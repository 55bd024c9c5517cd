"""Griffe extension: turn the docstrings' Sphinx roles into checked cross-references.

The docstrings refer to other objects the Sphinx way (``:func:`screen```,
``:class:`~iatrogenic.core.growth.GrowthModel```), which mkdocstrings would print as literal
text. This extension rewrites each role into an autorefs cross-reference (``[`screen`][screen]``,
``[`GrowthModel`][iatrogenic.core.growth.GrowthModel]``) that the handler resolves in the scope of
the documented object (``scoped_crossrefs``), so each becomes a link, and ``mkdocs build
--strict`` fails on a reference to a name that does not exist or is not documented.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

# :func:`name`, :class:`~package.Name`, :meth:`Model.track()`: the shortening tilde, the target
ROLE = re.compile(
    r":(?:py:)?(?:func|class|meth|attr|data|mod|exc|obj|const):`(~?)([^`<>]+?)(?:\(\))?`"
)


def _link(match: re.Match[str]) -> str:
    short, target = match.group(1), match.group(2).strip()
    text = target.rsplit(".", 1)[-1] if short else target
    if any(part.startswith("_") for part in target.split(".")):
        # a private helper or module is not in the reference: name it, without a link
        return f"`{text}`"
    if target.startswith("ia."):  # the project's spelling of ``import iatrogenic as ia``
        target = "iatrogenic." + target[3:]
    return f"[`{text}`][{target}]"


def _rewrite(obj: griffe.Object | griffe.Alias, seen: set[int]) -> None:
    if obj.is_alias or id(obj) in seen:
        return
    seen.add(id(obj))
    if obj.docstring is not None:
        obj.docstring.value = ROLE.sub(_link, obj.docstring.value)
    for member in obj.members.values():
        _rewrite(member, seen)


class SphinxRoles(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        _rewrite(pkg, set())
