"""`identity` commands for the catalog (regions, services, endpoints), tokens, the
caller's catalog and API keys."""

from datetime import datetime, timezone

from google.protobuf.timestamp_pb2 import Timestamp
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.v1 import identity_pb2 as pb

from .cli_base import CliError, Listing, Show, UsageError, arg, command, enable_disable, timestamp

DESCRIPTION = arg("--description", help="a description")


# ---- regions -----------------------------------------------------------------------------

def region_fields(r) -> dict:
    return {"region": r.id, "parent_region": r.parent_region_id, "description": r.description}


REGION_COLUMNS = [("region", "Region"), ("parent_region", "Parent Region"),
                  ("description", "Description")]


@command("region create", "Create a region", arg("region", metavar="REGION_ID"),
         arg("--parent-region", metavar="REGION", help="the parent region's id"), DESCRIPTION)
def region_create(session, args):
    return Show(region_fields(session.call("Regions", "CreateRegion", apb.Region(
        id=args.region, parent_region_id=args.parent_region or "",
        description=args.description or ""))))


@command("region list", "List regions",
         arg("--parent-region", metavar="REGION", help="only the children of this region"))
def region_list(session, args):
    regions = session.list_all("Regions", "ListRegions", apb.ListRegionsRequest(
        parent_region_id=args.parent_region or ""), "regions")
    return Listing(REGION_COLUMNS, [region_fields(r) for r in regions])


@command("region show", "Show a region", arg("region", metavar="REGION_ID"))
def region_show(session, args):
    return Show(region_fields(session.call("Regions", "GetRegion", apb.GetRequest(id=args.region))))


@command("region set", "Change a region", arg("region", metavar="REGION_ID"),
         arg("--parent-region", metavar="REGION", help="a new parent ('' for none)"), DESCRIPTION)
def region_set(session, args):
    request = apb.UpdateRegionRequest(id=args.region)
    if args.parent_region is not None:
        request.parent_region_id = args.parent_region
    if args.description is not None:
        request.description = args.description
    session.call("Regions", "UpdateRegion", request)


@command("region delete", "Delete regions", arg("regions", metavar="REGION_ID", nargs="+"))
def region_delete(session, args):
    for ref in args.regions:
        session.call("Regions", "DeleteRegion", apb.DeleteRequest(id=ref))


# ---- services ------------------------------------------------------------------------------

def service_fields(s) -> dict:
    return {"id": s.id, "name": s.name, "type": s.type, "description": s.description,
            "enabled": s.enabled}


SERVICE_COLUMNS = [("id", "ID"), ("name", "Name"), ("type", "Type")]
SERVICE_LONG = [*SERVICE_COLUMNS, ("description", "Description"), ("enabled", "Enabled")]


@command("service create", "Create a service", arg("type", metavar="TYPE",
                                                    help="e.g. compute, identity"),
         arg("--name", help="e.g. nova"), DESCRIPTION, enable_disable("service"))
def service_create(session, args):
    request = apb.CreateServiceRequest(type=args.type, name=args.name or "",
                                       description=args.description or "")
    if args.enabled is not None:
        request.enabled = args.enabled
    return Show(service_fields(session.call("Services", "CreateService", request)))


@command("service list", "List services", arg("--long", action="store_true", help="more columns"))
def service_list(session, args):
    services = session.list_all("Services", "ListServices", apb.ListServicesRequest(), "services")
    return Listing(SERVICE_LONG if args.long else SERVICE_COLUMNS,
                   [service_fields(s) for s in services], json_columns=SERVICE_LONG)


@command("service show", "Show a service", arg("service", metavar="SERVICE",
                                                help="id, name or type"))
def service_show(session, args):
    return Show(service_fields(session.find("service", args.service)))


@command("service set", "Change a service", arg("service", metavar="SERVICE",
                                                 help="id, name or type"),
         arg("--type", help="a new type"), arg("--name", help="a new name"), DESCRIPTION,
         enable_disable("service"))
def service_set(session, args):
    request = apb.UpdateServiceRequest(id=session.find_id("service", args.service))
    for name in ("type", "name", "description", "enabled"):
        if getattr(args, name) is not None:
            setattr(request, name, getattr(args, name))
    session.call("Services", "UpdateService", request)


@command("service delete", "Delete services and their endpoints",
         arg("services", metavar="SERVICE", nargs="+", help="ids, names or types"))
