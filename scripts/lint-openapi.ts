/**
 * `npm run lint:openapi` (part of `npm run lint`): openapi/openapi.json must pass Redocly's
 * recommended rules (redocly.yaml) with no errors and no warnings. `redocly lint` itself exits 0
 * on warnings, so this reads its JSON report and fails on any problem.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const redocly = path.join(root, 'node_modules', '.bin', 'redocly');

interface Report {
  totals: { errors: number; warnings: number };
  problems: {
    ruleId: string;
    severity: string;
    message: string;
    location: { pointer: string }[];
  }[];
}

// Exits 1 on errors (not on warnings); the report is on stdout either way.
const run = await promisify(execFile)(
  redocly,
  ['lint', 'openapi/openapi.json', '--format=json', '--max-problems=1000'],
  {
    cwd: root,
    maxBuffer: 64 * 1024 ** 2,
    // No usage reports (redocly.yaml says so too) and no update notices.
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_NOTIFICATIONS: 'true' },
  },
).catch((err: { stdout?: string; stderr?: string }) => ({
  stdout: err.stdout ?? '',
  stderr: err.stderr ?? '',
}));
const start = run.stdout.indexOf('{');
if (start < 0) {
  console.error(`redocly lint gave no report:\n${run.stderr}`);
  process.exit(1);
}
const report = JSON.parse(run.stdout.slice(start)) as Report;
for (const p of report.problems)
  console.error(`${p.severity} ${p.ruleId} at ${p.location[0]?.pointer}: ${p.message}`);
const { errors, warnings } = report.totals;
if (errors || warnings) {
  console.error(`openapi/openapi.json: ${errors} errors and ${warnings} warnings (redocly lint)`);
  process.exit(1);
}
console.log('openapi/openapi.json: no errors or warnings (redocly lint, recommended rules)');
