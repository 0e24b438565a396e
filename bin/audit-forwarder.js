#!/usr/bin/env node
// Entry point of the installed command: runs the compiled CLI (built by `npm run build` / `prepare`).
import '../dist/src/cli/main.js';
