// Placeholder until the MCP server lands (issue 6).
process.stderr.write('memory-lane-mcp: the MCP server is not built yet\n');
process.exit(1);
