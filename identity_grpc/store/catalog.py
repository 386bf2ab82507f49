"""Regions, services and their endpoints (tables Region, Service, Endpoint)."""

from .base import ConceptStore


class CatalogStore(ConceptStore):
    pass
