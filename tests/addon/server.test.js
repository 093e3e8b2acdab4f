// Server.js: the only caller of the billsync API, run with Apps Script's globals faked.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { response, fakeGlobals, load, plain } = require('./apps_script.js');

const ID_TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl';
const DO_TOKEN = 'dop_v1_' + 'ab12'.repeat(16);

const CONNECTION = {
  id: 'c_1', spreadsheet_id: 'sheet-1', name: 'Acme', provider: 'digitalocean',
  account: 'Acme Team', fingerprint: 'dop_v1_…ab12', include_preview: false,
  drive_folder_id: null, schedule: { frequency: 'off', hour: 6, time_zone: 'Europe/Berlin' },
  last_run: null,
};

function server(answer, options = {}) {
  const fake = fakeGlobals({ answer, identityToken: ID_TOKEN, ...options });
  return { ...fake, context: load(['Server.js'], fake.globals) };
}

function error(code, message, retryable = false) {
  return { error: { code, message, retryable } };
}

test('every call carries the ID token, JSON and muteHttpExceptions, to the configured URL', () => {
  const { context, requests } = server(() => response(201, { connection: CONNECTION }));
  const made = context.addConnection({ provider: 'digitalocean', name: ' Acme ', token: ` ${DO_TOKEN} ` });
  assert.deepEqual(plain(made), CONNECTION);
  assert.equal(requests.length, 1);
  const [request] = requests;
  assert.equal(request.url, 'https://billsync.example.test/v1/spreadsheets/sheet-1/connections');
  assert.equal(request.method, 'post');
  assert.equal(request.muteHttpExceptions, true);
  assert.equal(request.headers.Authorization, `Bearer ${ID_TOKEN}`);
  assert.equal(request.contentType, 'application/json');
  assert.deepEqual(request.body, { provider: 'digitalocean', name: 'Acme', token: DO_TOKEN });
});

test('the spreadsheet id and the connection id are URL-encoded into the path', () => {
  const { context, requests } = server(() => response(202, { run: { id: 'r/1', status: 'queued' } }), {
    spreadsheet: { id: 'a b/c' },
  });
  context.syncNow('c/1?x', true);
  assert.equal(requests[0].url, 'https://billsync.example.test/v1/connections/c%2F1%3Fx/sync');
  assert.deepEqual(requests[0].body, { full: true });
  assert.throws(() => context.listConnections(), /does not understand/); // the answer has no connections
  assert.equal(requests[1].url, 'https://billsync.example.test/v1/spreadsheets/a%20b%2Fc/connections');
});

test('a trailing slash on the service URL property does not double the slash', () => {
  const { context, requests } = server(() => response(200, { run: { id: 'r1' } }), {
    properties: { BILLSYNC_API_URL: 'https://billsync.example.test///' },
  });
  context.getRun('r1');
  assert.equal(requests[0].url, 'https://billsync.example.test/v1/runs/r1');
  assert.equal(requests[0].method, 'get');
  assert.equal(requests[0].payload, undefined);
});

test("the service's error shape becomes an Error with its message", () => {
  const message = 'DigitalOcean rejected the token. Create a new read-only token and try again.';
  const { context } = server(() => response(422, error('provider_auth', message)));
  assert.throws(
    () => context.addConnection({ provider: 'digitalocean', name: 'Acme', token: DO_TOKEN }),
    (thrown) => thrown.message === message
  );
});

// Status -> the sentence a person reads when the body is not the service's error shape.
const FALLBACKS = [
  [401, '', /sign-in could not be checked/],
  [403, 'Forbidden', /cannot use billsync in this spreadsheet/],
  [404, '<html>Not Found</html>', /no longer exists/],
  [409, '{"error": "not our shape"}', /conflicts/],
  [429, '', /busy/],
  [500, 'Traceback (most recent call last): KeyError', /problem on its side/],
  [502, '<html><body>502 Bad Gateway</body></html>', /problem on its side/],
  [400, '{}', /could not do that/],
];
for (const [status, body, expected] of FALLBACKS) {
  test(`HTTP ${status} with a body that is not ours becomes a readable sentence`, () => {
    const { context } = server(() => response(status, body));
    assert.throws(() => context.getMe(), (thrown) => {
      assert.match(thrown.message, expected);
      assert.doesNotMatch(thrown.message, /HTTP|<html|Traceback|\b\d{3}\b/);
      return true;
    });
  });
}

