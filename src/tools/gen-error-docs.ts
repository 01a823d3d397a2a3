/** Writes docs/errors.md from the error table. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { renderErrorDocs } from '../error-docs.js';
import { packageRoot } from '../package-root.js';

const file = path.join(packageRoot(), 'docs', 'errors.md');
writeFileSync(file, renderErrorDocs());
console.log(`wrote ${file}`);
