/**
 * `cutover status --watch` in a real pseudo-terminal (util-linux `script` allocates it): it
 * renders with colour, refreshes, and on `q` leaves with exit 0 and the cursor shown again.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.join(import.meta.dirname, '..', '..');
const SCRIPT = '/usr/bin/script';

describe.skipIf(!existsSync(SCRIPT))('cutover status --watch in a pseudo-terminal', () => {
  it('renders, refreshes, and exits cleanly on q', async () => {
    const tsx = path.join(ROOT, 'node_modules', '.bin', 'tsx');
    const command = `${tsx} test/support/cli-watch-fixture.ts status customer --env staging --watch --interval 1`;
    const child = spawn(SCRIPT, ['-qfec', command, '/dev/null'], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '', TERM: 'xterm' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      out += b.toString();
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const renders = () => out.split('(q or Ctrl-C to quit').length - 1;
      const deadline = Date.now() + 150_000;
      while (renders() < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      expect(renders(), out.slice(-2000)).toBeGreaterThanOrEqual(2);
      // Each render clears the screen and shows the gate being baked; DLQ depth changes between them.
      expect(out).toContain('\u001b[H\u001b[2J');
      expect(out).toContain('gate     canary-25');
      expect(out).toContain('\u001b[32m'); // colour on a terminal
      child.stdin.write('q');
      const code = await Promise.race([
        exited,
        new Promise((r) => setTimeout(() => r('still running'), 20_000)),
      ]);
      expect(code).toBe(0);
      expect(out.trimEnd().endsWith('\u001b[?25h')).toBe(true); // the cursor is back
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 200_000);
});