test('no token appears in any message, even when an answer echoes one', () => {
  const echoes = [
    response(422, error('provider_auth', `Token ${DO_TOKEN} was rejected.`)),
    response(401, error('unauthenticated', `Bad token ${ID_TOKEN}`)),
    response(500, `${ID_TOKEN} ${DO_TOKEN}`),
  ];
  for (const echo of echoes) {
    const { context } = server(() => echo);
    assert.throws(
      () => context.addConnection({ provider: 'digitalocean', name: 'Acme', token: DO_TOKEN }),
      (thrown) => !thrown.message.includes(DO_TOKEN) && !thrown.message.includes(ID_TOKEN)
    );
  }
});

test('an unreachable service becomes one sentence without the URL or the exception text', () => {
  const { context } = server((request) => {
    throw new Error(`Exception: DNS error: ${request.url} Authorization: Bearer ${ID_TOKEN}`);
  });
  assert.throws(() => context.getMe(), (thrown) => {
    assert.equal(thrown.message, 'billsync could not be reached. Check your connection and try again.');
    return true;
  });
});

test('a missing service URL property is named, and nothing is fetched', () => {
  const { context, requests } = server(() => response(200, {}), {
    properties: { BILLSYNC_API_URL: null },
  });
  assert.throws(() => context.getMe(), /script property BILLSYNC_API_URL is missing/);
  assert.equal(requests.length, 0);
});

test('a long service message is cut to a readable length', () => {
  const { context } = server(() => response(400, error('invalid_request', 'x'.repeat(1000))));
  assert.throws(() => context.getMe(), (thrown) => thrown.message.length <= 300);
});

test('add-provider input is checked before any request', () => {
  const { context, requests } = server(() => response(201, { connection: CONNECTION }));
  assert.throws(() => context.addConnection({ provider: 'aws', name: 'A', token: 't' }), /DigitalOcean or DoiT/);
  assert.throws(() => context.addConnection({ provider: 'doit', name: '  ', token: 't' }), /name/);
  assert.throws(() => context.addConnection({ provider: 'doit', name: 'D', token: ' ' }), /token/);
  assert.equal(requests.length, 0);
  context.addConnection({ provider: 'doit', name: 'D', token: 'k', tenant: ' t1 ' });
  assert.deepEqual(requests[0].body, { provider: 'doit', name: 'D', token: 'k', tenant: 't1' });
});

test('a schedule is sent with only the fields its frequency uses', () => {
  const { context, requests } = server(() => response(200, { connection: CONNECTION }));
  context.updateConnection('c_1', { schedule: { frequency: 'weekly', hour: '7', weekday: '2', day: 9, time_zone: 'UTC' } });
  context.updateConnection('c_1', { schedule: { frequency: 'monthly', hour: 0, weekday: 2, day: '28', time_zone: 'UTC' } });
  context.updateConnection('c_1', { name: ' New ', include_preview: 1 });
  const path = (r) => r.url.replace('https://billsync.example.test', '');
  assert.deepEqual(requests.map((r) => [r.method, path(r), r.body]), [
    ['patch', '/v1/connections/c_1', { schedule: { frequency: 'weekly', hour: 7, weekday: 2, time_zone: 'UTC' } }],
    ['patch', '/v1/connections/c_1', { schedule: { frequency: 'monthly', hour: 0, day: 28, time_zone: 'UTC' } }],
    ['patch', '/v1/connections/c_1', { name: 'New', include_preview: true }],
  ]);
  assert.throws(() => context.updateConnection('c_1', { schedule: { frequency: 'hourly' } }), /how often/);
});

