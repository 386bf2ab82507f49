"""The HTTP gateway: Keystone's v3 wire format for legacy clients and services.

A transport like the gRPC servicers: it turns HTTP requests into core and operation
calls and core errors into Keystone's status codes and JSON error bodies, and holds
no rule of its own.
"""
