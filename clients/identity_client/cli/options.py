"""Where credentials and scope come from, as openstackclient reads them: the --os-*
options, else the named cloud of a clouds.yaml (--os-cloud / OS_CLOUD), else the OS_*
variables an openrc sets. The scope is the first of those sources' that names one."""

import os
from pathlib import Path

import yaml

from .base import UsageError

DEFAULT_ADDRESS = "127.0.0.1:50051"

# (options, dest, environment variables, clouds.yaml auth keys, help)
GLOBAL_OPTIONS = [
    (("--os-auth-url",), "os_auth_url", ("OS_AUTH_URL",), ("auth_url",),
     "the service's HTTP URL as openstackclient takes it (http://host:5000/v3: its version "
     "discovery names the gRPC endpoint), or the gRPC address host:port "
     f"(default {DEFAULT_ADDRESS})"),
    (("--os-username",), "os_username", ("OS_USERNAME",), ("username",),
     "authenticate as this user"),
    (("--os-user-id",), "os_user_id", ("OS_USER_ID",), ("user_id",),
     "authenticate as the user of this id"),
    (("--os-password",), "os_password", ("OS_PASSWORD",), ("password",), "the user's password"),
    (("--os-user-domain-name",), "os_user_domain_name", ("OS_USER_DOMAIN_NAME",),
     ("user_domain_name",), "the user's domain, by name"),
    (("--os-user-domain-id",), "os_user_domain_id", ("OS_USER_DOMAIN_ID",),
     ("user_domain_id",), "the user's domain, by id (default: default)"),
    (("--os-default-domain-id",), "os_default_domain_id", ("OS_DEFAULT_DOMAIN_ID",),
     ("default_domain_id",), "the domain id assumed when no domain is given (default: default)"),
    (("--os-project-name", "--os-tenant-name"), "os_project_name",
     ("OS_PROJECT_NAME", "OS_TENANT_NAME"), ("project_name", "tenant_name"),
     "scope to this project, by name"),
    (("--os-project-id", "--os-tenant-id"), "os_project_id", ("OS_PROJECT_ID", "OS_TENANT_ID"),
     ("project_id", "tenant_id"), "scope to this project, by id"),
    (("--os-project-domain-name",), "os_project_domain_name", ("OS_PROJECT_DOMAIN_NAME",),
     ("project_domain_name",), "the domain of --os-project-name, by name (default: the "
     "user's domain)"),
    (("--os-project-domain-id",), "os_project_domain_id", ("OS_PROJECT_DOMAIN_ID",),
     ("project_domain_id",), "the domain of --os-project-name, by id"),
    (("--os-domain-name",), "os_domain_name", ("OS_DOMAIN_NAME",), ("domain_name",),
     "scope to this domain, by name"),
    (("--os-domain-id",), "os_domain_id", ("OS_DOMAIN_ID",), ("domain_id",),
     "scope to this domain, by id"),
    (("--os-system-scope",), "os_system_scope", ("OS_SYSTEM_SCOPE",), ("system_scope",),
     "scope to the system: 'all'"),
    (("--os-token",), "os_token", ("OS_TOKEN",), ("token",),
     "use this token instead of a password (rescoped when a scope is given)"),
    (("--os-api-key",), "os_api_key", ("OS_API_KEY",), ("api_key",),
     "authenticate with this API key's secret instead of a password"),
    (("--os-cacert",), "os_cacert", ("OS_CACERT",), ("cacert",),
     "the CA bundle to trust over TLS (default: the system's)"),
    (("--os-cert",), "os_cert", ("OS_CERT",), ("cert",),
     "a client certificate (PEM), for a service requiring mutual TLS"),
    (("--os-key",), "os_key", ("OS_KEY",), ("key",), "the client certificate's private key"),
]
SCOPES = {"project": ("os_project_name", "os_project_id"),
          "domain": ("os_domain_name", "os_domain_id"), "system": ("os_system_scope",)}
DESTS = [dest for _, dest, _, _, _ in GLOBAL_OPTIONS]


def add_global_options(parser) -> None:
    group = parser.add_argument_group("authentication and scope (openstackclient's options)")
    group.add_argument("--os-cloud", metavar="NAME", default=None,
                       help="take these settings from this cloud of clouds.yaml ($OS_CLOUD)")
    for names, dest, envs, _, text in GLOBAL_OPTIONS:
        env = " or ".join(f"${e}" for e in envs)
        group.add_argument(*names, dest=dest, metavar="VALUE", default=None,
                           help=f"{text} ({env})")
    group.add_argument("--timeout", type=float, default=None,
                       help="seconds per call (default 30)")


# ---- clouds.yaml ------------------------------------------------------------------

def clouds_files() -> list[Path]:
    """openstacksdk's places, in its order: $OS_CLIENT_CONFIG_FILE, ./clouds.yaml,
    ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml."""
    places = [Path.cwd() / "clouds.yaml", Path.home() / ".config/openstack/clouds.yaml",
              Path("/etc/openstack/clouds.yaml")]
    if os.environ.get("OS_CLIENT_CONFIG_FILE"):
        places.insert(0, Path(os.environ["OS_CLIENT_CONFIG_FILE"]))
    return places


def cloud_settings(name: str) -> dict:
    """The option values the cloud `name` sets, from the first clouds.yaml there is."""
    path = next((p for p in clouds_files() if p.is_file()), None)
    if path is None:
        raise UsageError(f"cloud {name!r}: no clouds.yaml (looked in "
                         f"{', '.join(str(p) for p in clouds_files())})")
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise UsageError(f"{path}: cannot read it: {' '.join(str(e).split())}") from None
    cloud = (document.get("clouds") or {}).get(name) if isinstance(document, dict) else None
    if not isinstance(cloud, dict):
        raise UsageError(f"{path} has no cloud {name!r}")
    auth = cloud.get("auth") or {}
    values = {}
    for _, dest, _, keys, _ in GLOBAL_OPTIONS:
        found = next((auth.get(k, cloud.get(k)) for k in keys
                      if auth.get(k, cloud.get(k)) is not None), None)
        if found is not None:
            values[dest] = str(found)
    if cloud.get("api_timeout") is not None:
        values["timeout"] = float(cloud["api_timeout"])
    return values


# ---- settling -----------------------------------------------------------------------

def settle(options) -> None:
    """Fill in what the command line left unset, from the cloud (if one is named) and
    then the environment, and decide the scope: that of the first source naming one."""
    given = {dest: getattr(options, dest, None) for dest in DESTS + ["timeout"]}
    env = {dest: next((os.environ[e] for e in envs if os.environ.get(e)), None)
           for _, dest, envs, _, _ in GLOBAL_OPTIONS}
    cloud_name = getattr(options, "os_cloud", None) or os.environ.get("OS_CLOUD")
    sources = [("the command line", given)]
    if cloud_name:
        sources.append((f"cloud {cloud_name!r}", cloud_settings(cloud_name)))
    sources.append(("the environment", env))

    kinds = []
    for source, values in sources:
        kinds = [k for k, dests in SCOPES.items() if any(values.get(d) for d in dests)]
        if len(kinds) > 1:
            raise UsageError(f"{source} asks for more than one scope "
                             f"({' and '.join(kinds)}); choose one")
        if kinds:
            break
    others = {d for kind, dests in SCOPES.items() if kind not in kinds for d in dests}
    for dest in DESTS + ["timeout"]:
        value = None if dest in others else next(
            (values[dest] for _, values in sources if values.get(dest) is not None), None)
        setattr(options, dest, value)
    options.scope = kinds[0] if kinds else None
    if options.timeout is None:
        options.timeout = 30.0
