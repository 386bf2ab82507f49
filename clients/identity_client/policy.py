"""The policy rule language for consuming services: `identity_api.policy`, the one
the identity service checks its own calls with, offered under this library's name
too so that `from identity_client.policy import Enforcer` keeps working."""

from identity_api.policy import *  # noqa: F401,F403
from identity_api.policy import __all__  # noqa: F401
