"""Reads shared by feedback views (and, later, reports), one module per area."""

from feedback.selectors.instruments import instruments_overview, version_items, versions_of

__all__ = ["instruments_overview", "version_items", "versions_of"]