test('disconnect is a DELETE answered 204, and runs are listed with a bounded limit', () => {
  const { context, requests } = server((request) =>
    request.method === 'delete' ? response(204, '') : response(200, { runs: [] })
  );
  assert.equal(context.removeConnection('c_1'), true);
  context.listRuns('c_1', 500);
  context.listRuns('c_1');
  assert.deepEqual(requests.map((r) => [r.method, r.url.replace('https://billsync.example.test', '')]), [
    ['delete', '/v1/connections/c_1'],
    ['get', '/v1/connections/c_1/runs?limit=50'],
    ['get', '/v1/connections/c_1/runs?limit=5'],
  ]);
});

test('before Google consent the sidebar state has no connections to show', () => {
  const { context, requests } = server((request) =>
    request.url.endsWith('/v1/me')
      ? response(200, { email: 'b@example.com', google: { connected: false } })
      : response(409, error('google_not_connected', 'Connect your Google account first.'))
  );
  assert.deepEqual(plain(context.getSidebarState()), {
    email: 'b@example.com',
    google: { connected: false },
    timeZone: 'Europe/Berlin',
    spreadsheetUrl: 'https://docs.google.com/spreadsheets/d/sheet-1/edit',
    connections: null,
  });
  assert.equal(requests.length, 2);
});

test('before consent, a failure other than google_not_connected is shown, not hidden', () => {
  const { context } = server((request) =>
    request.url.endsWith('/v1/me')
      ? response(200, { email: 'b@example.com', google: { connected: false } })
      : response(503, error('unavailable', 'billsync is starting; try again in a minute.', true))
  );
  assert.throws(() => context.getSidebarState(), /starting; try again/);
});

test('a spreadsheet the service writes without Google (the local workbook) lists its connections', () => {
  const { context } = server((request) =>
    request.url.endsWith('/v1/me')
      ? response(200, { email: 'local', google: { connected: false } })
      : response(200, { connections: [CONNECTION] })
  );
  assert.deepEqual(plain(context.getSidebarState().connections), [CONNECTION]);
});

test('after consent a failing connection list is an error, not a consent prompt', () => {
  const { context } = server((request) =>
    request.url.endsWith('/v1/me')
      ? response(200, { email: 'b@example.com', google: { connected: true } })
      : response(403, error('forbidden', 'Your Google account cannot open this spreadsheet.'))
  );
  assert.throws(() => context.getSidebarState(), /cannot open this spreadsheet/);
});

test('after consent the sidebar state holds the connections of this spreadsheet', () => {
  const { context, requests } = server((request) =>
    request.url.endsWith('/v1/me')
      ? response(200, { email: 'b@example.com', google: { connected: true } })
      : response(200, { connections: [CONNECTION] })
  );
  assert.deepEqual(plain(context.getSidebarState().connections), [CONNECTION]);
  assert.deepEqual(requests.map((r) => r.url.replace('https://billsync.example.test', '')), [
    '/v1/me',
    '/v1/spreadsheets/sheet-1/connections',
  ]);
});

test('Google consent starts with a POST and returns only the URL', () => {
  const url = 'https://accounts.google.com/o/oauth2/auth?state=s';
  const { context, requests } = server(() => response(200, { url }));
  assert.equal(context.startGoogleConnect(), url);
  assert.equal(requests[0].method, 'post');
});

const CLI_SENTENCE =
  'DigitalOcean rejected the token. DigitalOcean said: Unable to authenticate you. (request id r-1) ' +
  'Create a new read-only token (scope billing:read) and run `billsync connect digitalocean` again.';

test('advice meant for the command line becomes what to do in the sidebar', () => {
  const failed = { id: 'r1', status: 'failed', message: CLI_SENTENCE, counts: {} };
  const { context } = server((request) =>
    request.url.endsWith('/sync')
      ? response(202, { run: { ...failed } })
      : request.url.includes('/runs?')
        ? response(200, { runs: [{ ...failed }] })
        : request.url.includes('/connections') && request.method === 'get'
          ? response(200, { connections: [{ ...CONNECTION, last_run: { ...failed } }] })
          : response(200, { run: { ...failed } })
  );
  const expected =
    'DigitalOcean rejected the token. DigitalOcean said: Unable to authenticate you. (request id r-1) ' +
    'Create a new read-only token (scope billing:read), then disconnect this provider and add it again with the new token.';
  assert.equal(context.getRun('r1').message, expected);
  assert.equal(context.syncNow('c_1').message, expected);
  assert.equal(context.listRuns('c_1')[0].message, expected);
  assert.equal(context.listConnections()[0].last_run.message, expected);
});

