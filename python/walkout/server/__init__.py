"""The store server: where "who took what" becomes a receipt.

Pieces, one job per module:

- :mod:`~walkout.server.db`: the storage interface (:class:`ServerStore`) and its SQLite (WAL)
  form; every accepted event and the decisions that must never happen twice.
- :mod:`~walkout.server.planogram`: slots, products, gate and shelf zones of the store file.
- :mod:`~walkout.server.shoppers`: box tracks joined into global shoppers by the C++ tracker.
- :mod:`~walkout.server.cart`: weight changes paired with reaches; doubts with reasons.
- :mod:`~walkout.server.receipts`: carts summed into receipts, with confidence.
- :mod:`~walkout.server.core`: sessions, settle windows, decisions (no sockets).
- :mod:`~walkout.server.analytics`: dwell, reaches, purchases, conversion, traffic by hour.
- :mod:`~walkout.server.app` and :mod:`~walkout.server.http_api`: the running process.
"""

from walkout.server.app import StoreServer
from walkout.server.cart import CartRules, attribute
from walkout.server.core import CoreSettings, StoreCore
from walkout.server.db import ServerStore, SqliteServerStore
from walkout.server.planogram import Planogram
from walkout.server.shoppers import GlobalShoppers, ShopperParams

__all__ = [
    "CartRules",
    "CoreSettings",
    "GlobalShoppers",
    "Planogram",
    "ServerStore",
    "ShopperParams",
    "SqliteServerStore",
    "StoreCore",
    "StoreServer",
    "attribute",
]
