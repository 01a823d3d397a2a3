/**
 * Our error table in OpenAI's error shape, `{ "error": { "message", "type", "param", "code" } }`, with the HTTP
 * status from the table (so the official clients raise their matching exception: 401 AuthenticationError, 404
 * NotFoundError, 429 RateLimitError with Retry-After, …). `code` is OpenAI's own code where one means the same thing
 * (`invalid_api_key`, `model_not_found`, `context_length_exceeded`, `rate_limit_exceeded`), else ours (MOC_ERR_…);
 * `moc_code` always carries ours.
 */
import type { MocError } from '../../errors.js';

const TYPE_OF_STATUS: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'invalid_request_error',
  405: 'invalid_request_error',
  409: 'invalid_request_error',
  413: 'invalid_request_error',
  422: 'invalid_request_error',
  429: 'rate_limit_error',
  499: 'invalid_request_error',
  501: 'invalid_request_error',
};

function openAiCode(e: MocError): string {
  switch (e.code) {
    case 'MOC_ERR_UNAUTHENTICATED':
      return 'invalid_api_key';
    case 'MOC_ERR_MODEL_NOT_FOUND':
      return 'model_not_found';
    case 'MOC_ERR_RATE_LIMITED':
      return 'rate_limit_exceeded';
    case 'MOC_ERR_INVALID_ARGUMENT':
      return typeof e.details.contextSize === 'number' ? 'context_length_exceeded' : e.code;
    default:
      return e.code;
  }
}

export function openAiErrorBody(e: MocError): {
  error: { message: string; type: string; param: string | null; code: string; moc_code: string };
} {
  const field = e.details.field;
  return {
    error: {
      message: e.message,
      type: TYPE_OF_STATUS[e.httpStatus] ?? 'server_error',
      param: typeof e.details.contextSize === 'number' ? 'messages' : typeof field === 'string' ? field : null,
      code: openAiCode(e),
      moc_code: e.code,
    },
  };
}
