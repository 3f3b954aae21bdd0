// The npm package: `npm pack` makes a tarball a project installs and imports by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const CLIENT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

function run(command, args, cwd) {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, timeout: 120000 }, (failure, stdout, stderr) =>
      failure ? reject(new Error(stdout + stderr || failure.message)) : resolve(stdout));
  });
}

test('npm pack makes a package that installs and imports by its name, with its types', async () => {
  const work = await mkdtemp(path.join(tmpdir(), 'fluxgate-pack-'));
  const [packed] = JSON.parse(await run('npm', ['pack', '--json', '--pack-destination', work], CLIENT));
  assert.deepEqual(packed.files.map((file) => file.path).sort(), ['README.md', 'fluxgate.d.ts', 'fluxgate.js', 'package.json']);
  const app = path.join(work, 'app');
  await run('mkdir', ['-p', app], work);
  await writeFile(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', path.join(work, packed.filename)], app);
  assert.ok((await readdir(path.join(app, 'node_modules', '@fluxgate', 'client'))).includes('fluxgate.d.ts'));
  await writeFile(path.join(app, 'check.mjs'), `
    import { createClient, FluxgateError } from '@fluxgate/client';
    const client = createClient({ url: 'http://127.0.0.1:9', token: 't', WebSocket: class {} });
    if (client.status !== 'closed' || typeof FluxgateError !== 'function') process.exit(1);
    console.log('imported');`);
  assert.equal((await run('node', ['check.mjs'], app)).trim(), 'imported');
});

test('the type declarations compile against what an application writes (tsc --strict)', async () => {
  await run(path.join(CLIENT, 'node_modules', '.bin', 'tsc'), ['-p', path.join('test', 'types', 'tsconfig.json')], CLIENT);
});
