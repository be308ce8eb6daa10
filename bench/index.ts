import { benchAsync } from './async.js';
import { benchControl } from './control.js';
import { benchGateway } from './gateway.js';
import { benchInvoke } from './invoke.js';
import { printResults, type BenchResult } from './lib.js';
import { benchSqs } from './sqs.js';

/**
 * `npm run bench`: every benchmark, each printed beside a baseline measured in the same run.
 * Select with BENCH=invoke,control,... (default: all).
 */
const suites: Record<string, () => Promise<BenchResult[]>> = {
  invoke: benchInvoke,
  control: () => benchControl(),
  async: benchAsync,
  sqs: benchSqs,
  gateway: benchGateway,
};

const only = process.env.BENCH?.split(',');
for (const [name, run] of Object.entries(suites)) {
  if (only && !only.includes(name)) continue;
  try {
    printResults(name, await run());
  } catch (e) {
    console.log(`\n## ${name}\nFAILED: ${(e as Error).stack}`);
    process.exitCode = 1;
  }
}
