// Fakes of the Apps Script globals, and a loader that runs add-on files in one vm context
// per test (as Apps Script runs every .js file of a project in one global scope).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const ADDON = path.join(__dirname, '..', '..', 'sheets_addon');

function read(name) {
  return fs.readFileSync(path.join(ADDON, name), 'utf8');
}

/** The JavaScript of an Apps Script HTML file that holds one <script> element. */
function scriptOf(name) {
  const html = read(name);
  const match = /<script>([\s\S]*)<\/script>/.exec(html);
  if (!match) throw new Error(`${name} has no <script> element`);
  return match[1];
}

/** A response as UrlFetchApp.fetch returns it. */
function response(status, body) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return {
    getResponseCode: () => status,
    getContentText: () => text,
    getHeaders: () => ({}),
  };
}

/**
 * The globals Server.js and Menu.js use. `answer(request)` plays the service: it gets
 * {url, method, headers, payload, body} and returns response(...) or throws (unreachable).
 */
function fakeGlobals({ answer, properties, identityToken, spreadsheet } = {}) {
  const requests = [];
  const calls = [];
  const props = { BILLSYNC_API_URL: 'https://billsync.example.test', ...(properties || {}) };
  const sheet = {
    id: 'sheet-1',
    timeZone: 'Europe/Berlin',
    url: 'https://docs.google.com/spreadsheets/d/sheet-1/edit',
    ...(spreadsheet || {}),
  };
  const menu = {
    addItem(caption, fn) { calls.push(['addItem', caption, fn]); return menu; },
    addSeparator() { calls.push(['addSeparator']); return menu; },
    addToUi() { calls.push(['addToUi']); },
  };
  const globals = {
    UrlFetchApp: {
      fetch(url, options) {
        const request = { url, ...options };
        request.body = options.payload === undefined ? undefined : JSON.parse(options.payload);
        requests.push(request);
        return answer(request);
      },
    },
    ScriptApp: { getIdentityToken: () => identityToken || 'id-token-abc.def.ghi' },
    PropertiesService: {
      getScriptProperties: () => ({ getProperty: (name) => (name in props ? props[name] : null) }),
    },
    SpreadsheetApp: {
      getActiveSpreadsheet: () => ({
        getId: () => sheet.id,
        getSpreadsheetTimeZone: () => sheet.timeZone,
        getUrl: () => sheet.url,
      }),
      getUi: () => ({
        createAddonMenu() { calls.push(['createAddonMenu']); return menu; },
        showSidebar(output) { calls.push(['showSidebar', output]); },
      }),
    },
    HtmlService: {
      createTemplateFromFile(name) {
        calls.push(['createTemplateFromFile', name]);
        const output = {
          name,
          setTitle(title) { calls.push(['setTitle', title]); return output; },
        };
        return { evaluate: () => output };
      },
      createHtmlOutputFromFile(name) {
        calls.push(['createHtmlOutputFromFile', name]);
        return { getContent: () => read(`${name}.html`) };
      },
    },
  };
  return { globals, requests, calls };
}

/** Runs the named add-on files in a fresh context holding `globals`; returns the context. */
function load(files, globals) {
  const context = vm.createContext({ ...globals });
  for (const file of files) {
    const code = file.endsWith('.html') ? scriptOf(file) : read(file);
    vm.runInContext(code, context, { filename: file });
  }
  return context;
}

/** Values that came out of a vm context, made comparable with deepStrictEqual. */
function plain(value) {
  return JSON.parse(JSON.stringify(value));
}

module.exports = { ADDON, read, scriptOf, response, fakeGlobals, load, plain };
