// Checks that the wasm-bindgen build of composer-core composes exactly the bytes the native
// core does. Run by scripts/test after `wasm-bindgen --target nodejs` and the native example.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const pkg = process.env.COMPOSER_JS_PKG;
const fixtures = process.env.COMPOSER_FIXTURES;
const expectedPath = process.env.COMPOSER_EXPECTED;
assert.ok(pkg && fixtures && expectedPath, 'COMPOSER_JS_PKG, COMPOSER_FIXTURES and COMPOSER_EXPECTED must be set');
const core = require(`${pkg}/composer_core.js`);
const read = (name) => readFileSync(`${fixtures}/${name}`, 'utf8');

test('an order view is byte-identical to the native core', () => {
  const view = core.orderView(read('order.json'), [read('batch-1.json'), read('batch-2.json')]);
  assert.equal(view, readFileSync(expectedPath, 'utf8'));
  const parsed = JSON.parse(view);
  assert.equal(parsed.lines[2].product, null, 'a product the catalog lost is null');
  assert.equal(parsed.lines[0].product.price_minor, 6499);
  assert.equal(parsed.degraded, false);
});

test('lookups are planned de-duplicated and chunked', () => {
  assert.deepEqual(JSON.parse(core.planOrder(read('order.json'), 2)), [
    ['kitchen-00001', 'garden-00002'],
    ['gone-00003'],
  ]);
});

test('bad input is an exception, not a crash', () => {
  assert.throws(() => core.orderView('{not json', []));
});
