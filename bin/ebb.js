#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's CommonJS hook, so `npx ebb` needs no build step.
'use strict';
require('tsx/cjs');
const { main } = require('../cli/main.ts');
main(process.argv).then(
  (code) => process.exit(code),
  () => process.exit(70),
);
