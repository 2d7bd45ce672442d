// node:https without an ESM import, so without a module facade (NODE_BUILTINS_WITHOUT_FACADE in lib/constructs/cutover-function.ts).
module.exports = process.getBuiltinModule('node:https');
