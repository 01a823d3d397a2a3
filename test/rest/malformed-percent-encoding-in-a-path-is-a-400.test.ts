/**
 * A path parameter whose percent-encoding is malformed is the caller's mistake: 400 naming the parameter (in the
 * OpenAI error shape on the OpenAI routes), never a 500 "please report it"; the server keeps serving.
 * Issue 24, item 10.
 */
import t from 'tap';
import { startHarness } from '../helpers/coordinator.js';

t.test('malformed percent-encoding in a path parameter: 400 naming it, on every route kind', async (t) => {
  const h = await startHarness(t);
  const cases: [path: string, param: string][] = [
    ['/v1/models/%ff', 'name'],
    ['/v1/jobs/%zz', 'id'],
    ['/v1/goals/%', 'id'],
    ['/openai/v1/models/%E0%A4%A', 'name'],
  ];
  for (const [path, param] of cases) {
    const r = await fetch(`${h.restUrl}${path}`);
    const body = (await r.json()) as { error: Record<string, unknown> };
    t.equal(r.status, 400, `${path}: 400`);
    const text = JSON.stringify(body);
    t.match(text, /percent-encoding/, `${path}: says what is wrong`);
    t.match(String(body.error.message), new RegExp(`^${param}:`), `${path}: names the parameter '${param}'`);
    if (path.startsWith('/openai/')) t.equal(body.error.type, 'invalid_request_error', `${path}: OpenAI's shape`);
    else t.equal(body.error.code, 'MOC_ERR_INVALID_ARGUMENT', `${path}: coded`);
  }
  // A well-formed encoding of an unknown name is still a 404, and the server serves on.
  t.equal((await fetch(`${h.restUrl}/v1/models/${encodeURIComponent('no-such-model')}`)).status, 404);
  t.equal((await fetch(`${h.restUrl}/health/live`)).status, 200, 'still serving');
});
