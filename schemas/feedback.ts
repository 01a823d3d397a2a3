/**
 * Feedback on inference for RLHF: a rating of one answer, or a preference between two. Recorded durably; exported as
 * trainer datasets by the export-feedback job (docs/jobs.md).
 */
import { Type, type Static } from '@sinclair/typebox';

const Text = Type.String({ minLength: 1, maxLength: 64 * 1024 });

/**
 * Either `rating` of the answer to `request_id`, or a preference: `prompt` with `chosen` and `rejected` answers, or
 * `request_id` (the chosen answer) and `rejected_request_id` (a worse answer to the same prompt). Request ids refer to
 * the inference record (feedback.recordInferences, off by default).
 */
export const RecordFeedbackRequest = Type.Object(
  {
    request_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    /** -1 (bad), 0 (neutral) or 1 (good). */
    rating: Type.Optional(Type.Integer({ minimum: -1, maximum: 1 })),
    rejected_request_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    prompt: Type.Optional(Text),
    chosen: Type.Optional(Text),
    rejected: Type.Optional(Text),
    comment: Type.Optional(Type.String({ maxLength: 4000 })),
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
});
export type Feedback = Static<typeof Feedback>;
