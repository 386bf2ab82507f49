"""The default authorization rules: two profiles, picked by the `policy_profile` setting.

- `keystone` (the default): the rules Keystone 30 ships, so that an existing cloud's
  tools (an `admin` on any project manages the cloud) and its policy overrides behave
  the same here;
- `scoped`: system, domain and project admins really are separate.

Each profile is its base module's `RULES` plus every family module's rules
(`families/<family>.py`, holding `KEYSTONE` and `SCOPED`), so an API family brings its
rules for both profiles in one file of its own. A `policy_file` overrides single rules
on top of whichever profile is picked.
"""

import importlib
import pkgutil

from . import families, keystone, scoped

PROFILES = {"keystone": (keystone, "KEYSTONE"), "scoped": (scoped, "SCOPED")}


def rules_for(profile: str) -> dict[str, str]:
    """Every default rule of `profile`; ValueError naming the profiles for another."""
    if profile not in PROFILES:
        raise ValueError(f"setting 'policy_profile': {profile!r} is not a profile "
                         f"(one of {', '.join(sorted(PROFILES))})")
    base, family_attr = PROFILES[profile]
    rules = dict(base.RULES)
    for info in sorted(pkgutil.iter_modules(families.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{families.__name__}.{info.name}")
        for name, rule in getattr(module, family_attr).items():
            if name in rules:
                raise RuntimeError(f"policy rule {name!r} is defined twice "
                                   f"(again in families/{info.name}.py)")
            rules[name] = rule
    return rules
