import { errors, MocError } from '../../src/errors.js';

/**
 * Why a generation stopped early: what aborted its signal (a deadline, a cancellation, the device's own coded
 * reason), else plain cancelled. One answer for both generation paths (engine-core.ts and tool-calls.ts).
 */
export const cancelledBy = (signal: AbortSignal): MocError =>
  signal.reason instanceof MocError ? signal.reason : errors.cancelled('generation');
