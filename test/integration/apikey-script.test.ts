/**
 * `npm run apikey -- create`: the key alone on stdout, so `KEY=$(npm run --silent apikey -- create
 * --tenant NAME)` captures exactly the key, and that key authenticates.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { createTestService, ROOT, type TestService } from '../helpers/service.js';

const run = promisify(execFile);

describe('apikey script', () => {
  let svc: TestService;
  before(async () => {
    svc = await createTestService('apikey_script');
  });
  after(async () => svc?.close());

  for (const quiet of [false, true]) {
    it(`prints the key alone on stdout${quiet ? ' (--quiet: nothing on stderr)' : ', its label on stderr'}`, async () => {
      const args = [
        '--import',
        'tsx',
        path.join(ROOT, 'scripts', 'apikey.ts'),
        'create',
        '--tenant',
        `t${quiet ? 'q' : 'l'}`,
        ...(quiet ? ['--quiet'] : []),
      ];
      const { stdout, stderr } = await run(process.execPath, args, {
        cwd: ROOT,
        env: { ...process.env, ...svc.env },
        timeout: 60_000,
      });
      const key = stdout.trim();
      assert.equal(stdout.split('\n').filter(Boolean).length, 1, `stdout: ${stdout}`);
      if (quiet) assert.equal(stderr.trim(), '');
      else assert.match(stderr, /shown once/);
      const res = await svc.app.inject({
        method: 'GET',
        url: '/v1/jobs',
        headers: { authorization: `Bearer ${key}` },
      });
      assert.equal(res.statusCode, 200, res.body);
    });
  }
});
