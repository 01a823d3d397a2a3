// Development only (tests, tsx): piscina's worker threads do not inherit tsx's loader on Node 20, so this plain
// module registers it and re-exports the TypeScript task. Built code (dist/) loads inspect-task.js directly.
import { register } from 'tsx/esm/api';
register();
const task = await import('./inspect-task.ts');
export default task.default;
