"""Intercom's REST operations, one module per Intercom module.

Each module lists its routes in `ROUTES`, next to the handlers they name; `router.py` collects
them. Helpers more than one module needs live in `common.py`.
"""
