"""Client library for services that consume the identity service."""