test('a rejected token while adding says to paste a new one here', () => {
  const { context } = server(() => response(422, error('provider_auth', CLI_SENTENCE)));
  assert.throws(
    () => context.addConnection({ provider: 'digitalocean', name: 'Acme', token: DO_TOKEN }),
    (thrown) => {
      assert.match(thrown.message, /Create a new read-only token \(scope billing:read\) and paste it here\.$/);
      assert.doesNotMatch(thrown.message, /`|billsync connect/);
      return true;
    }
  );
});

test('Google advice and any other CLI command are reworded or dropped', () => {
  const { context } = server(() =>
    response(200, {
      run: {
        id: 'r1', status: 'failed', counts: {},
        message: 'Google access was revoked or expired: run `billsync google login` again. Try `billsync runs` for details.',
      },
    })
  );
  assert.equal(
    context.getRun('r1').message,
    'Google access was revoked or expired, then reconnect your Google account from this sidebar.'
  );
});

const EXPORT = {
  format: 'xero', period: '2026-10', date_format: 'dmy', bills: 2,
  files: [{ name: '2026-10 xero.csv', url: 'https://drive.google.com/file/d/f1/view', bills: 2,
            lines: 37, totals: { USD: '412.50' } }],
  notes: [], message: 'Xero bills for 2026-10: 2 bills in https://drive.google.com/file/d/f1/view.',
};

test('an export is one POST of format, month and date format; its Export comes back', () => {
  const { context, requests } = server(() => response(200, { export: EXPORT }));
  const made = context.exportBills('c/1', { format: 'qbo', period: ' 2026-10 ', date_format: 'iso' });
  assert.deepEqual(plain(made), EXPORT);
  context.exportBills('c_1', { format: 'xero', period: '2026-01', date_format: '' });
  context.exportBills('c_1', { format: 'xero', period: '2026-01', scope: 'ledger' });
  assert.deepEqual(requests.map((r) => [r.method, r.url.replace('https://billsync.example.test', ''), r.body]), [
    ['post', '/v1/connections/c%2F1/exports', { format: 'qbo', period: '2026-10', date_format: 'iso' }],
    ['post', '/v1/connections/c_1/exports', { format: 'xero', period: '2026-01' }],
    ['post', '/v1/connections/c_1/exports', { format: 'xero', period: '2026-01', scope: 'ledger' }],
  ]);
});

test('export input is checked before any request, in words a person can act on', () => {
  const { context, requests } = server(() => response(200, { export: EXPORT }));
  assert.throws(() => context.exportBills('c_1', { format: 'sage', period: '2026-01' }), /Xero or QuickBooks Online/);
  for (const period of ['2026-13', '2026-1', 'Jan 2026', '', undefined]) {
    assert.throws(() => context.exportBills('c_1', { format: 'xero', period }), /as YYYY-MM, for example/);
  }
  assert.throws(() => context.exportBills('c_1', { format: 'xero', period: '2026-01', date_format: 'ymd' }), /date format/);
  assert.throws(() => context.exportBills('c_1', { format: 'xero', period: '2026-01', scope: 'all' }), /whole ledger/);
  assert.throws(() => context.exportBills('', { format: 'xero', period: '2026-01' }), /no longer exists/);
  assert.equal(requests.length, 0);
});

test('an export refused while a sync runs says so, and a month without invoices is no error', () => {
  const busy = 'A sync for connection \'Acme\' is already running (run r1). Wait for it to finish, then try again.';
  const { context } = server(() => response(409, error('run_in_progress', busy, true)));
  assert.throws(() => context.exportBills('c_1', { format: 'xero', period: '2026-10' }), (thrown) => thrown.message === busy);
  const empty = { ...EXPORT, bills: 0, files: [], message: 'No Xero bills for 1999-01: the ledger has no invoice of that month; nothing was exported.' };
  const quiet = server(() => response(200, { export: empty }));
  assert.deepEqual(plain(quiet.context.exportBills('c_1', { format: 'xero', period: '1999-01' })), empty);
});
