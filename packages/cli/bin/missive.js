#!/usr/bin/env node
// The `missive` executable. This file is committed (not built), so npm links the bin when it installs
// the workspace, before `npm run build` has made dist/main.js; it then runs the built command.
try {
  await import('../dist/main.js');
} catch (error) {
  if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist/main.js')) {
    process.stderr.write('missive: the command is not built yet; run `npm run build` first\n');
    process.exitCode = 1;
  } else {
    throw error;
  }
}
