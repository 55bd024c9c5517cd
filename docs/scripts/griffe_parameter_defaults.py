"""Griffe extension: each parameter of a shared numpydoc entry gets its own default.

numpydoc lets several parameters share one entry (``patient, time, score : str``). Griffe's
numpy parser gives every name of such an entry the default of the first one, so the reference
would show ``time`` and ``score`` defaulting to ``"patient"``. This extension parses each
docstring once, after the other extensions have rewritten it, and sets every documented
parameter's default from the signature (mkdocstrings renders the parsed, cached sections).
"""

from __future__ import annotations

from typing import Any

import griffe


def _fix(obj: griffe.Object | griffe.Alias, seen: set[int]) -> None:
    if obj.is_alias or id(obj) in seen:
        return
    seen.add(id(obj))
    # dataclasses get their __init__ from griffe's own extension, which may run after this one:
    # their docstrings are left to be parsed at render time
    signature = None if "dataclass" in obj.labels else getattr(obj, "parameters", None)
    if obj.docstring is not None and signature is not None:
        for section in obj.docstring.parsed:
            if section.kind is griffe.DocstringSectionKind.parameters:
                for parameter in section.value:
                    if parameter.name in signature:
                        parameter.value = signature[parameter.name].default
    for member in obj.members.values():
        _fix(member, seen)


class ParameterDefaults(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        _fix(pkg, set())
