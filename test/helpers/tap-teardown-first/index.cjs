// tap plugin: a test's teardowns run before tap removes its t.testdir().
//
// tap chains both on the test's end in the order they were first asked for: t.testdir() called before the first
// t.teardown() (the usual order: make a directory, then start what uses it) removes the directory first, while the
// server or child the teardown would stop still writes in it. Removing then fails (ENOTEMPTY), tap skips the
// teardowns after that failure, and what they would have stopped keeps the test process alive to tap's timeout
// (test/goals/goals-on-every-transport hung 180 s that way in CI). Asking for a teardown as the test starts puts
// the teardowns first whatever the test's order; later teardowns join the same list.
const noop = () => {};
exports.plugin = (base) => {
  const runMain = base.runMain;
  base.runMain = function (cb) {
    // base.t (the test with every plugin's methods) exists from here on, not yet while plugins are built.
    this.t.teardown(noop);
    return runMain.call(this, cb);
  };
  return {};
};
