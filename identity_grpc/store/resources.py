"""Domains and projects, with the project hierarchy (tables Domain, Project)."""

from .base import ConceptStore


class ResourceStore(ConceptStore):
    pass
