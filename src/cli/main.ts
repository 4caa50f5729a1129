// Placeholder until the CLI lands (issue 6).
process.stderr.write('memory-lane: the CLI is not built yet\n');
process.exit(1);
