#!/usr/bin/env node
// Entry point of the installed command: checks the Node.js version, then runs the compiled CLI in dist/ (built
// by `npm run build`, which `npm pack` runs through `prepack`). Written to parse on any Node.js that runs ES
// modules (no newer syntax, the CLI loaded with a dynamic import after the checks), so an old runtime gets a
// message and exit code 2 instead of a SyntaxError.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// The minimum is the package's own `engines.node` (">=22", or ">=22.19.0"), 22 when that cannot be read.
var minimum = '22';
try {
  var engines = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).engines;
  var declared = /^>=\s*(\d+(?:\.\d+){0,2})$/.exec(String(engines && engines.node).trim());
  if (declared) minimum = declared[1];
} catch (error) {
  // Keep the default: the check below must run whatever happened to package.json.
}

/** Whether dotted version `a` is at least `b` ("22.3.0" against "22"). */
function atLeast(a, b) {
  var x = a.split('.');
  var y = b.split('.');
  for (var i = 0; i < y.length; i++) {
    var p = parseInt(x[i] || '0', 10);
    var q = parseInt(y[i], 10);
    if (p !== q) return p > q;
  }
  return true;
}

var found = process.versions.node;
if (!atLeast(found, minimum)) {
  process.stderr.write('audit-forwarder: needs Node.js \u2265 ' + minimum + ' (found ' + found + ')\n');
  process.exit(2);
}

var cli = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write(
    'audit-forwarder: the compiled command is missing (' + fileURLToPath(cli) + '): this is a source checkout ' +
      'that was not built: run `npm run build` in it (or `npm run audit-forwarder -- <args>` to run the sources).\n',
  );
  process.exit(2);
}

import(cli.href).catch(function (error) {
  process.stderr.write('audit-forwarder: could not load the command: ' + ((error && error.stack) || String(error)) + '\n');
  process.exit(1);
});
