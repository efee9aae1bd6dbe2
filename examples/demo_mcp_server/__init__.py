"""A demo MCP server protected by this authorization server (see examples/README.md).

Run it with ``python -m examples.demo_mcp_server`` from the repository root, or ``make demo``.
"""

from examples.demo_mcp_server.server import (
    SCOPES,
    TOOL_SCOPES,
    DemoSettings,
    create_app,
    protected_resource_metadata,
)

__all__ = ["SCOPES", "TOOL_SCOPES", "DemoSettings", "create_app", "protected_resource_metadata"]
