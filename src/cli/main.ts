/**
 * Entry point of the `lattice` command (`npm start` = `lattice serve`; `bin/lattice.mjs` for `npx lattice`).
 * Runs the program of `program.ts` on the process arguments and exits with its code.
 */
import { runCli } from './program.js';

const code = await runCli(process.argv.slice(2));
process.exitCode = code;
// Commands that leave handles open (e.g. an aborted server start) must not keep the process alive.
if (code !== 0) setTimeout(() => process.exit(code), 500).unref();
