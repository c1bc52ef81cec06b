// Reads vitest's JSON report, prints the plain closing line "tests: N passed, N failed[, N skipped]", and fails
// when no test ran on PostgreSQL (test names carry the database kind: "... (postgres)" / "[postgres]").
import { readFileSync } from 'node:fs';

const report = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const all = report.testResults.flatMap((file) => file.assertionResults);
const count = (status) => all.filter((t) => t.status === status).length;
const passed = count('passed');
const failed = count('failed');
const skipped = all.length - passed - failed;
const onPostgres = all.filter((t) => t.status === 'passed' && /postgres/.test(t.fullName)).length;
console.log(`postgres: ${onPostgres} tests passed against PostgreSQL`);
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
if (all.length === 0) {
  console.error('ci: no test ran');
  process.exit(1);
}
if (onPostgres === 0) {
  console.error('ci: no test ran against PostgreSQL (TEST_DATABASE_URL set but PostgreSQL tests were skipped)');
  process.exit(1);
}
process.exit(failed === 0 && report.success !== false ? 0 : 1);
