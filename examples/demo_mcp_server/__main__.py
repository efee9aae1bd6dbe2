"""``python -m examples.demo_mcp_server [--issuer URL] [--host H] [--port P] [--resource URL]``.

Every option also reads an environment variable (shown in ``--help``). ``--require-dpop``
refuses bearer tokens (RFC 9449); ``--downstream-url`` with ``--exchange-client-id`` and
``--exchange-client-secret`` (better: DEMO_EXCHANGE_CLIENT_SECRET, out of ``ps``) adds the
``call_downstream`` tool (RFC 8693 token exchange). See examples/README.md.
"""

from __future__ import annotations

import argparse
import logging
import os

import uvicorn

from examples.demo_mcp_server.server import DemoSettings, create_app
from mcp_token_verifier import pdp


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="python -m examples.demo_mcp_server",
        description="A demo MCP server (streamable HTTP) protected by our authorization server.",
    )
    parser.add_argument(
        "--issuer",
        default=env("DEMO_ISSUER", "http://127.0.0.1:8000"),
        help="the authorization server's issuer, exactly as its metadata says (DEMO_ISSUER)",
    )
    parser.add_argument("--host", default=env("DEMO_HOST", "127.0.0.1"), help="(DEMO_HOST)")
    parser.add_argument(
        "--port", type=int, default=int(env("DEMO_PORT", "8001")), help="(DEMO_PORT)"
    )
    parser.add_argument(
        "--resource",
        default=env("DEMO_RESOURCE"),
        help="this server's public MCP URL, the token audience (DEMO_RESOURCE; "
        "default http://HOST:PORT/mcp)",
    )
    parser.add_argument(
        "--revocation-poll-interval",
        type=float,
        default=float(env("DEMO_REVOCATION_POLL_INTERVAL", "5")),
        help="seconds between revocation list polls (DEMO_REVOCATION_POLL_INTERVAL)",
    )
    parser.add_argument(
        "--require-dpop",
        action="store_true",
        default=env("DEMO_REQUIRE_DPOP", "").lower() in ("1", "true", "yes", "on"),
        help="accept only DPoP-bound tokens with a proof per request (DEMO_REQUIRE_DPOP)",
    )
    parser.add_argument(
        "--downstream-url",
        default=env("DEMO_DOWNSTREAM_URL"),
        help="another MCP server that the call_downstream tool reaches with an exchanged token "
        "(DEMO_DOWNSTREAM_URL)",
    )
    parser.add_argument(
        "--exchange-client-id",
        default=env("DEMO_EXCHANGE_CLIENT_ID"),
        help="this server's confidential client at the issuer, allowed the token-exchange "
        "grant (DEMO_EXCHANGE_CLIENT_ID)",
    )
    parser.add_argument(
        "--exchange-client-secret",
        default=env("DEMO_EXCHANGE_CLIENT_SECRET"),
        help="its secret (DEMO_EXCHANGE_CLIENT_SECRET; prefer the variable)",
    )
    parser.add_argument(
        "--upstream-api-url",
        default=env("DEMO_UPSTREAM_API_URL"),
        help="an upstream API URL the call_upstream tool GETs with the user's vended upstream "
        "token (DEMO_UPSTREAM_API_URL; docs/CONNECTIONS.md)",
    )
    parser.add_argument(
        "--upstream-audience",
        default=env("DEMO_UPSTREAM_AUDIENCE"),
        help="the upstream provider's slug at the issuer (DEMO_UPSTREAM_AUDIENCE)",
    )
    parser.add_argument(
        "--pdp-client-id",
        default=env("DEMO_PDP_CLIENT_ID"),
        help="ask the issuer's AuthZEN PDP on every tool call, authenticating as this client "
        "(this server's introspection client; docs/AUTHZEN.md) (DEMO_PDP_CLIENT_ID; its secret "
        "in DEMO_PDP_CLIENT_SECRET)",
    )
    parser.add_argument(
        "--transfer-approval-threshold",
        type=float,
        default=env("DEMO_TRANSFER_APPROVAL_THRESHOLD"),
        help="offer a transfer tool; above this amount a person approves each call with a "
        "passkey (DEMO_TRANSFER_APPROVAL_THRESHOLD; docs/APPROVALS.md; needs the exchange "
        "client, granted CIBA)",
    )
    args = parser.parse_args(argv)
    args.pdp_client_secret = env("DEMO_PDP_CLIENT_SECRET")
    if args.pdp_client_id and not args.pdp_client_secret:
        parser.error("--pdp-client-id needs DEMO_PDP_CLIENT_SECRET")
    if args.upstream_api_url and not args.upstream_audience:
        parser.error("--upstream-api-url needs --upstream-audience")
    needs_client = args.downstream_url or args.upstream_api_url
    if (needs_client or args.transfer_approval_threshold is not None) and not (
        args.exchange_client_id and args.exchange_client_secret
    ):
        parser.error("token exchange needs --exchange-client-id and --exchange-client-secret")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    resource = args.resource or f"http://{args.host}:{args.port}/mcp"
    settings = DemoSettings(
        issuer=args.issuer,
        resource=resource,
        revocation_poll_interval=args.revocation_poll_interval,
        require_dpop=args.require_dpop,
        downstream_url=args.downstream_url,
        exchange_client_id=args.exchange_client_id,
        exchange_client_secret=args.exchange_client_secret,
        upstream_api_url=args.upstream_api_url,
        upstream_audience=args.upstream_audience,
        transfer_approval_threshold=args.transfer_approval_threshold,
    )
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    extras = ", DPoP required" if args.require_dpop else ""
    if args.downstream_url:
        extras += f", downstream {args.downstream_url}"
    print(f"Demo MCP server: {resource} (issuer {args.issuer}{extras})", flush=True)
    hook = None
    if args.pdp_client_id:  # live decisions: an admin's change refuses calls within a second
        hook = pdp.PdpClient(
            args.issuer.rstrip("/") + "/access/v1/evaluation",
            client_id=args.pdp_client_id,
            client_secret=args.pdp_client_secret,
            resource=resource,
        )
        print("Tool calls are also decided live by the issuer's AuthZEN PDP", flush=True)
    uvicorn.run(create_app(settings, hook), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
