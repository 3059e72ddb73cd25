"""The library as an MCP server, for AI assistants: read-only tools over the index and ToC graph.

- `tools`: `LibraryTools`, the tools themselves (search, list_books, get_toc, get_passage,
  get_pages, lookup_index_term, status).
- `results`: the pydantic models the tools return (their output schemas).
- `server`: `build_server`, `serve_stdio` (`hbi mcp`) and `mcp_http`, the `/mcp` endpoint that
  `hbi serve` routes behind its API key.
"""
