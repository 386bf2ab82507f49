"""Tokens: how they are encoded, which keys sign them and how they are revoked.

Kept apart from the rest of the core because validation is the hot path of every
request and its security rests on a few small, carefully reviewed modules. Import
the submodules directly (`tokens.format`, `tokens.keys`); this package loads none of
them so that tools needing only one do not pay for the others.
"""
