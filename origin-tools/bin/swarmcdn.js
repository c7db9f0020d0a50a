#!/usr/bin/env node
// In the repository: runs the TypeScript CLI through tsx, so the repository needs no compile step.
// The published package runs dist/node/cli.js instead (scripts/build-package.ts).
import { register } from 'tsx/esm/api'

register()
await import('../src/cli.ts')