def service_delete(session, args):
    for ref in args.services:
        session.call("Services", "DeleteService",
                     apb.DeleteRequest(id=session.find_id("service", ref)))


# ---- endpoints -----------------------------------------------------------------------------

INTERFACES = ["public", "internal", "admin"]
ENDPOINT_COLUMNS = [("id", "ID"), ("region", "Region"), ("service_name", "Service Name"),
                    ("service_type", "Service Type"), ("enabled", "Enabled"),
                    ("interface", "Interface"), ("url", "URL")]


def endpoint_fields(e, services: dict) -> dict:
    service = services.get(e.service_id)
    return {"id": e.id, "region": e.region_id, "region_id": e.region_id,
            "service_id": e.service_id, "service_name": service.name if service else "",
            "service_type": service.type if service else "", "enabled": e.enabled,
            "interface": e.interface, "url": e.url}


def services_by_id(session) -> dict:
    return {s.id: s for s in session.list_all("Services", "ListServices",
                                              apb.ListServicesRequest(), "services")}


@command("endpoint create", "Create an endpoint",
         arg("service", metavar="SERVICE", help="id, name or type"),
         arg("interface", metavar="INTERFACE", choices=INTERFACES, help="public, internal or admin"),
         arg("url", metavar="URL"), arg("--region", metavar="REGION_ID"),
         enable_disable("endpoint"))
def endpoint_create(session, args):
    service = session.find("service", args.service)
    request = apb.CreateEndpointRequest(service_id=service.id, interface=args.interface,
                                        url=args.url, region_id=args.region or "")
    if args.enabled is not None:
        request.enabled = args.enabled
    made = session.call("Endpoints", "CreateEndpoint", request)
    return Show(endpoint_fields(made, {service.id: service}))


@command("endpoint list", "List endpoints",
         arg("--service", metavar="SERVICE", help="id, name or type"),
         arg("--interface", choices=INTERFACES), arg("--region", metavar="REGION_ID"))
def endpoint_list(session, args):
    request = apb.ListEndpointsRequest(service_id=session.find_id("service", args.service),
                                       interface=args.interface or "", region_id=args.region or "")
    endpoints = session.list_all("Endpoints", "ListEndpoints", request, "endpoints")
    services = services_by_id(session)
    return Listing(ENDPOINT_COLUMNS, [endpoint_fields(e, services) for e in endpoints])


@command("endpoint show", "Show an endpoint", arg("endpoint", metavar="ENDPOINT_ID"))
def endpoint_show(session, args):
    endpoint = session.call("Endpoints", "GetEndpoint", apb.GetRequest(id=args.endpoint))
    return Show(endpoint_fields(endpoint, services_by_id(session)))


@command("endpoint set", "Change an endpoint", arg("endpoint", metavar="ENDPOINT_ID"),
         arg("--interface", choices=INTERFACES), arg("--region", metavar="REGION_ID"),
         arg("--url"), enable_disable("endpoint"))
def endpoint_set(session, args):
    request = apb.UpdateEndpointRequest(id=args.endpoint)
    for name, field in (("interface", "interface"), ("region", "region_id"), ("url", "url"),
                        ("enabled", "enabled")):
        if getattr(args, name) is not None:
            setattr(request, field, getattr(args, name))
    session.call("Endpoints", "UpdateEndpoint", request)


@command("endpoint delete", "Delete endpoints", arg("endpoints", metavar="ENDPOINT_ID", nargs="+"))
def endpoint_delete(session, args):
    for ref in args.endpoints:
        session.call("Endpoints", "DeleteEndpoint", apb.DeleteRequest(id=ref))


# ---- tokens and the catalog -------------------------------------------------------------------

def token_fields(token: str, info: pb.Token) -> dict:
    fields = {"expires": timestamp(info.expires_at), "id": token}
    scope = info.WhichOneof("scope")
    if scope == "project":
        fields["project_id"] = info.project.id
    elif scope == "domain":
        fields["domain_id"] = info.domain.id
    elif scope == "system":
        fields["system"] = "all"
    fields["user_id"] = info.user.id
    return fields


@command("token issue", "Issue a token with the OS_* credentials and scope")
def token_issue(session, args):
    answer = session.authenticate()
    return Show(token_fields(answer.token, answer.token_info))


@command("token revoke", "Revoke a token", arg("token", metavar="TOKEN"))
def token_revoke(session, args):
    session.call("Identity", "RevokeToken", pb.RevokeTokenRequest(subject_token=args.token))


