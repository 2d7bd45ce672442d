// Prints the plain closing line CI reads: "N passed, N failed" (with ", N skipped").
import { readFileSync } from 'node:fs';

const file = process.argv[2];
try {
  const r = JSON.parse(readFileSync(file, 'utf8'));
  const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  console.log(
    `${r.numPassedTests} passed, ${r.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ''}`,
  );
} catch (e) {
  console.log(`no test results in ${file}: ${e.message}`);
  process.exit(1);
}
