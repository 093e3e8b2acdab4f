/*
 * A worker that plays the Apps Script server for the local preview: it defines the globals
 * Server.js uses (UrlFetchApp, ScriptApp, PropertiesService, SpreadsheetApp) over synchronous
 * XMLHttpRequest — allowed in workers, and as blocking as UrlFetchApp.fetch — then loads the
 * add-on's own Server.js unchanged and answers the page's google.script.run calls.
 */
'use strict';
var host = null;

self.UrlFetchApp = {
  fetch: function (url, options) {
    var xhr = new XMLHttpRequest();
    xhr.open(String(options.method || 'get').toUpperCase(), url, false);
    var headers = options.headers || {};
    Object.keys(headers).forEach(function (name) { xhr.setRequestHeader(name, headers[name]); });
    if (options.contentType) xhr.setRequestHeader('Content-Type', options.contentType);
    xhr.send(options.payload === undefined ? null : options.payload); // throws when unreachable
    return {
      getResponseCode: function () { return xhr.status; },
      getContentText: function () { return xhr.responseText; },
      getHeaders: function () { return {}; },
    };
  },
};
self.ScriptApp = { getIdentityToken: function () { return host.key; } };
self.PropertiesService = {
  getScriptProperties: function () {
    return {
      getProperty: function (name) { return name === 'BILLSYNC_API_URL' ? host.serviceUrl : null; },
    };
  },
};
self.SpreadsheetApp = {
  getActiveSpreadsheet: function () {
    return {
      getId: function () { return 'local'; }, // the embedded workbook + folder of `billsync serve`
      getSpreadsheetTimeZone: function () { return host.timeZone; },
      getUrl: function () { return host.spreadsheetUrl; },
    };
  },
};

importScripts('Server.js');

self.onmessage = function (event) {
  var message = event.data;
  if (message.type === 'init') {
    host = message;
    return;
  }
  var fn = self[message.name];
  if (typeof fn !== 'function' || /_$/.test(message.name)) {
    self.postMessage({ id: message.id, ok: false, message: 'Unknown server function ' + message.name + '.' });
    return;
  }
  try {
    var value = fn.apply(null, message.args);
    self.postMessage({ id: message.id, ok: true, value: value === undefined ? null : JSON.parse(JSON.stringify(value)) });
  } catch (error) {
    self.postMessage({ id: message.id, ok: false, message: String((error && error.message) || error) });
  }
};