def catalog_row(service) -> dict:
    return {"name": service.name, "type": service.type, "endpoints": [
        {"id": e.id, "interface": e.interface, "region": e.region, "url": e.url}
        for e in service.endpoints]}


def endpoints_text(endpoints: list[dict]) -> str:
    lines, region = [], None
    for e in sorted(endpoints, key=lambda e: (e["region"], e["interface"])):
        if e["region"] != region:
            region = e["region"]
            lines.append(region or "(no region)")
        lines.append(f"  {e['interface']}: {e['url']}")
    return "\n".join(lines)


@command("catalog list", "List the services in the catalog of your (scoped) token")
def catalog_list(session, args):
    services = session.call("Identity", "Catalog", pb.CatalogRequest()).services
    rows = [catalog_row(s) for s in services]
    if args.format != "json":
        for row in rows:
            row["endpoints"] = endpoints_text(row["endpoints"])
    return Listing([("name", "Name"), ("type", "Type"), ("endpoints", "Endpoints")], rows)


@command("catalog show", "Show one service of your token's catalog",
         arg("service", metavar="SERVICE", help="name or type"))
def catalog_show(session, args):
    services = session.call("Identity", "Catalog", pb.CatalogRequest()).services
    for s in services:
        if args.service in (s.name, s.type, s.id):
            row = {"id": s.id, **catalog_row(s)}
            if args.format != "json":
                row["endpoints"] = endpoints_text(row["endpoints"])
            return Show(row)
    raise CliError("NOT_FOUND", f"no service {args.service!r} in the catalog")


# ---- API keys ------------------------------------------------------------------------------------

def api_key_fields(key) -> dict:
    return {"id": key.id, "name": key.name, "user_id": key.user_id, "project_id": key.project_id,
            "roles": list(key.role_ids), "expires_at": timestamp(key.expires_at) or None,
            "created_at": timestamp(key.created_at) or None}


def parse_expiry(text: str) -> Timestamp:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--expires: not an ISO 8601 date and time: {text!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    stamp = Timestamp()
    stamp.FromDatetime(when.astimezone(timezone.utc))
    return stamp


@command("api key create", "Create an API key (the secret is shown this once)",
         arg("name", metavar="NAME", nargs="?", default="", help="a name for the key"),
         arg("--project", metavar="PROJECT", required=True, help="the project it is scoped to"),
         arg("--project-domain", metavar="DOMAIN", help="the domain of --project"),
         arg("--role", metavar="ROLE", action="append", default=[],
             help="a role it carries (repeatable; default: every role on the project)"),
         arg("--expires", metavar="ISO8601", help="when it stops working (default: never)"),
         arg("--user", metavar="USER", help="whose key (default: yours)"),
         arg("--user-domain", metavar="DOMAIN", help="the domain of --user"),
         arg("--on-behalf", action="store_true",
             help="required when --user is someone else: create that user's key "
                  "(system admins; audited)"))
def api_key_create(session, args):
    expires = parse_expiry(args.expires) if args.expires else None
    request = apb.CreateApiKeyRequest(
        name=args.name, user_id=session.find_id("user", args.user, args.user_domain),
        project_id=session.find_id("project", args.project, args.project_domain),
        role_ids=[session.find_id("role", r) for r in args.role], on_behalf=args.on_behalf)
    if expires is not None:
        request.expires_at.CopyFrom(expires)
    made = session.call("ApiKeys", "CreateApiKey", request)
    return Show({**api_key_fields(made.api_key), "secret": made.secret})


@command("api key list", "List API keys (yours, or a user's)",
         arg("--user", metavar="USER"), arg("--user-domain", metavar="DOMAIN"))
def api_key_list(session, args):
    keys = session.call("ApiKeys", "ListApiKeys", apb.ListApiKeysRequest(
        user_id=session.find_id("user", args.user, args.user_domain))).api_keys
    columns = [("id", "ID"), ("name", "Name"), ("project_id", "Project ID"), ("roles", "Roles"),
               ("expires_at", "Expires At")]
    long = [*columns, ("user_id", "User ID"), ("created_at", "Created At")]
    return Listing(columns, [api_key_fields(k) for k in keys], json_columns=long)


@command("api key delete", "Delete API keys", arg("keys", metavar="ID", nargs="+"))
def api_key_delete(session, args):
    for ref in args.keys:
        session.call("ApiKeys", "DeleteApiKey", apb.DeleteRequest(id=ref))
