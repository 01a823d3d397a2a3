/**
 * Feedback actor (main thread): records ratings and preference pairs on inference, for RLHF datasets (the
 * export-feedback job). It also keeps the inference record feedback refers to by answer id (the inference's request id): opt-in
 * (feedback.recordInferences, off by default: prompts can be sensitive), bounded (feedback.maxRecords, oldest dropped
 * first) and in memory only — a prompt reaches the disk only inside a feedback record that quotes it.
 */
import { randomUUID } from 'node:crypto';
import type { Config } from '../../schemas/config.js';
import type { Feedback, RecordFeedbackRequest } from '../../schemas/feedback.js';
import { differingKeys, fieldDigests } from '../../src/canonical-json.js';
import { errors } from '../../src/errors.js';
import type { Behavior, Envelope } from '../../src/kernel/types.js';
import type { WorkStore } from '../../src/store/work-store.js';

interface Inference {
  model: string;
  prompt: string;
  text: string;
}

export type FeedbackProtocol = {
  record: { req: { kind: 'record'; request: RecordFeedbackRequest; owner: string }; reply: Feedback };
  /** From the router after each served inference, when feedback.recordInferences is on. */
  inferred: { req: { kind: 'inferred'; requestId: string; model: string; prompt: string; text: string }; reply: void };
};

export class FeedbackActor implements Behavior<FeedbackProtocol> {
  private readonly inferences = new Map<string, Inference>();

  constructor(
    private readonly config: Config,
    private readonly store: WorkStore,
  ) {}

  /** Whether the router should tell this actor about each inference. */
  get recording(): boolean {
    return this.config.feedback.recordInferences;
  }

  receive(env: Envelope<FeedbackProtocol>): void {
    const msg = env.msg;
    switch (msg.kind) {
      case 'inferred':
        return this.remember(msg.requestId, { model: msg.model, prompt: msg.prompt, text: msg.text });
      case 'record':
        return this.record(env as Envelope<FeedbackProtocol, 'record'>);
      default:
        throw new Error(`feedback: unknown message kind ${JSON.stringify((msg as { kind: unknown }).kind)}`);
    }
  }

  /**
   * A record made, or, under an idempotency key an earlier request took, that record when this request is the same
   * one (field by field) and MOC_ERR_REQUEST_ID_REUSED naming what differs otherwise. A retry is answered from the
   * store before the record is built: the inference it names may have left the record since.
   */
  private record(env: Envelope<FeedbackProtocol, 'record'>): void {
    const { request: r, owner } = env.msg;
    const key = r.idempotency_key;
    const digests = fieldDigests(requestedFields(r));
    const answer = (first: Feedback) => {
      const differ = differingKeys(first.requestDigests ?? {}, digests);
      if (differ.length === 0) return env.reply(first);
      env.fail(errors.requestIdReused(key!, `feedback ${first.id}`, differ, { feedback: first.id }, 'idempotency_key'));
    };
    const first = key === undefined ? undefined : this.store.feedbackByKey(owner, key);
    if (first) return answer(first);
    const f = this.build(r, owner);
    const keyed: Feedback = key === undefined ? f : { ...f, idempotencyKey: key, requestDigests: digests };
    this.store.recordFeedback(keyed).then(
      ({ feedback, created }) => (created ? env.reply(feedback) : answer(feedback)),
      (err) => env.fail(err),
    );
  }

  private remember(id: string, inf: Inference): void {
    if (!this.recording) return;
    this.inferences.delete(id);
    this.inferences.set(id, inf);
    // Oldest first out: a Map iterates in insertion order.
    while (this.inferences.size > this.config.feedback.maxRecords)
      this.inferences.delete(this.inferences.keys().next().value!);
  }

  private recalled(field: string, id: string): Inference {
    const inf = this.inferences.get(id);
    if (inf) return inf;
    throw errors.invalidArgument(
      field,
      this.recording
        ? `'${id}' is not in the inference record (it keeps the last ${this.config.feedback.maxRecords}, in memory); send prompt and answers instead`
        : 'this server keeps no inference record (feedback.recordInferences is off); send prompt and answers instead',
    );
  }

