import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildUi, staleFiles } from '../../../scripts/build-ui.js';

describe('dashboard build (ui/dist)', () => {
  it('is what `npm run build:ui` makes from ui/src now', async () => {
    const built = await buildUi();
    assert.deepEqual([...built.keys()].sort(), ['app.css', 'app.js', 'index.html']);
    assert.deepEqual(
      await staleFiles(built),
      [],
      'ui/dist is out of date: run `npm run build:ui` and commit it',
    );
  });
});
