// The test processes' loader (package.json tap.node-arg): tsx for a .ts test file (`npx tap test/x.test.ts`, a
// developer's run of the sources), nothing for a built one (`npm test` runs dist/test/**/*.test.js, built from the
// same sources just before): tsx's hooks would still see every module a .js test loads.
if (/\.[cm]?ts$/.test(process.argv[1] ?? '')) await import('tsx');