  /** The feedback record of a request, or a coded error saying what to send instead. */
  private build(r: RecordFeedbackRequest, owner: string): Feedback {
    const answer = answerId(r, 'answer_id', 'request_id');
    const rejectedAnswer = answerId(r, 'rejected_answer_id', 'rejected_request_id');
    const base = {
      id: `fb-${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`,
      owner,
      at: Date.now(),
      comment: r.comment ?? '',
      requestId: answer?.id ?? '',
    };
    if (r.rating !== undefined) {
      if (r.rejected !== undefined || rejectedAnswer !== undefined) {
        throw errors.invalidArgument(
          'rating',
          `rates one answer; send either a rating or a preference (rejected / ${rejectedAnswer?.field ?? 'rejected_answer_id'}), not both`,
        );
      }
      if (answer !== undefined) {
        const inf = this.recalled(answer.field, answer.id);
        return {
          ...base,
          kind: 'rating',
          model: inf.model,
          prompt: inf.prompt,
          chosen: inf.text,
          rejected: '',
          rating: r.rating,
        };
      }
      if (r.prompt === undefined || r.chosen === undefined) {
        throw errors.invalidArgument(
          'answer_id',
          'a rating needs the answer it rates: answer_id (the request_id its inference answered with), or prompt and chosen',
        );
      }
      return { ...base, kind: 'rating', model: '', prompt: r.prompt, chosen: r.chosen, rejected: '', rating: r.rating };
    }
    if (answer !== undefined && rejectedAnswer !== undefined) {
      const chosen = this.recalled(answer.field, answer.id);
      const rejected = this.recalled(rejectedAnswer.field, rejectedAnswer.id);
      if (chosen.prompt !== rejected.prompt) {
        throw errors.invalidArgument(
          rejectedAnswer.field,
          `answered another prompt than ${answer.field}; a preference compares two answers to one prompt`,
        );
      }
      return {
        ...base,
        kind: 'preference',
        model: chosen.model,
        prompt: chosen.prompt,
        chosen: chosen.text,
        rejected: rejected.text,
        rating: 0,
      };
    }
    if (r.prompt !== undefined && r.chosen !== undefined && r.rejected !== undefined) {
      return {
        ...base,
        kind: 'preference',
        model: '',
        prompt: r.prompt,
        chosen: r.chosen,
        rejected: r.rejected,
        rating: 0,
      };
    }
    throw errors.invalidArgument(
      'request',
      'send a rating (rating + answer_id, or rating + prompt + chosen) or a preference (prompt + chosen + rejected, or answer_id + rejected_answer_id)',
    );
  }
}

/**
 * The answer a request names, by its name (`answer_id`) or its old one (`request_id`, kept on REST and gRPC; on ZMQ
 * the envelope owns it): one of them, never both.
 */
function answerId(
  r: RecordFeedbackRequest,
  name: 'answer_id' | 'rejected_answer_id',
  old: 'request_id' | 'rejected_request_id',
): { field: string; id: string } | undefined {
  if (r[name] !== undefined && r[old] !== undefined)
    throw errors.invalidArgument(old, `is the old name of ${name}; send ${name} only`);
  if (r[name] !== undefined) return { field: name, id: r[name] };
  if (r[old] !== undefined) return { field: old, id: r[old] };
  return undefined;
}

/** What a request asks for, by the names a client sends (an answer by either of its names): what a retry must repeat. */
function requestedFields(r: RecordFeedbackRequest): Record<string, unknown> {
  return {
    answer_id: r.answer_id ?? r.request_id,
    rejected_answer_id: r.rejected_answer_id ?? r.rejected_request_id,
    rating: r.rating,
    prompt: r.prompt,
    chosen: r.chosen,
    rejected: r.rejected,
    comment: r.comment ?? '',
  };
}

/**
 * Preference pairs from the feedback: the explicit ones, then, per prompt, each answer rated good against each rated
 * bad (so thumbs up and down on answers to one prompt become pairs a trainer can use).
 */
export function preferencePairs(
  all: Feedback[],
): { prompt: string; chosen: string; rejected: string; derived: boolean }[] {
  const out = all
    .filter((f) => f.kind === 'preference')
    .map((f) => ({ prompt: f.prompt, chosen: f.chosen, rejected: f.rejected, derived: false }));
  const byPrompt = new Map<string, { good: Set<string>; bad: Set<string> }>();
  for (const f of all) {
    if (f.kind !== 'rating' || f.rating === 0) continue;
    const p = byPrompt.get(f.prompt) ?? { good: new Set(), bad: new Set() };
    (f.rating > 0 ? p.good : p.bad).add(f.chosen);
    byPrompt.set(f.prompt, p);
  }
  for (const [prompt, p] of byPrompt) {
    for (const chosen of p.good)
      for (const rejected of p.bad) if (chosen !== rejected) out.push({ prompt, chosen, rejected, derived: true });
  }
  return out;
}
