/**
 * The model list's page cursor: opaque to clients (they pass back the `next_cursor` they were given), the last name
 * of the page before inside. 'm' + base64url: never all digits, so a REST query string never reads it as a number.
 */
import { errors } from '../../src/errors.js';

export function modelCursor(lastName: string): string {
  return `m${Buffer.from(lastName, 'utf8').toString('base64url')}`;
}

/** The name a cursor continues after; a cursor this server did not give is refused with what to pass instead. */
export function cursorName(cursor: string): string {
  if (/^m[A-Za-z0-9_-]+$/.test(cursor)) {
    const name = Buffer.from(cursor.slice(1), 'base64url').toString('utf8');
    if (modelCursor(name) === cursor) return name;
  }
  throw errors.invalidArgument(
    'cursor',
    'is not a cursor this server gave: pass the next_cursor of the previous page, or leave it out for the first page',
  );
}
