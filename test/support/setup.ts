// The tests run on the functions' own Node major (nodejs24.x): npm scripts and npx put
// node_modules/.bin first on PATH, where the `node@24` devDependency installs its binary.
// aws-local-stepfunctions also needs Promise.withResolvers (Node ≥ 22).
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  throw new Error(
    `tests run on Node ${process.versions.node}; they need the project's Node 24 ` +
      '(run `npm ci` to install the node@24 devDependency, then run them through `npm test` or `npx vitest`, which use node_modules/.bin/node)',
  );
}

// The functions read their spec from their bundle (esbuild `define`); run from source, they find
// the bundled migrations here, by name (lambdas/handlers/bundled-spec.ts).
import { registerSpecs } from '../../lambdas/handlers/bundled-spec.js';
import { migrations } from '../../migrations/index.js';

registerSpecs(migrations);
