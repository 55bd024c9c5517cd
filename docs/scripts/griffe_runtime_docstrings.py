"""Griffe extension: document functions whose docstring is completed at import time.

A few functions share a block of parameters spliced into their docstrings when the module is
imported (``iatrogenic.core.sudden_changes``: ``{common}``). Griffe reads the source, where the
placeholder still stands; this extension takes such a function's docstring from the imported
object instead. Every other docstring is read from the source as usual.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import griffe

# a line holding only a ``{name}`` placeholder, as str.format or str.replace templates write it
PLACEHOLDER = re.compile(r"^\s*\{\w+\}\s*$", re.MULTILINE)


class RuntimeDocstrings(griffe.Extension):
    def on_function_instance(self, *, func: griffe.Function, **kwargs: Any) -> None:
        if func.docstring is None or not PLACEHOLDER.search(func.docstring.value):
            return
        runtime = inspect.getdoc(griffe.dynamic_import(func.path))
        if runtime and not PLACEHOLDER.search(runtime):
            func.docstring.value = runtime
