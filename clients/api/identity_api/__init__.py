"""The identity service's contract, shared by the service and every consumer: the
generated gRPC stubs (`identity_api.v1`, `identity_api.admin.v1`), the token format
(`identity_api.tokens`), the revocation index (`identity_api.revocation`) and the
policy language (`identity_api.policy`), the kinds of change (`identity_api.changes`) and
gRPC handlers rebuilt around new behaviour (`identity_api.handlers`)."""
