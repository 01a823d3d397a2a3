/**
 * The built-in `lora` trainer (src/trainers/lora/train.py) learns: a fine-tune job naming it on the demo model over a
 * small generated corpus registers a LoRA adapter of the base, and MOC's own `evaluate` job on held-out sentences of
 * the same kind gives a perplexity at least 30 % below the base's. The written adapter, applied by llama.cpp, gives the
 * logits torch computes with it (check_forward's tolerance), and the Python tokenizer gives the engine's token ids.
 * A cancel (SIGTERM) stops the trainer by itself, well inside graceMs, and leaves no file. Without torch at
 * /usr/bin/python3 a fine-tune naming `lora` is refused at submit, saying what to install.
 */
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startTrainer, type TrainerOutcome } from '../../actors/jobs/trainer-process.js';
import { expandCommand, LORA_PYTHON, loraTrainer } from '../../actors/jobs/trainers.js';
import { DEMO_MODEL_FILE, prng, writeTinyLlamaGguf } from '../../src/model/demo-model.js';
import { packageRoot } from '../../src/package-root.js';
import { runChild } from '../helpers/child.js';
import { startHarness, type Harness } from '../helpers/coordinator.js';
import { ended, jobWhere, rest, writeDataset } from './helpers.js';

const TRAINER = path.join(packageRoot(), 'src', 'trainers', 'lora');
const ENGINE_LOGITS = path.join(packageRoot(), 'src', 'tools', 'engine-logits.ts');

/** Sentences of one small grammar, shuffled with a fixed seed: 60 to train on, 12 others held out. */
function corpus(): { train: { text: string }[]; held: { text: string }[] } {
  const subjects = ['the cat', 'the dog', 'a bird', 'my friend', 'the old man', 'a child'];
  const verbs = ['sees', 'likes', 'finds', 'wants', 'takes'];
  const objects = ['the red ball', 'a green apple', 'the blue box', 'a small stone'];
  const all = subjects.flatMap((s) => verbs.flatMap((v) => objects.map((o) => `${s} ${v} ${o}.`)));
  const rand = prng(3);
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return { train: all.slice(0, 60).map((text) => ({ text })), held: all.slice(60, 72).map((text) => ({ text })) };
}

async function perplexity(t: Test, h: Harness, model: string, dataset: string): Promise<number> {
  const r = await rest(h, 'POST', '/v1/jobs', { type: 'evaluate', spec: { model, dataset } });
  t.equal(r.status, 201, JSON.stringify(r.body));
  const done = await jobWhere(h, r.body.id, ended, `evaluate ${model}`);
  t.equal(done.state, 'succeeded', JSON.stringify(done.error ?? ''));
  return done.outputs.metrics.perplexity!;
}

/** The written adapter: llama.cpp's logits are torch's (check_forward), the Python tokenizer's ids are llama.cpp's. */
async function adapterMatches(t: Test, h: Harness, adapter: string, heldText: string): Promise<void> {
  const base = path.join(h.modelsRoot, DEMO_MODEL_FILE);
  // Spaces (leading, doubled), a tab, a newline, UTF-8 bytes, the "▁" marker itself, special-token text, punctuation.
  const texts = [heldText, ' two  spaces,\ta tab\nand héllo € ▁x <s>', '~!@#$%^&*()_+{}|:"<>?'];
  const ref = await runChild(t, process.execPath, [
    `--import=${import.meta.resolve('tsx')}`,
    ENGINE_LOGITS,
    '--model',
    base,
    '--lora',
    adapter,
    ...texts,
  ]);
  t.equal(ref.code, 0, ref.err);
  const refFile = path.join(h.dir, 'adapter-ref.json');
  writeFileSync(refFile, ref.out);
  const py = (script: string, args: string[]) => runChild(t, LORA_PYTHON, ['-B', path.join(TRAINER, script), ...args]);
  const [check, tok] = await Promise.all([
    py('check_forward.py', ['--model', base, '--reference', refFile, '--lora', adapter]),
    py('tokenizer.py', [base, ...texts]),
  ]);
  t.equal(check.code, 0, `the engine with the adapter gives torch's logits ${check.err}`);
  const res = JSON.parse(check.out);
  t.comment(
    `adapter: max |torch - llama.cpp| ${res.relative.toExponential(2)} of the logits' scale (tolerance ${res.rtol})`,
  );
  t.equal(tok.code, 0, tok.err);
  t.same(
    JSON.parse(tok.out),
    JSON.parse(ref.out).texts.map((x: { tokens: number[] }) => x.tokens),
    "tokenizer.py's ids are the engine's",
  );
}

const torch =
  spawnSync(LORA_PYTHON, ['-B', '-c', 'import torch, numpy'], { stdio: 'ignore', timeout: 30_000 }).status === 0;

