"""Transports: they translate wire messages to core calls and core errors to status
codes, and decide nothing themselves."""
