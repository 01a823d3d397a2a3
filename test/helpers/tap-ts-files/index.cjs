// tap plugin: tap runs .ts test files. That is all it does: a .ts test runs through tsx (package.json tap.node-arg:
// tsx-for-ts.mjs, next to this file; `npm test` runs the built .js tests, without it). It replaces tap's default
// @tapjs/typescript, which loaded ts-node into every test process as well: about 2 s per test file (measured, 7 files
// at -j1: 40 s with it, 26 s without; 3 heavier files at -j1: 35.4 s with it, 25.3 s without).
// @tapjs/tsx would do the same, but every version pins an older @tapjs/core than tap 21.8 brings.
// It is a local package (a file: devDependency) because tap resolves plugins from its own build directory.
exports.testFileExtensions = ['ts', 'mts', 'cts'];
exports.plugin = () => ({});
