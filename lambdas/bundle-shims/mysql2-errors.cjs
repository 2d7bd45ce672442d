'use strict';
// mysql2's error-code table (lib/constants/errors.js: ~4,000 `exports.NAME = code` and
// `exports[code] = 'NAME'` statements, ~145 KiB), evaluated on first use instead of when mysql2
// is loaded: mysql2 reads it only to name a server error (`err.code`) and to classify a
// read-only error in its pool, i.e. when an error happens. Evaluating it took ~7 ms of every cold
// start of a MySQL function (BENCHMARKS.md, section bundles). The table is mysql2's own:
// `./errors-table.js` is written from mysql2's errors.js, as JSON, when the bundles' mysql2 is
// prepared (leanMysql2 in lib/constructs/cutover-function.ts), and this file takes its place.
let table;
const load = () => {
  table ??= require('./errors-table.js');
  return table;
};
module.exports = new Proxy(
  {},
  {
    get: (_, key) => load()[key],
    has: (_, key) => key in load(),
    ownKeys: () => Reflect.ownKeys(load()),
    getOwnPropertyDescriptor: (_, key) => Reflect.getOwnPropertyDescriptor(load(), key),
  },
);
