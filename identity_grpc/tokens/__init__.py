"""Tokens on the server: which keys sign them, signing and checking with those keys.

The token format and the revocation index themselves are the contract shared with
consuming services, in the `identity-api` distribution (`identity_api.tokens`,
`identity_api.revocation`). Kept apart from the rest of the core because validation
is the hot path of every request and its security rests on a few small, carefully
reviewed modules. Import the submodules directly (`tokens.codec`, `tokens.keys`);
this package loads none of them so that tools needing only one do not pay for the
others.
"""
