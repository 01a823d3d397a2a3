/**
 * Refusals say what was wrong and what is allowed (issue 24, items 9, 14 and a gRPC case of 15). Before: `n: 0`,
 * `max_tokens: 1e9`, `stop: ""`, 2,048 embedding inputs and `top_logprobs: 21` said only "Expected union value";
 * `prompt: []` was a 500 (streamed: a 200 with an empty stream); an unregistered model said "load it with LoadModel
 * first" (LoadModel then said "not registered"); role `wizard` spoke of the function role; a text part without text
 * said "'text' content is not supported"; dataset "." "resolves outside the datasets root (symlink?)"; a deep schema
 * "requests hold plain values"; `?limit=-1` "Expected integer"; a gRPC response_schema_json without response_format
 * was ignored.
 */
import t from 'tap';
import { errorCode, startHarness } from '../helpers/coordinator.js';

const post = (body: unknown) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
const M = [{ role: 'user', content: 'Hi' }];

/** A JSON Schema of `depth` objects, each the only property of the one around it. */
function deepSchema(depth: number): Record<string, unknown> {
  let s: Record<string, unknown> = { type: 'string' };
  for (let i = 0; i < depth; i++) s = { type: 'object', properties: { a: s }, required: ['a'] };
  return s;
}

t.test('every refusal names the field, what it got and what is allowed', async (t) => {
  const h = await startHarness(t);
  const C = `${h.restUrl}/openai/v1`;
  const refused = async (url: string, body: unknown, param: string, message: RegExp, what: string) => {
    const r = await fetch(url, post(body));
    const text = await r.text();
    t.equal(r.status, 400, `${what}: 400 (${text.slice(0, 300)})`);
    const e = JSON.parse(text).error;
    t.match(e, { param, message }, what);
    t.notMatch(e.message, /Expected union value|Expected integer|plain values|symlink/, `${what}: not the old words`);
    return e;
  };

  t.test('OpenAI fields: the allowed range, not "Expected union value"', async (t) => {
    const chat = `${C}/chat/completions`;
    await refused(
      chat,
      { model: 'moc-demo', messages: M, n: 0 },
      'n',
      /^n: must be an integer from 1 to 16 \(got 0\)/,
      'n 0',
    );
    await refused(
      chat,
      { model: 'moc-demo', messages: M, max_tokens: 1e9 },
      'max_tokens',
      /^max_tokens: must be an integer from 1 to 1048576 \(got 1000000000\)/,
      'max_tokens 1e9',
    );
    await refused(
      chat,
      { model: 'moc-demo', messages: M, stop: '' },
      'stop',
      /^stop: must be a string of 1 to 64 characters \(got ""\)/,
      'stop ""',
    );
    await refused(
      chat,
      { model: 'moc-demo', messages: M, logprobs: true, top_logprobs: 21 },
      'top_logprobs',
      /^top_logprobs: must be an integer from 0 to 20 \(got 21\)/,
      'top_logprobs 21',
    );
    await refused(
      `${C}/embeddings`,
      { model: 'moc-demo', input: Array.from({ length: 2048 }, () => 'x') },
      'input',
      /^input: must be an array of 1 to 256 strings \(got an array of 2048 items\)/,
      '2048 embedding inputs',
    );
    await refused(
      chat,
      { model: 'moc-demo', messages: [{ role: 'wizard', content: 'x' }] },
      'messages[0].role',
      /must be system, developer, user, assistant or tool \(got "wizard"\)/,
      'role wizard',
    ).then((e) => t.notMatch(e.message, /function/, 'wizard is not told about the function role'));
    await refused(
      chat,
      { model: 'moc-demo', messages: [{ role: 'user', content: [{ type: 'text' }] }] },
      'messages[0].content[0].text',
      /^messages\[0\]\.content\[0\]\.text: is required: a text part is \{"type": "text", "text": "\.\.\."\}/,
      'text part without text',
    );
    await refused(
      chat,
      {
        model: 'moc-demo',
        messages: M,
        response_format: { type: 'json_schema', json_schema: { name: 'deep', schema: deepSchema(16) } },
      },
      'response_format',
      /^response_format: nests deeper than 32 levels of objects and arrays, the limit for every request.*flatten it/,
      'schema 16 deep',
    );
  });

  t.test('completions prompt: [] and token ids are a 400 naming prompt, streamed or not', async (t) => {
    const shapes: [unknown[], string][] = [
      [[], 'prompt'],
      [[1, 2, 3], 'prompt.0'],
      [[[1, 2]], 'prompt.0'],
      [['ok', 5], 'prompt.1'],
    ];
    for (const stream of [false, true])
      for (const [prompt, param] of shapes)
        await refused(
          `${C}/completions`,
          { model: 'moc-demo', prompt, stream },
          param,
          /^prompt(\.\d)?: must be .*; send the text; token-id prompts \(arrays of integers\) are not supported/,
          `prompt ${JSON.stringify(prompt)}${stream ? ', streamed' : ''}`,
        );
    const ok = await fetch(`${C}/completions`, post({ model: 'moc-demo', prompt: ['a', 'b'], max_tokens: 2 }));
    t.equal(ok.status, 200, 'two text prompts are served');
    t.equal(((await ok.json()) as any).choices.length, 2);
  });

  t.test('an unregistered model: register it first, and how', async (t) => {
    const r = await fetch(`${h.restUrl}/v1/infer`, post({ model: 'nope', prompt: 'hi' }));
    t.equal(r.status, 404);
    const e = ((await r.json()) as any).error;
    t.match(e.message, /'nope' is not registered.*register it first.*POST \/v1\/models/, e.message);
    t.notMatch(e.message, /load it with LoadModel first/);
    for (const [what, res] of [
      ['ready', await fetch(`${h.restUrl}/v1/models/nope/ready`)],
      ['unload', await fetch(`${h.restUrl}/v1/models/nope/unload`, post({}))],
    ] as const) {
      t.equal(res.status, 404, `${what}: 404`);
      const m = ((await res.json()) as any).error.message;
      t.match(m, /'nope' is not registered.*register it first/, `${what}: ${m}`);
      t.notMatch(m, /load it with LoadModel first/);
    }
    const load = await fetch(`${h.restUrl}/v1/models/nope/load`, post({}));
    t.equal(load.status, 404);
    t.match(
      ((await load.json()) as any).error.message,
      /'nope' is not registered; register it first \(RegisterModel, POST \/v1\/models/,
    );
  });

  t.test('dataset "." names the root, not a file under it', async (t) => {
    for (const dataset of ['.', './', '']) {
      const r = await fetch(`${h.restUrl}/v1/jobs`, post({ type: 'evaluate', spec: { model: 'moc-demo', dataset } }));
      const text = await r.text();
      t.equal(r.status, 400, `dataset ${JSON.stringify(dataset)}: 400 (${text})`);
      if (dataset)
        t.match(JSON.parse(text).error.message, /names the datasets root itself; name a file under it/, text);
      t.notMatch(text, /symlink/);
    }
  });

  t.test('?limit=-1: the allowed range', async (t) => {
    for (const limit of ['-1', '0', '1001', 'abc']) {
      const r = await fetch(`${h.restUrl}/v1/models?limit=${limit}`);
      t.equal(r.status, 400, `limit ${limit}: 400`);
      t.match(((await r.json()) as any).error.message, /^limit: must be an integer from 1 to 1000 \(got/);
    }
  });

  t.test('gRPC response_schema_json without response_format json_schema is refused, naming both', async (t) => {
    for (const response_format of ['', 'json_object', 'text']) {
      const e = await h
        .unary('Infer', {
          model: 'moc-demo',
          prompt: 'hi',
          max_tokens: 2,
          response_format,
          response_schema_json: '{"type":"object"}',
        })
        .then(
          () => null,
          (err) => err,
        );
      t.equal(
        e ? errorCode(e) : 'accepted',
        'MOC_ERR_INVALID_ARGUMENT',
        `response_format ${JSON.stringify(response_format)}`,
      );
      t.match(e?.details, /^response_schema_json: is set but response_format is .*send response_format "json_schema"/);
    }
    const ok = await h.unary('Infer', {
      model: 'moc-demo',
      prompt: 'hi',
      max_tokens: 8,
      response_format: 'json_schema',
      response_schema_json: '{"type":"object"}',
    });
    t.ok(ok.tokens_generated > 0, 'with json_schema it is served');
  });
});
