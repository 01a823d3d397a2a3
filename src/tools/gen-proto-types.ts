/**
 * Generates the TypeScript types of proto/moc.proto (grpc-js's proto-loader-gen-types) into
 * src/transports/grpc/generated/, with the loader options src/transports/grpc/proto.ts loads the proto with, so the
 * types say what the handlers really receive (keepCase: snake_case fields; longs: Number; enums: String; defaults;
 * oneofs). `--check` regenerates into a temporary folder and fails, naming the files, when the committed types differ.
 *
 *   tsx src/tools/gen-proto-types.ts           # write
 *   tsx src/tools/gen-proto-types.ts --check   # exit 1 when out of step with the proto
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../package-root.js';

const root = packageRoot();
const OUT = path.join(root, 'src', 'transports', 'grpc', 'generated');
const BIN = path.join(root, 'node_modules', '.bin', 'proto-loader-gen-types');
/** As LOADER_OPTIONS in src/transports/grpc/proto.ts; .js specifiers because the tree is ESM (NodeNext). */
const FLAGS = [
  '--keepCase',
  '--longs=Number',
  '--enums=String',
  '--defaults',
  '--oneofs',
  '--grpcLib=@grpc/grpc-js',
  '--importFileExtension=.js',
  '--includeComments',
];

function generate(outDir: string): void {
  rmSync(outDir, { recursive: true, force: true });
  execFileSync(BIN, [...FLAGS, `--outDir=${outDir}`, 'proto/moc.proto'], { cwd: root, stdio: 'inherit' });
}

/** Every file under dir, as paths relative to it. */
function files(dir: string, at = ''): string[] {
  return readdirSync(path.join(dir, at)).flatMap((name) => {
    const rel = path.join(at, name);
    return statSync(path.join(dir, rel)).isDirectory() ? files(dir, rel) : [rel];
  });
}

function check(): number {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'moc-proto-types-'));
  try {
    generate(tmp);
    const want = new Set(files(tmp));
    const have = new Set(files(OUT));
    const differ = [...new Set([...want, ...have])]
      .filter(
        (f) => !want.has(f) || !have.has(f) || !readFileSync(path.join(tmp, f)).equals(readFileSync(path.join(OUT, f))),
      )
      .sort();
    if (differ.length === 0) {
      console.log(`${path.relative(root, OUT)} matches proto/moc.proto`);
      return 0;
    }
    console.error(
      `${path.relative(root, OUT)} is out of step with proto/moc.proto (${differ.join(', ')}): run npm run proto:types and commit the result`,
    );
    return 1;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv.includes('--check')) process.exitCode = check();
else {
  generate(OUT);
  console.log(`wrote ${path.relative(root, OUT)}`);
}
