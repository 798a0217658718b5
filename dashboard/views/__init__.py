"""The Streamlit side of the page: one module per view, each with ``draw(page)``, and what they share.

* `page` — `Page` and `Source`, what every view draws from, and the shared helpers;
* `linked` — a chart's selection (points, palette markers, a palette strip's colors) shown in the image;
* `cache` — the cached compute layer, keyed on content hashes;
* `sidebar` — the image and the settings;
* `link` — the settings in the shareable URL.

Adding a view means one module with a ``draw(page)`` and one entry in `VIEWS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import cluster_maps, color_space, compare, inspect, quality_vs_k
from .page import Page


@dataclass(frozen=True)
class View:
    label: str
    draw: Callable[[Page], None]


#: The views, by the name the URL and the view switcher use, in the switcher's order.
VIEWS: dict[str, View] = {
    "compare": View("Compare", compare.draw),
    "inspect": View("Inspect", inspect.draw),
    "color-space": View("Color space", color_space.draw),
    "cluster-maps": View("Cluster maps", cluster_maps.draw),
    "quality-vs-k": View("Quality vs k", quality_vs_k.draw),
}
