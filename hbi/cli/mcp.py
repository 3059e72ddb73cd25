"""`hbi mcp`: the library as an MCP server on stdin/stdout, for an AI assistant to start."""

from __future__ import annotations

import click


@click.command("mcp")
def mcp() -> None:
    """Serve the library to an AI assistant as an MCP server over stdio (read-only tools)."""
    from hbi.mcp.server import serve_stdio

    serve_stdio()
