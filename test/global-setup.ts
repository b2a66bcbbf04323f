import { execFileSync } from 'node:child_process';
import { cpSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Builds dist/ once, for the tests that run the real entry point as a child process. A type error
 * fails the run; GHOSTING_ALLOW_TYPE_ERRORS=1 lets it go on with whatever tsc emitted (handy
 * while several changes are half-done; CI's `npm run lint` type-checks anyway).
 */
export default function buildOnce(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  try {
    // The server's code, then the public pages' browser scripts (their own tsconfig: DOM types).
    for (const project of ['tsconfig.build.json', 'src/web/browser/tsconfig.json']) {
      execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', project], {
        cwd: root,
        stdio: 'inherit',
      });
    }
  } catch (error) {
    if (process.env.GHOSTING_ALLOW_TYPE_ERRORS !== '1') {
      throw new Error('the build has type errors (set GHOSTING_ALLOW_TYPE_ERRORS=1 to run the tests anyway)', {
        cause: error,
      });
    }
  }
  // As `npm run build` does: the pages' stylesheet goes beside their compiled code.
  cpSync(`${root}/src/web/static`, `${root}/dist/web/static`, { recursive: true });
}
