"""``python -m examples.demo_mcp_server [--issuer URL] [--host H] [--port P] [--resource URL]``.

Every option also reads an environment variable (shown in ``--help``).
"""

from __future__ import annotations

import argparse
import logging
import os

import uvicorn

from examples.demo_mcp_server.server import DemoSettings, create_app


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
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    resource = args.resource or f"http://{args.host}:{args.port}/mcp"
    settings = DemoSettings(
        issuer=args.issuer,
        resource=resource,
        revocation_poll_interval=args.revocation_poll_interval,
    )
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    print(f"Demo MCP server: {resource} (issuer {args.issuer})", flush=True)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
