import { runCli } from './program.js';

// The `stratus` executable (bin/stratus.js imports this). A failure exits at once, so that
// nothing a half-done command opened keeps the process alive; success ends on its own, and a
// long-running command (up, logs --follow) exits from its signal handlers.
const status = await runCli(process.argv);
if (status !== 0) process.exit(status);
