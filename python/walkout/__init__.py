"""walkout: an open runtime for checkout-free stores.

The compiled core lives in :mod:`walkout._core`; use the typed Python faces of each room
(:mod:`walkout.detect`, :mod:`walkout.track`, :mod:`walkout.geometry`, :mod:`walkout.sync`,
:mod:`walkout.interact`) rather than the core directly.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
