import { runCli } from './program.js';

// `stratus logs NAME | head -3`: a reader that goes away is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

// The `stratus` executable (bin/stratus.js imports this). A failure exits at once, so that
// nothing a half-done command opened keeps the process alive; success ends on its own, and a
// long-running command (up, logs --follow) exits from its signal handlers.
const status = await runCli(process.argv);
if (status !== 0) process.exit(status);
