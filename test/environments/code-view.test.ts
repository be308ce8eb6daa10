import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CodeView, entrypoint, type EntrypointRules } from '../../src/environments/code-view.js';

/**
 * The server's look at a function's unpacked code and layers: symlinks followed only while they
 * stay in them, as the environment (/var/task, /opt) would resolve them; anything else is
 * `outside`, whatever the host has at that path.
 */
describe('CodeView: resolving a function\'s paths without following its links on the host', () => {
  let tmp: string;
  let code: string;
  let layers: string;
  /** Host files the links point at: they exist, and must still be `outside`. */
  let hostDir: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-view-'));
    code = path.join(tmp, 'code', 'abc');
    layers = path.join(tmp, 'code', 'layers-1');
    hostDir = path.join(tmp, 'host');
    for (const d of [code, layers, hostDir, path.join(code, 'sub'), path.join(tmp, 'code', 'other')]) fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(hostDir, 'secret'), 'host', { mode: 0o755 });
    fs.writeFileSync(path.join(tmp, 'code', 'other', 'secret'), 'another function', { mode: 0o755 });
    fs.writeFileSync(path.join(layers, 'bootstrap'), '#!/bin/sh\n', { mode: 0o755 });
    fs.writeFileSync(path.join(layers, 'plain'), 'not executable', { mode: 0o644 });
    fs.writeFileSync(path.join(code, 'c'), '#!/bin/sh\n', { mode: 0o755 });
    fs.writeFileSync(path.join(code, 'sub', 'x'), 'x');
    const link = (target: string, at: string) => fs.symlinkSync(target, path.join(code, at));
    link('/opt/bootstrap', 'bootstrap');
    link('b', 'a');
    link('/var/task/c', 'b');
    link('loop2', 'loop1');
    link('loop1', 'loop2');
    link(hostDir, 'out');
    link(`${hostDir}/secret`, 'secret');
    link('../../..' + hostDir + '/secret', 'climb-host');
    link('/opt/nope', 'dangling');
    link('../task/c', 'updown');
    link('../../opt/bootstrap', 'climb-opt');
    link('sub', 'sublink');
    link('../other/secret', 'sibling');
    link('/opt/plain', 'plain');
    fs.symlinkSync(hostDir, path.join(layers, 'extensions'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('as the namespace sandbox presents them (/var/task, /opt)', () => {
    const view = new CodeView({ codeDir: code, layersDir: layers, taskRoot: '/var/task', optRoot: '/opt' });
    const found = (p: string) => {
      const f = view.find(p);
      return f.kind === 'found' ? { kind: f.kind, host: path.relative(tmp, f.host), viaLink: f.viaLink } : f;
    };
    assert.deepEqual(found('/var/task/bootstrap'), { kind: 'found', host: 'code/layers-1/bootstrap', viaLink: true });
    assert.deepEqual(found('/var/task/a'), { kind: 'found', host: 'code/abc/c', viaLink: true });
    assert.deepEqual(found('/var/task/c'), { kind: 'found', host: 'code/abc/c', viaLink: false });
    assert.deepEqual(found('/var/task/updown'), { kind: 'found', host: 'code/abc/c', viaLink: true });
    assert.deepEqual(found('/var/task/climb-opt'), { kind: 'found', host: 'code/layers-1/bootstrap', viaLink: true });
    assert.deepEqual(found('/var/task/sublink/x'), { kind: 'found', host: 'code/abc/sub/x', viaLink: true });
    assert.deepEqual(found('/var/task/sub/../c'), { kind: 'found', host: 'code/abc/c', viaLink: false });
    assert.deepEqual(found('/var/task/loop1'), { kind: 'missing' });
    assert.deepEqual(found('/var/task/dangling'), { kind: 'missing' });
    assert.deepEqual(found('/var/task/c/x'), { kind: 'missing' });
    // Out of the code and layers: never looked at, though the host has these.
    assert.deepEqual(found('/var/task/out/secret'), { kind: 'outside', path: `${hostDir}/secret`, link: { at: '/var/task/out', target: hostDir } });
    assert.deepEqual(found('/var/task/secret'), { kind: 'outside', path: `${hostDir}/secret`, link: { at: '/var/task/secret', target: `${hostDir}/secret` } });
    assert.equal(found('/var/task/climb-host').kind, 'outside');
    assert.equal(found('/var/task/sibling').kind, 'outside');
    assert.equal(found('/var/task/..').kind, 'outside');
    assert.deepEqual(found(`${code}/c`), { kind: 'outside', path: `${code}/c`, link: null });
    assert.deepEqual(view.list('/opt/extensions'), [], 'a link to a host directory is not listed');
    assert.deepEqual(view.list('/var/task/sublink').map((e) => e.name), ['x']);
  });

  it('as the process sandbox presents them (their own paths), with Lambda\'s names for what links name', () => {
    const view = new CodeView({ codeDir: code, layersDir: layers, taskRoot: code, optRoot: layers });
    const boot = view.find(`${code}/bootstrap`);
    assert.ok(boot.kind === 'found');
    assert.equal(view.presented(boot.host), `${layers}/bootstrap`);
    assert.equal(view.presented(`${code}/sub/x`), `${code}/sub/x`);
    // ../other is another function's code beside this one: outside.
    assert.equal(view.find(`${code}/sibling`).kind, 'outside');
    assert.equal(view.find(`${code}/climb-host`).kind, 'outside');
    // Without Lambda's names, /opt is the host's: outside.
    const plain = new CodeView({ codeDir: code, layersDir: layers, taskRoot: code, optRoot: layers, lambdaNames: false });
    assert.deepEqual(plain.find(`${code}/bootstrap`), { kind: 'outside', path: '/opt/bootstrap', link: { at: `${code}/bootstrap`, target: '/opt/bootstrap' } });
  });

  it('entrypoint: what is started, and why not', () => {
    const ns: EntrypointRules = { lambdaLayout: true, isolated: true, asOther: true };
    const proc: EntrypointRules = { lambdaLayout: false, isolated: false, asOther: false };
    const nsView = new CodeView({ codeDir: code, layersDir: layers, taskRoot: '/var/task', optRoot: '/opt' });
    const procView = new CodeView({ codeDir: code, layersDir: layers, taskRoot: code, optRoot: layers });
    const missing = 'missing';
    // Through a link into the layers: started as Lambda starts it, or where the file is.
    assert.deepEqual(entrypoint(nsView, '/var/task/bootstrap', '/var/task/bootstrap', missing, ns), { launch: '/var/task/bootstrap', problem: null });
    assert.deepEqual(entrypoint(procView, '/var/task/bootstrap', `${code}/bootstrap`, missing, proc), { launch: `${layers}/bootstrap`, problem: null });
    // To a host file: the sandbox's exec finds out; the process sandbox's is the host's: refused.
    assert.deepEqual(entrypoint(nsView, '/var/task/secret', '/var/task/secret', missing, ns), { launch: '/var/task/secret', problem: null });
    const refused = entrypoint(procView, '/var/task/secret', `${code}/secret`, missing, proc);
    assert.match(refused.problem ?? '', new RegExp(`^fork/exec ${code}/secret: symlink /var/task/secret -> ${hostDir}/secret leads out of the function's code and layers`));
    // Checked as before where it is in the code or layers.
    assert.deepEqual(entrypoint(nsView, '/var/task/plain', '/var/task/plain', missing, ns), { launch: '/var/task/plain', problem: 'fork/exec /var/task/plain: permission denied' });
    assert.deepEqual(entrypoint(nsView, '/var/task/dangling', '/var/task/dangling', missing, ns).problem, missing);
    assert.deepEqual(entrypoint(nsView, '/var/task/loop1', '/var/task/loop1', missing, ns).problem, missing);
    assert.deepEqual(entrypoint(nsView, '/var/task/sub', '/var/task/sub', missing, ns).problem, 'fork/exec /var/task/sub: permission denied');
  });
});
