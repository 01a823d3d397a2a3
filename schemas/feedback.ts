/**
 * Feedback on inference for RLHF: a rating of one answer, or a preference between two. Recorded durably; exported as
 * trainer datasets by the export-feedback job (docs/jobs.md).
 */
import { Type, type Static } from '@sinclair/typebox';

const Text = Type.String({ minLength: 1, maxLength: 64 * 1024 });

const AnswerId = Type.String({ minLength: 1, maxLength: 128 });

/**
 * Either `rating` of the answer `answer_id`, or a preference: `prompt` with `chosen` and `rejected` answers, or
 * `answer_id` (the chosen answer) and `rejected_answer_id` (a worse answer to the same prompt). An answer id is the
 * `request_id` its inference answered with, looked up in the inference record (feedback.recordInferences, off by
 * default). `request_id` and `rejected_request_id` are the old names, kept on REST and gRPC; on ZMQ `request_id` is
 * the envelope's own (the message id), so the answer is named `answer_id` there.
 */
export const RecordFeedbackRequest = Type.Object(
  {
    answer_id: Type.Optional(AnswerId),
    rejected_answer_id: Type.Optional(AnswerId),
    request_id: Type.Optional(AnswerId),
    /** -1 (bad), 0 (neutral) or 1 (good). */
    rating: Type.Optional(Type.Integer({ minimum: -1, maximum: 1 })),
    rejected_request_id: Type.Optional(AnswerId),
    prompt: Type.Optional(Text),
    chosen: Type.Optional(Text),
    rejected: Type.Optional(Text),
    comment: Type.Optional(Type.String({ maxLength: 4000 })),
    /**
     * Idempotent recording, as SubmitJob's request_id (a name of its own: request_id is taken, the old name of
     * answer_id): the same owner, key and fields return the record made first (other fields:
     * MOC_ERR_REQUEST_ID_REUSED).
     */
    idempotency_key: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  },
  { additionalProperties: false },
);
export type RecordFeedbackRequest = Static<typeof RecordFeedbackRequest>;

export const Feedback = Type.Object({
  id: Type.String(),
  kind: Type.Union([Type.Literal('rating'), Type.Literal('preference')]),
  owner: Type.String(),
  at: Type.Number(),
  model: Type.String(),
  prompt: Type.String(),
  /** rating: the rated answer; preference: the chosen one. */
  chosen: Type.String(),
  rejected: Type.String(),
  rating: Type.Integer(),
  requestId: Type.String(),
  comment: Type.String(),
  /** The record's idempotency key (RecordFeedbackRequest.idempotency_key): unique per owner. */
  idempotencyKey: Type.Optional(Type.String()),
  /** What the request asked for, as a digest per request field (as Goal.requestDigests). */
  requestDigests: Type.Optional(Type.Record(Type.String(), Type.String())),
});
export type Feedback = Static<typeof Feedback>;
