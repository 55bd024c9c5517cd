"""Datasets: the bundled example, the catalogue and the simulator with ground truth.

Examples
--------
>>> from iatrogenic.datasets import list_datasets, load_example
>>> list_datasets()["name"].tolist()
['example', 'example_truth', 'example_medications']
>>> load_example()["patient"].nunique()
600
"""

from __future__ import annotations

from .example import list_datasets, load_example, load_example_medications, load_example_truth
from .simulate import screen_options, simulate

__all__ = [
    "list_datasets",
    "load_example",
    "load_example_medications",
    "load_example_truth",
    "screen_options",
    "simulate",
]
