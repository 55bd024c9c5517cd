"""The HTML report of a screen (optional extra: ``pip install 'iatrogenic[report]'``).

:func:`html_report` renders the screen's findings as one self-contained HTML page from the
Jinja2 template shipped in ``templates/``; ``iatrogenic screen ... --out DIR`` writes it to
``DIR/report.html``. jinja2 and matplotlib are imported only when a report is made.
"""

from __future__ import annotations

from .html import html_report

__all__ = ["html_report"]