if (!torch) {
  t.comment(
    `${LORA_PYTHON} cannot import torch and numpy: the trainer's runs are skipped (apt-get install -y python3-torch python3-numpy; .ci/run does)`,
  );
  t.test('without torch, a fine-tune naming lora is refused at submit, saying what to install', async (t) => {
    const h = await startHarness(t);
    writeDataset(h, 'train.jsonl', corpus().train);
    const r = await rest(h, 'POST', '/v1/jobs', {
      type: 'fine-tune',
      spec: { base_model: 'moc-demo', dataset: 'train.jsonl', output_name: 'demo:sft', trainer: 'lora' },
    });
    t.equal(r.status, 422);
    t.equal(r.body.error.code, 'MOC_ERR_TRAINER_UNAVAILABLE');
    t.match(r.body.error.message, /python3-torch/);
  });
} else {
  t.test('SFT with the lora trainer lowers held-out perplexity by 30 % or more', async (t) => {
    const h = await startHarness(t);
    const { train, held } = corpus();
    writeDataset(h, 'train.jsonl', train);
    writeDataset(h, 'held.jsonl', held);
    const before = await perplexity(t, h, 'moc-demo', 'held.jsonl');

    const started = Date.now();
    const ft = await rest(h, 'POST', '/v1/jobs', {
      type: 'fine-tune',
      spec: {
        base_model: 'moc-demo',
        dataset: 'train.jsonl',
        output_name: 'demo:sft',
        trainer: 'lora',
        params: { epochs: 2, lr: 0.01, batch: 8 },
      },
    });
    t.equal(ft.status, 201, JSON.stringify(ft.body));
    const done = await jobWhere(h, ft.body.id, ended, 'the fine-tune ended', 50_000);
    const seconds = (Date.now() - started) / 1000;
    t.equal(done.state, 'succeeded', JSON.stringify(done.error ?? done.logTail));
    t.same(done.outputs.models, ['demo:sft']);
    const model = await rest(h, 'GET', '/v1/models/demo:sft');
    t.equal(model.body.base, 'moc-demo', 'registered as a LoRA adapter of the base');
    const m = done.outputs.metrics;
    t.ok(m.train_check_base_relative! <= 1e-3, `the trainer checked its forward: ${m.train_check_base_relative}`);
    t.ok(m.train_check_adapter_relative! <= 1e-3, `and its adapter: ${m.train_check_adapter_relative}`);
    t.match(done.logTail.join('\n'), /the adapter: torch matches llama\.cpp within/);

    const adapter = path.join(h.modelsRoot, done.outputs.files[0]!);
    // The held-out evaluation and the adapter's own check against the engine run side by side.
    const [after] = await Promise.all([
      perplexity(t, h, 'demo:sft', 'held.jsonl'),
      adapterMatches(t, h, adapter, held[0]!.text),
    ]);
    t.comment(
      `held-out perplexity: base ${before.toFixed(2)}, trained ${after.toFixed(2)} (${(100 * (1 - after / before)).toFixed(0)} % lower); ` +
        `fine-tune job ${seconds.toFixed(1)} s, last epoch loss ${m.train_epoch_loss?.toFixed(3)}, ` +
        `${m.train_tokens_per_s?.toFixed(0)} tokens/s, adapter ${statSync(adapter).size} bytes`,
    );
    t.ok(
      after <= 0.7 * before,
      `perplexity ${after.toFixed(2)} is at least 30 % below the base's ${before.toFixed(2)}`,
    );
    t.same(
      readdirSync(path.dirname(adapter)),
      [path.basename(adapter)],
      'the adapter alone in its folder: no temp file left',
    );
  });

  t.test('a cancel stops the lora trainer on SIGTERM, within graceMs, writing nothing', async (t) => {
    const dir = t.testdir();
    const { train } = corpus();
    const data = path.join(dir, 'train.jsonl');
    writeFileSync(data, `${train.map((x) => JSON.stringify(x)).join('\n')}\n`);
    const base = (await writeTinyLlamaGguf(path.join(dir, 'base.gguf'))).path;
    const out = path.join(dir, 'out', 'adapter.gguf');
    const trainer = loraTrainer();
    const command = expandCommand(
      trainer.command,
      { node: process.execPath, package: packageRoot(), base, data, out, job: 'cancel-test' },
      { epochs: 500 },
    );
    // The engine checks are not what this test is about: without them training starts at once.
    const at = command.indexOf('--engine-logits');
    command.splice(at, 2);
    mkdirSync(path.dirname(out), { recursive: true });
    let stepped!: () => void;
    const firstStep = new Promise<void>((resolve) => {
      stepped = resolve;
    });
    const r = startTrainer({
      command,
      cwd: dir,
      graceMs: trainer.graceMs,
      onEvent: (e) => {
        if (e.type === 'metric' && e.name === 'loss') stepped();
      },
    });
    t.teardown(() => r.cancel('teardown'));
    await firstStep;
    r.cancel('the job was cancelled');
    const o: TrainerOutcome = await r.done;
    t.equal(o.cancelled, true);
    t.equal(o.exitCode, 143, 'it stopped itself on SIGTERM (exit 143), no SIGKILL needed');
    t.notMatch(o.error ?? '', /SIGKILL/);
    t.match(o.stderrTail, /stopped by SIGTERM; nothing written/);
    t.notOk(existsSync(out), 'no adapter');
    t.same(readdirSync(path.dirname(out)), [], 'and no temp file');
  });
}
