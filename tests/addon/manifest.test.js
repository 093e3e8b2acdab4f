// The add-on's manifest, menu and file set: narrow scopes, nothing before authorization.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { ADDON, read, fakeGlobals, load } = require('./apps_script.js');

test('appsscript.json asks for the narrowest scopes that work, on V8, with a fetch allowlist', () => {
  const manifest = JSON.parse(read('appsscript.json'));
  assert.equal(manifest.runtimeVersion, 'V8');
  assert.equal(manifest.exceptionLogging, 'STACKDRIVER');
  assert.deepEqual([...manifest.oauthScopes].sort(), [
    'https://www.googleapis.com/auth/script.container.ui',
    'https://www.googleapis.com/auth/script.external_request',
    'https://www.googleapis.com/auth/spreadsheets.currentonly',
    'https://www.googleapis.com/auth/userinfo.email',
    'openid',
  ]);
  assert.ok(manifest.urlFetchWhitelist.length >= 1);
  for (const prefix of manifest.urlFetchWhitelist) assert.match(prefix, /^https:\/\/[^/]+\/$/);
});

test('onOpen and onInstall only build the add-on menu', () => {
  for (const hook of ['onOpen', 'onInstall']) {
    const touched = [];
    const { globals, calls } = fakeGlobals({ answer: () => { throw new Error('no fetch before authorization'); } });
    const guarded = Object.fromEntries(Object.entries(globals).map(([name, value]) => [
      name, name === 'SpreadsheetApp' ? value : new Proxy(value, { get(t, k) { touched.push(name); return t[k]; } }),
    ]));
    const context = load(['Menu.js', 'Server.js'], guarded);
    context[hook]({ authMode: 'NONE' });
    assert.deepEqual(calls, [['createAddonMenu'], ['addItem', 'Open billsync', 'showSidebar'], ['addToUi']]);
    assert.deepEqual(touched, [], `${hook} used ${touched}`);
  }
});

test('the menu item opens Sidebar.html as a template titled billsync; include() reads a file', () => {
  const { globals, calls } = fakeGlobals({ answer: () => { throw new Error('unused'); } });
  const context = load(['Menu.js'], globals);
  context.showSidebar();
  assert.deepEqual(calls.map((c) => c.slice(0, 2)), [
    ['createTemplateFromFile', 'Sidebar'], ['setTitle', 'billsync'], ['showSidebar', calls[2][1]],
  ]);
  assert.match(context.include('SidebarStyle'), /^<style>/);
});

test('Sidebar.html includes only files that exist, and .claspignore pushes exactly the add-on', () => {
  const html = read('Sidebar.html');
  const included = [...html.matchAll(/<\?!=\s*include\('(\w+)'\);?\s*\?>/g)].map((m) => m[1]);
  assert.deepEqual(included, ['SidebarStyle', 'SidebarScript']);
  assert.equal((html.match(/<\?/g) || []).length, included.length, 'no other scriptlet');
  const pushed = read('.claspignore').split('\n').filter((l) => l.startsWith('!')).map((l) => l.slice(1)).sort();
  const files = fs.readdirSync(ADDON).filter((f) => !f.startsWith('.')).sort();
  assert.deepEqual(pushed, files);
  assert.ok(fs.existsSync(path.join(ADDON, '.clasp.json.example')));
});

test('only Server.js calls UrlFetchApp or asks for the identity token', () => {
  for (const file of fs.readdirSync(ADDON).filter((f) => /\.(js|html)$/.test(f))) {
    const text = read(file);
    const calls = /UrlFetchApp|getIdentityToken/.test(text);
    assert.equal(calls, file === 'Server.js', file);
  }
});
