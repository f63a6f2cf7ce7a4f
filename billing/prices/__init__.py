"""Prices in force: the catalogue (billing.catalogue), dated overrides, and how a call finds its price.

book.py is pure (the data plane uses it per call); services.py and config.py use the ORM.
"""
