/*
 * The local preview's stand-in for google.script.run: the only difference between the preview
 * and the add-on inside Google Sheets. Calls go to a worker (runtime.js) that runs the very
 * same Server.js with Apps Script's globals played by the browser, against `billsync serve`.
 *
 * The key `billsync serve` printed arrives once as ?key=…; it is moved to this tab's
 * sessionStorage and taken out of the address bar (and so out of history and bookmarks).
 */
(function () {
  'use strict';
  var KEY = 'billsync.localKey';
  var params = new URLSearchParams(window.location.search);
  if (params.has('key')) {
    window.sessionStorage.setItem(KEY, params.get('key'));
    params.delete('key');
    var rest = params.toString();
    window.history.replaceState(null, '', window.location.pathname + (rest ? '?' + rest : '') + window.location.hash);
  }
  var key = window.sessionStorage.getItem(KEY);
  var worker = new Worker('runtime.js');
  var pending = {};
  var nextId = 1;
  worker.postMessage({
    type: 'init',
    key: key,
    serviceUrl: window.location.origin,
    timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC',
    spreadsheetUrl: window.location.origin + '/addon/',
  });
  worker.onmessage = function (event) {
    var answer = event.data;
    var call = pending[answer.id];
    delete pending[answer.id];
    if (!call) return;
    if (answer.ok) {
      if (call.success) call.success(answer.value, call.userObject);
    } else if (call.failure) {
      call.failure(new Error(answer.message), call.userObject);
    }
  };

  function runner(success, failure, userObject) {
    return new Proxy({}, {
      get: function (target, name) {
        if (name === 'withSuccessHandler') return function (f) { return runner(f, failure, userObject); };
        if (name === 'withFailureHandler') return function (f) { return runner(success, f, userObject); };
        if (name === 'withUserObject') return function (o) { return runner(success, failure, o); };
        return function () {
          var id = nextId++;
          pending[id] = { success: success, failure: failure, userObject: userObject };
          if (!key) {
            delete pending[id];
            var error = new Error('This preview needs its key: open the address that `billsync serve` printed.');
            window.setTimeout(function () { if (failure) failure(error, userObject); }, 0);
            return;
          }
          worker.postMessage({ type: 'call', id: id, name: String(name), args: Array.prototype.slice.call(arguments) });
        };
      },
    });
  }

  window.google = {
    script: {
      run: runner(null, null, undefined),
      host: { close: function () { window.close(); }, editor: { focus: function () {} } },
    },
  };
})();
